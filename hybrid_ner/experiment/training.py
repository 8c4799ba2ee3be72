"""Train and score one cell of the grid."""

import contextlib
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

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


@dataclass(frozen=True)
class Scores:
    """Entity scores of a model on the test set: overall and per label."""

    p: float
    r: float
    f: float
    per_type: Dict[str, Dict[str, float]]


def train_overrides(
    cell: Cell,
    train: Path,
    dev: Path,
    steps: int,
    dev_limit: int = 0,
    calibration: Optional[Path] = None,
    teacher: Optional[Path] = None,
) -> Dict[str, object]:
    """``spacy train`` overrides of a cell: the corpus, its proposals, the
    annotator's calibration sample and the seed."""
    key = SPANS_KEYS.get(cell.spec.annotator, LLM_KEY)
    extra: Dict[str, object] = {}
    corpus = cell.spec.corpus
    if corpus in EVIDENCE_CORPORA:
        extra = {
            f"{corpus}.mixing.calibration": str(calibration) if calibration else None,
            f"{corpus}.mixing.teacher": str(teacher) if teacher else None,
        }
    if corpus == CALIBRATED_CORPUS:
        extra[f"{CALIBRATED_CORPUS}.merger.llm_key"] = key
    return {
        **extra,
        "paths.train": str(train),
        "paths.dev": str(dev),
        "training.train_corpus": cell.spec.corpus,
        "corpora.hybrid_random.merger.llm_key": key,
        f"{LAMBDA_CORPUS}.merger.llm_key": key,
        "corpora.dev.limit": dev_limit,
        "system.seed": cell.seed,
        "training.max_epochs": 0,
        "training.max_steps": steps,
    }


def score_model(model_dir: Path, test_docs_path: Path) -> Scores:
    """Entity P/R/F1, overall and per label, on the test set's own tokens."""
    nlp = spacy.load(model_dir)
    docs = read_docbin(test_docs_path, nlp.vocab)
    scores = nlp.evaluate(list(examples_from_docs(nlp, docs)))
    per_type = scores.get("ents_per_type") or {}
    return Scores(scores["ents_p"], scores["ents_r"], scores["ents_f"], per_type)


def fitted_lambdas(config: Path, overrides: Dict[str, object]) -> Optional[Dict[str, float]]:
    """The λ per label the λ label-mixing reader of a training run fits: the
    reader of the same config and overrides, read once more (deterministic)."""
    resolved = load_config(config, overrides=overrides, interpolate=True)
    block = resolved["corpora"][LAMBDA_CORPUS.split(".")[1]]
    reader = registry.resolve({"reader": block})["reader"]
    list(reader(spacy.blank("en")))
    return getattr(reader, "lambdas", None)


def _train(config: Path, model_dir: Path, overrides: Dict[str, Any], log_file: Optional[Path]):
    from spacy.cli.train import train as spacy_train

    buffer = io.StringIO()
    start = time.perf_counter()
    failure: Optional[BaseException] = None
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            spacy_train(config, model_dir, overrides=overrides)
        except (Exception, SystemExit) as err:  # spaCy's CLI exits on config errors
            failure = err
    seconds = time.perf_counter() - start
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(buffer.getvalue(), encoding="utf8")
    return seconds, failure


@dataclass(frozen=True)
class CellJob:
    """Everything the training of one cell needs, prepared by the grid's own
    process (training files, calibration samples), so that the training can
    run in another process.

    cell (Cell): The cell.
    config (Path): The training config.
    model_dir (Path): Where ``spacy train`` writes the models.
    test (Path): The clean test DocBin.
    overrides (Dict[str, object]): All ``spacy train`` overrides of the cell.
    train_path (Path): The DocBin the cell trains on.
    calibration (Optional[Path]): The annotator's calibration sample.
    teacher (Optional[Path]): The cell's teacher model.
    teacher_dir (Optional[Path]): Where this cell's own model is kept as the
        teacher of other cells (human-only cells).
    n_sentences (int): Training sentences, for the costs.
    steps (int): Training steps.
    costs (Costs): Money per sentence.
    keep_model (bool): Keep the trained models.
    log_file (Optional[Path]): Where the training log goes.
    """

    cell: Cell
    config: Path
    model_dir: Path
    test: Path
    overrides: Dict[str, object]
    train_path: Path
    calibration: Optional[Path]
    teacher: Optional[Path]
    teacher_dir: Optional[Path]
    n_sentences: int
    steps: int
    costs: Costs
    keep_model: bool = False
    log_file: Optional[Path] = None


