"""Train and score one cell of the grid."""

import contextlib
import io
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

import spacy
from spacy.util import load_config, registry

from ..corpus import read_docbin
from ..errors import HybridNerError
from ..layers import LLM_KEY
from ..merge.calibration.mixing import CalibratedMixing
from ..training.readers import examples_from_docs
from .cells import Cell, needs_teacher, teacher_cell
from .conditions import (
    CALIBRATED_CORPUS,
    EVIDENCE_CORPORA,
    HUMAN_CORPUS,
    LAMBDA_CORPUS,
    SILENCE_CORPUS,
    SPANS_KEYS,
)
from .costs import Costs
from .data import GridData
from .result import CellResult


def train_overrides(
    cell: Cell,
    train: Path,
    dev: Path,
    steps: int,
    dev_limit: int = 0,
    calibration: Optional[Path] = None,
    teacher: Optional[Path] = None,
) -> Dict[str, object]:
    """A cell's ``spacy train`` overrides."""
    key = SPANS_KEYS.get(cell.spec.annotator, LLM_KEY)
    corpus = cell.spec.corpus
    extra: Dict[str, object] = {}
    if corpus in EVIDENCE_CORPORA:
        extra[f"{corpus}.mixing.calibration"] = str(calibration) if calibration else None
        extra[f"{corpus}.mixing.teacher"] = str(teacher) if teacher else None
    if corpus == CALIBRATED_CORPUS:
        extra[f"{CALIBRATED_CORPUS}.merger.llm_key"] = key
    return {
        **extra,
        "paths.train": str(train),
        "paths.dev": str(dev),
        "training.train_corpus": corpus,
        "corpora.hybrid_random.merger.llm_key": key,
        f"{LAMBDA_CORPUS}.merger.llm_key": key,
        "corpora.dev.limit": dev_limit,
        "system.seed": cell.seed,
        "training.max_epochs": 0,
        "training.max_steps": steps,
    }


def fitted_lambdas(config: Path, overrides: Dict[str, object]) -> Optional[Dict[str, float]]:
    """The λ per label the λ label-mixing reader of a run fits (deterministic)."""
    resolved = load_config(config, overrides=overrides, interpolate=True)
    block = resolved["corpora"][LAMBDA_CORPUS.split(".")[1]]
    reader = registry.resolve({"reader": block})["reader"]
    list(reader(spacy.blank("en")))
    return getattr(reader, "lambdas", None)


@dataclass(frozen=True)
class TrainSettings:
    """What the training of every cell shares (``overrides``: extra config overrides)."""

    dev: Path
    test: Path
    config: Path
    steps: int
    costs: Costs
    dev_limit: int = 0
    keep_models: bool = False
    overrides: Dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CellJob:
    """Everything one cell's training needs, prepared so it can run in another process."""

    cell: Cell
    settings: TrainSettings
    overrides: Dict[str, object]
    train_path: Path
    calibration: Optional[Path]
    teacher: Optional[Path]
    teacher_dir: Optional[Path]
    n_sentences: int
    model_dir: Path
    log_file: Path


def prepare_cell(cell: Cell, data: GridData, settings: TrainSettings) -> CellJob:
    """Write a cell's training data and collect its settings."""
    train_path = data.path(cell)
    calibration = teacher = None
    if cell.spec.corpus == SILENCE_CORPUS:
        calibration = data.dev  # complete gold: ω from its entity density
    elif cell.spec.corpus == CALIBRATED_CORPUS:
        calibration = data.calibration(cell)
    if needs_teacher(cell):
        teacher = data.teacher_dir(teacher_cell(cell))
        if not data.has_teacher(teacher_cell(cell)):
            raise HybridNerError(
                f"{cell.cell_id}: its teacher {teacher_cell(cell).cell_id} has no model "
                f"in {teacher}; train that cell first (run_grid does)"
            )
    own = train_overrides(
        cell, train_path, settings.dev, settings.steps, settings.dev_limit, calibration, teacher
    )
    # Every human-only model is the teacher of the calibrated cells of its setting.
    is_teacher = cell.spec.corpus == HUMAN_CORPUS and cell.spec.data != "unannotated"
    return CellJob(
        *(cell, settings, {**settings.overrides, **own}, train_path, calibration, teacher),
        data.teacher_dir(cell) if is_teacher else None,
        len(data.annotated(cell.seed)),
        data.work_dir / "models" / data.name / cell.cell_id,
        data.work_dir / "logs" / data.name / f"{cell.cell_id}.log",
    )


def train_cell(job: CellJob) -> CellResult:
    """Train and score one prepared cell (here or in a worker); a failure names its log."""
    from spacy.cli.train import train as spacy_train

    cell, config = job.cell, job.settings.config
    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            spacy_train(config, job.model_dir, overrides=job.overrides)
            failure = None
        except (Exception, SystemExit) as err:  # spaCy's CLI exits on config errors
            failure = err
    seconds = time.perf_counter() - start
    job.log_file.parent.mkdir(parents=True, exist_ok=True)
    job.log_file.write_text(buffer.getvalue(), encoding="utf8")
    if failure is not None:
        reason = (str(failure).strip().splitlines() or [""])[0][:200]
        raise HybridNerError(
            f"{cell.cell_id}: training with {config} failed "
            f"({type(failure).__name__}: {reason}); full log: {job.log_file}"
        )
    nlp = spacy.load(job.model_dir / "model-best")
    test_docs = read_docbin(job.settings.test, nlp.vocab)
    scores = nlp.evaluate(list(examples_from_docs(nlp, test_docs)))
    if job.teacher_dir is not None:
        shutil.rmtree(job.teacher_dir, ignore_errors=True)
        shutil.copytree(job.model_dir / "model-best", job.teacher_dir)
    if not job.settings.keep_models:
        shutil.rmtree(job.model_dir, ignore_errors=True)
    lambdas = fitted_lambdas(config, job.overrides) if cell.spec.corpus == LAMBDA_CORPUS else None
    calibration = None
    if cell.spec.corpus in EVIDENCE_CORPORA:
        # The reader's own estimate (deterministic), recomputed for the record.
        docs = read_docbin(job.train_path, spacy.blank("en").vocab)
        mixing = CalibratedMixing(job.calibration, annotator=cell.spec.corpus == CALIBRATED_CORPUS)
        fitted = mixing.fit(docs, SPANS_KEYS.get(cell.spec.annotator, LLM_KEY))
        teacher = teacher_cell(cell).cell_id if job.teacher is not None else None
        calibration = {**fitted.summary(), "teacher": teacher}
    return CellResult(
        *(cell.dataset, cell.condition, cell.spec.annotator, cell.omit_rate, cell.budget),
        cell.seed,
        *(scores[f"ents_{k}"] for k in "prf"),
        per_type=scores.get("ents_per_type") or {},
        cost=job.settings.costs.of(cell, job.n_sentences),
        lambdas=lambdas,
        train_sentences=job.n_sentences,
        train_seconds=round(seconds, 1),
        steps=job.settings.steps,
        config=str(config),
        calibration=calibration,
        omission_model=cell.omission_model,
        selection=cell.selection,
    )