def prepare_cell(
    cell: Cell,
    data: GridData,
    dev: Path,
    test: Path,
    config: Path,
    steps: int,
    costs: Costs,
    model_dir: Path,
    dev_limit: int = 0,
    keep_model: bool = False,
    log_file: Optional[Path] = None,
    overrides: Optional[Dict[str, object]] = None,
) -> CellJob:
    """Write a cell's training data and collect its settings.

    RETURNS (CellJob): The job :func:`train_cell` runs.
    RAISES (HybridNerError): If the cell's teacher is missing.
    """
    train_path = data.path(cell)
    n_sentences = len(data.annotated(cell.seed))
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
    all_overrides = {
        **(overrides or {}),
        **train_overrides(cell, train_path, dev, steps, dev_limit, calibration, teacher),
    }
    # Every human-only model is the teacher of the calibrated cells of its setting.
    is_teacher = cell.spec.corpus == HUMAN_CORPUS and cell.spec.data != "unannotated"
    return CellJob(
        cell=cell,
        config=config,
        model_dir=model_dir,
        test=test,
        overrides=all_overrides,
        train_path=train_path,
        calibration=calibration,
        teacher=teacher,
        teacher_dir=data.teacher_dir(cell) if is_teacher else None,
        n_sentences=n_sentences,
        steps=steps,
        costs=costs,
        keep_model=keep_model,
        log_file=log_file,
    )


def train_cell(job: CellJob) -> CellResult:
    """Train and score one prepared cell (in this process or a worker).

    RETURNS (CellResult): The result, as written to the cell's file.
    RAISES (HybridNerError): If training fails.
    """
    cell, config, model_dir = job.cell, job.config, job.model_dir
    seconds, failure = _train(config, model_dir, job.overrides, job.log_file)
    if failure is not None:
        reason = (str(failure).strip().splitlines() or [""])[0][:200]
        where = f"full log: {job.log_file}" if job.log_file is not None else "no log file"
        raise HybridNerError(
            f"{cell.cell_id}: training with {config} failed "
            f"({type(failure).__name__}: {reason}); {where}"
        )
    scores = score_model(model_dir / "model-best", job.test)
    if job.teacher_dir is not None:
        shutil.rmtree(job.teacher_dir, ignore_errors=True)
        shutil.copytree(model_dir / "model-best", job.teacher_dir)
    if not job.keep_model:
        shutil.rmtree(model_dir, ignore_errors=True)
    lambdas = None
    if cell.spec.corpus == LAMBDA_CORPUS:
        lambdas = fitted_lambdas(config, job.overrides)
    record = None
    if cell.spec.corpus in EVIDENCE_CORPORA:
        # The same estimate the reader made (deterministic), recomputed here
        # for the record.
        docs = read_docbin(job.train_path, spacy.blank("en").vocab)
        key = SPANS_KEYS.get(cell.spec.annotator, LLM_KEY)
        mixing = CalibratedMixing(job.calibration, annotator=cell.spec.corpus == CALIBRATED_CORPUS)
        fitted = mixing.fit(docs, key)
        record = {
            **fitted.summary(),
            "teacher": teacher_cell(cell).cell_id if job.teacher is not None else None,
        }
    return CellResult(
        dataset=cell.dataset,
        condition=cell.condition,
        annotator=cell.spec.annotator,
        omit_rate=cell.omit_rate,
        budget=cell.budget,
        seed=cell.seed,
        p=scores.p,
        r=scores.r,
        f=scores.f,
        per_type=scores.per_type,
        cost=job.costs.of(cell, job.n_sentences),
        lambdas=lambdas,
        train_sentences=job.n_sentences,
        train_seconds=round(seconds, 1),
        steps=job.steps,
        config=str(config),
        calibration=record,
        omission_model=cell.omission_model,
    )
