"""The experiment grid: conditions × omission rates × seeds, and the budget curve.

One *cell* is one trained model: a dataset, a condition, the omission rate
of the simulated human annotation, the fraction of documents a human
annotated (budget) and a seed. Every cell trains the same config (the
soft-target NER, so the comparison is fair) for the same number of steps and
is scored on the clean test set; its result is one small JSON file, so the
grid resumes where it stopped and a report can be built from any part of it.

Conditions (``CONDITIONS``):

* ``human-clean``: the gold annotation (upper bound).
* ``human-omit``: the gold with simulated omissions (the human-only baseline).
* ``llm-only`` / ``sim-only``: the proposals alone, no human annotation.
* ``hybrid-random`` / ``sim-hybrid-random``: merge, human wins, overlapping
  proposals resolved by a seeded random choice, hard labels (paper baseline).
* ``hybrid-label-mixing`` / ``sim-hybrid-label-mixing``: the recommended
  method: calibrated per-token evidence (:mod:`hybrid_ner.merge.calibration`), the
  annotator calibrated on the dev set, labels mixed by their calibrated
  likelihoods.
* ``hybrid-lambda-mixing`` / ``sim-hybrid-lambda-mixing``: the earlier
  label mixing (λ per label from agreement with the human, uncovered tokens
  outside), kept for comparison.
* ``human-budget`` / ``hybrid-budget`` / ``sim-hybrid-budget``: a human
  annotated only a fraction of the documents (the rest MISSING), alone or
  with the proposals (calibrated evidence) that cover the rest.

``sim-*`` use the simulated annotator (:mod:`hybrid_ner.simulation.annotator`),
never called an LLM.
"""

import contextlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import spacy
from spacy.tokens import Doc, Span

from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError
from ..evaluation import proposal_quality
from ..layers import LLM_KEY
from ..merge.calibration.mixing import CalibratedMixing
from ..merge.merger import Merger
from ..simulation.annotator import SIMULATED_KEY, SimulatedAnnotator
from ..simulation.omissions import omit_entities, simulate_budget
from ..training.merged_corpus import FITTED_LAMBDAS
from ..training.readers import examples_from_docs


@dataclass(frozen=True)
class Condition:
    """How a condition builds its training data.

    annotator (str): "none", "llm" or "simulated": whose proposals it uses.
    corpus (str): The ``[corpora]`` block of the config it trains on.
    data (str): "clean", "omit" (gold with omissions), "unannotated" (no
        human annotation at all) or "budget" (a fraction of documents).
    """

    annotator: str
    corpus: str
    data: str


CONDITIONS: Dict[str, Condition] = {
    "human-clean": Condition("none", "corpora.human", "clean"),
    "human-omit": Condition("none", "corpora.human", "omit"),
    "llm-only": Condition("llm", "corpora.hybrid_random", "unannotated"),
    "hybrid-random": Condition("llm", "corpora.hybrid_random", "omit"),
    "hybrid-label-mixing": Condition("llm", "corpora.hybrid_calibrated", "omit"),
    "hybrid-lambda-mixing": Condition("llm", "corpora.hybrid_mixing", "omit"),
    "sim-only": Condition("simulated", "corpora.hybrid_random", "unannotated"),
    "sim-hybrid-random": Condition("simulated", "corpora.hybrid_random", "omit"),
    "sim-hybrid-label-mixing": Condition("simulated", "corpora.hybrid_calibrated", "omit"),
    "sim-hybrid-lambda-mixing": Condition("simulated", "corpora.hybrid_mixing", "omit"),
    "human-budget": Condition("none", "corpora.human", "budget"),
    "hybrid-budget": Condition("llm", "corpora.hybrid_calibrated", "budget"),
    "sim-hybrid-budget": Condition("simulated", "corpora.hybrid_calibrated", "budget"),
}
RATE_CONDITIONS = (
    "human-omit",
    "hybrid-random",
    "hybrid-label-mixing",
    "hybrid-lambda-mixing",
    "sim-hybrid-random",
    "sim-hybrid-label-mixing",
    "sim-hybrid-lambda-mixing",
)
CALIBRATED_CORPUS = "corpora.hybrid_calibrated"
FIXED_CONDITIONS = ("human-clean", "llm-only", "sim-only")
BUDGET_CONDITIONS = ("human-budget", "hybrid-budget", "sim-hybrid-budget")
SPANS_KEYS = {"llm": LLM_KEY, "simulated": SIMULATED_KEY}


@dataclass(frozen=True)
class Cell:
    """One trained model of the grid."""

    dataset: str
    condition: str
    omit_rate: float
    budget: float
    seed: int

    @property
    def cell_id(self) -> str:
        return f"{self.condition}_r{self.omit_rate:g}_b{self.budget:g}_s{self.seed}"

    @property
    def spec(self) -> Condition:
        return CONDITIONS[self.condition]


def plan_cells(
    dataset: str,
    rates: Sequence[float],
    seeds: Sequence[int],
    budgets: Sequence[float] = (),
    budget_omit_rate: float = 0.0,
    conditions: Optional[Sequence[str]] = None,
    focus_rate: float = 0.4,
) -> List[Cell]:
    """The cells of a grid, most informative first, so a partial run answers
    the main question: every seed of the main comparison at ``focus_rate``,
    then the other rates, then the budget curve.

    dataset (str): Dataset name.
    rates (Sequence[float]): Omission rates of the human annotation.
    seeds (Sequence[int]): Seeds (training, omissions, merge, simulated annotator).
    budgets (Sequence[float]): Fractions of documents a human annotated (< 1).
    budget_omit_rate (float): Omission rate of the human part of budget cells.
    conditions (Optional[Sequence[str]]): Subset of ``CONDITIONS`` (None: all).
    focus_rate (float): The rate computed first.
    RETURNS (List[Cell]): Unique cells in run order.
    """
    wanted = list(conditions) if conditions is not None else list(CONDITIONS)
    unknown = [c for c in wanted if c not in CONDITIONS]
    if unknown:
        raise HybridNerError(
            f"Unknown condition(s) {', '.join(unknown)}: use {', '.join(CONDITIONS)}"
        )
    for value in [*rates, budget_omit_rate]:
        if not 0.0 <= value <= 1.0:
            raise HybridNerError(f"Omission rate must be in [0, 1], got {value}")
    for value in budgets:
        if not 0.0 <= value < 1.0:
            raise HybridNerError(
                f"Budget fraction must be in [0, 1), got {value} (1.0 is the human-clean / hybrid cell)"
            )
    main = (
        "human-clean",
        "human-omit",
        "hybrid-label-mixing",
        "hybrid-random",
        "sim-hybrid-label-mixing",
    )
    cells: List[Tuple[Tuple[int, float, int, int], Cell]] = []
    for seed in seeds:
        for condition in wanted:
            order = list(CONDITIONS).index(condition)
            if condition in FIXED_CONDITIONS:
                tier = 0 if condition in main else 1
                cells.append(((tier, 0.0, seed, order), Cell(dataset, condition, 0.0, 1.0, seed)))
            elif condition in RATE_CONDITIONS:
                for rate in rates:
                    if rate == 0.0 and condition == "human-omit":
                        continue  # identical to human-clean
                    focus = abs(rate - focus_rate) < 1e-9
                    tier = (
                        (0 if condition in main else 1)
                        if focus
                        else (2 if condition in main else 3)
                    )
                    cells.append(
                        ((tier, rate, seed, order), Cell(dataset, condition, rate, 1.0, seed))
                    )
            else:
                for budget in budgets:
                    cells.append(
                        (
                            (4, budget, seed, order),
                            Cell(dataset, condition, budget_omit_rate, budget, seed),
                        )
                    )
    return [cell for _, cell in sorted(cells, key=lambda item: item[0])]


@dataclass
class Costs:
    """Money per sentence, for the budget curve.

    human_per_sentence (float): What a human annotation of one sentence costs.
    llm_per_sentence (Optional[float]): What the LLM's proposals for one
        sentence cost (from the usage report and the prices); None if unknown.
    """

    human_per_sentence: float = 0.0
    llm_per_sentence: Optional[float] = None

    def of(self, cell: Cell, n_sentences: int) -> Dict[str, Optional[float]]:
        human = (
            0.0
            if cell.spec.data == "unannotated"
            else self.human_per_sentence * n_sentences * cell.budget
        )
        llm: Optional[float] = 0.0
        if cell.spec.annotator != "none":
            # The annotator proposes for every sentence (the merge needs the doubly annotated ones).
            llm = None if self.llm_per_sentence is None else self.llm_per_sentence * n_sentences
        total = None if llm is None else human + llm
        return {"human": human, "llm": llm, "total": total}


def llm_cost_per_sentence(
    usage: Dict[str, float], price_in_per_1k: float, price_out_per_1k: float
) -> Optional[float]:
    """Cost of one sentence's proposals from a ``hybrid-ner propose`` usage report."""
    requests = usage.get("requests", 0) + usage.get("cache_hits", 0)
    if not requests:
        return None
    cost = (
        usage.get("prompt_tokens", 0) / 1000 * price_in_per_1k
        + usage.get("completion_tokens", 0) / 1000 * price_out_per_1k
    )
    # Cached answers were paid once too: the usage report counts the tokens of sent requests only.
    return cost / max(usage.get("requests", 0), 1)


@dataclass
class GridData:
    """The training Docs of a dataset with every annotation layer, and the
    variants the cells train on, written once per (variant, seed)."""

    name: str
    train: Path
    work_dir: Path
    simulated: Callable[[int], SimulatedAnnotator]
    train_limit: int = 0
    require_llm: bool = True
    dev: Optional[Path] = None
    llm_calibration: Optional[Path] = None
    _docs: Dict[int, List[Doc]] = field(default_factory=dict)

    def teacher_dir(self, cell: "Cell") -> Path:
        """Where the human-only model of a cell is kept (the calibrated cells' prior)."""
        # Not keyed by the training file: the files of one dataset hold the
        # same gold Docs (with or without proposals), so one teacher serves all.
        return self.work_dir / "teachers" / self.name / cell.cell_id

    def has_teacher(self, cell: "Cell") -> bool:
        return (self.teacher_dir(cell) / "meta.json").exists()

    def calibration(self, cell: "Cell") -> Optional[Path]:
        """The calibration sample of a cell's annotator: the LLM's proposals on
        the dev set (given), or the dev set annotated by the simulated
        annotator of the cell's seed (written on first use)."""
        if cell.spec.annotator == "llm":
            return self.llm_calibration
        if cell.spec.annotator != "simulated" or self.dev is None:
            return None
        path = (
            self.work_dir
            / "data"
            / self.name
            / f"calibration_{self.dev.stem}_simulated_s{cell.seed}.spacy"
        )
        if not path.exists():
            docs = read_docbin(self.dev, spacy.blank("en").vocab)
            self.simulated(cell.seed).annotate_all(docs)
            write_docbin(path, docs)
        return path

    def annotated(self, seed: int) -> List[Doc]:
        """Gold ``doc.ents``, LLM proposals and the simulated annotator's (seeded)."""
        if seed not in self._docs:
            docs = read_docbin(self.train, spacy.blank("en").vocab)
            if self.train_limit > 0:
                docs = docs[: self.train_limit]
            missing = sum(LLM_KEY not in doc.spans for doc in docs)
            if missing and self.require_llm:
                raise HybridNerError(
                    f"{self.train}: {missing} of {len(docs)} Docs have no doc.spans['{LLM_KEY}'] "
                    "(run `hybrid-ner propose` on every training sentence first)"
                )
            self.simulated(seed).annotate_all(docs)
            self._docs = {seed: docs}  # one seed in memory at a time
        return self._docs[seed]

    def path(self, cell: Cell) -> Path:
        """The DocBin a cell trains on, written on first use."""
        data = cell.spec.data
        if data == "clean":
            name = "clean"
        elif data == "unannotated":
            name = "unannotated"
        elif data == "omit":
            name = f"omit{cell.omit_rate:g}"
        else:
            name = f"budget{cell.budget:g}_omit{cell.omit_rate:g}"
        # Keyed by the source file too: cells without LLM may run before the proposals exist.
        path = self.work_dir / "data" / self.name / self.train.stem / f"{name}_s{cell.seed}.spacy"
        if not path.exists():
            docs = self.annotated(cell.seed)
            if data == "omit" or (data == "budget" and cell.omit_rate > 0):
                docs = [omit_entities(doc, cell.omit_rate, cell.seed) for doc in docs]
            if data == "unannotated":
                docs = simulate_budget(docs, 0.0, cell.seed)
            elif data == "budget":
                docs = simulate_budget(docs, cell.budget, cell.seed)
            write_docbin(path, docs)
        return path


def teacher_cell(cell: Cell) -> Cell:
    """The human-only cell whose model is the prior of a calibrated cell."""
    if cell.spec.data == "budget":
        return Cell(cell.dataset, "human-budget", cell.omit_rate, cell.budget, cell.seed)
    if cell.omit_rate == 0.0:
        return Cell(cell.dataset, "human-clean", 0.0, 1.0, cell.seed)
    return Cell(cell.dataset, "human-omit", cell.omit_rate, 1.0, cell.seed)


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
    if cell.spec.corpus == CALIBRATED_CORPUS:
        extra = {
            "corpora.hybrid_calibrated.merger.llm_key": key,
            "corpora.hybrid_calibrated.mixing.calibration": str(calibration)
            if calibration
            else None,
            "corpora.hybrid_calibrated.mixing.teacher": str(teacher) if teacher else None,
        }
    return {
        **extra,
        "paths.train": str(train),
        "paths.dev": str(dev),
        "training.train_corpus": cell.spec.corpus,
        "corpora.hybrid_random.merger.llm_key": key,
        "corpora.hybrid_mixing.merger.llm_key": key,
        "corpora.dev.limit": dev_limit,
        "system.seed": cell.seed,
        "training.max_epochs": 0,
        "training.max_steps": steps,
    }


def score_model(model_dir: Path, test_docs_path: Path) -> Dict[str, object]:
    """Entity P/R/F1, overall and per label, on the test set's own tokens."""
    nlp = spacy.load(model_dir)
    scores = nlp.evaluate(list(examples_from_docs(nlp, read_docbin(test_docs_path, nlp.vocab))))
    per_type = scores.get("ents_per_type") or {}
    return {
        "p": scores["ents_p"],
        "r": scores["ents_r"],
        "f": scores["ents_f"],
        "per_type": per_type,
    }


def run_cell(
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
) -> Dict[str, object]:
    """Train and score one cell; the result as written to its JSON file."""
    from spacy.cli.train import train as spacy_train

    train_path = data.path(cell)
    n_sentences = len(data.annotated(cell.seed))
    calibration = teacher = None
    if cell.spec.corpus == CALIBRATED_CORPUS:
        calibration = data.calibration(cell)
        teacher = data.teacher_dir(teacher_cell(cell))
        if not data.has_teacher(teacher_cell(cell)):
            raise HybridNerError(
                f"{cell.cell_id}: its teacher {teacher_cell(cell).cell_id} has no model in {teacher}; "
                "train that cell first (run_grid does)"
            )
    buffer = io.StringIO()
    start = time.perf_counter()
    failure: Optional[BaseException] = None
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            spacy_train(
                config,
                model_dir,
                overrides={
                    **(overrides or {}),
                    **train_overrides(
                        cell, train_path, dev, steps, dev_limit, calibration, teacher
                    ),
                },
            )
        except (Exception, SystemExit) as err:  # spaCy's CLI exits on config errors
            failure = err
    train_seconds = time.perf_counter() - start
    log = buffer.getvalue()
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(log, encoding="utf8")
    if failure is not None:
        reason = (str(failure).strip().splitlines() or [""])[0][:200]
        where = f"full log: {log_file}" if log_file is not None else "no log file"
        raise HybridNerError(
            f"{cell.cell_id}: training with {config} failed ({type(failure).__name__}: {reason}); {where}"
        )
    scores = score_model(model_dir / "model-best", test)
    if cell.spec.corpus == "corpora.human" and cell.spec.data != "unannotated":
        # Every human-only model is the teacher of the calibrated cells of its setting.
        import shutil

        shutil.rmtree(data.teacher_dir(cell), ignore_errors=True)
        shutil.copytree(model_dir / "model-best", data.teacher_dir(cell))
    if not keep_model:
        import shutil

        shutil.rmtree(model_dir, ignore_errors=True)
    result: Dict[str, object] = {
        **asdict(cell),
        "cell_id": cell.cell_id,
        "annotator": cell.spec.annotator,
        "scores": scores,
        "train_sentences": n_sentences,
        "steps": steps,
        "train_seconds": round(train_seconds, 1),
        "config": str(config),
        "cost": costs.of(cell, n_sentences),
    }
    lambdas = (
        FITTED_LAMBDAS.pop(str(train_path), None)
        if cell.spec.corpus == "corpora.hybrid_mixing"
        else None
    )
    if lambdas:
        result["lambdas"] = lambdas
    if cell.spec.corpus == CALIBRATED_CORPUS:
        # The same estimate the reader made (deterministic), recomputed here
        # for the record rather than handed back through a global.
        docs = read_docbin(train_path, spacy.blank("en").vocab)
        fitted = CalibratedMixing(calibration).fit(
            docs, SPANS_KEYS.get(cell.spec.annotator, LLM_KEY)
        )
        result["calibration"] = {**fitted.summary(), "teacher": teacher_cell(cell).cell_id}
    return result


def annotator_report(
    data: GridData,
    seed: int,
    llm_name: str,
    usage: Optional[Dict[str, float]],
    costs: Dict[str, object],
) -> Dict[str, object]:
    """Quality of the LLM's and the simulated annotator's proposals against the gold."""
    docs = data.annotated(seed)
    llm = proposal_quality(docs, LLM_KEY)
    simulated_annotator = data.simulated(seed)
    simulated = proposal_quality(docs, simulated_annotator.spans_key)
    return {
        "dataset": data.name,
        "sentences": len(docs),
        "gold_entities": llm["overall"]["gold"],  # type: ignore[index]
        "gold_distribution": llm["gold_distribution"],
        "annotators": {
            "llm": {"name": llm_name, "simulated": False, **llm},
            "simulated": {
                "name": simulated_annotator.name,
                "simulated": True,
                "params": simulated_annotator.params(),
                **simulated,
            },
        },
        "usage": usage or {},
        "costs": costs,
    }


def sample_docs(data: GridData, seed: int, omit_rate: float, n: int = 10) -> List[Doc]:
    """Sentences showing every layer side by side: gold, human with
    omissions, LLM proposals, merged (``doc.ents``) with provenance groups.
    Prefers sentences where the LLM filled a human omission."""
    merger = Merger()
    docs = [omit_entities(doc, omit_rate, seed) for doc in data.annotated(seed)]
    for original, doc in zip(data.annotated(seed), docs):
        doc.spans["gold"] = [Span(doc, e.start, e.end, label=e.label_) for e in original.ents]
    merger.merge_all(docs)

    def filled(doc: Doc) -> int:
        omitted = {(s.start, s.end, s.label_) for s in doc.spans.get("omitted", [])}
        return sum((s.start, s.end, s.label_) in omitted for s in doc.spans.get("llm_added", []))

    ranked = sorted(range(len(docs)), key=lambda i: (-min(filled(docs[i]), 2), i))
    return [docs[i] for i in ranked[:n]]


def completed(out_dir: Path) -> Dict[str, Path]:
    """The cells already scored in a dataset's ``cells`` directory."""
    return {path.stem: path for path in sorted((out_dir / "cells").glob("*.json"))}


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf8")
    tmp.replace(path)  # atomic: a killed run never leaves half a result


def run_grid(
    cells: Iterable[Cell],
    data: GridData,
    dev: Path,
    test: Path,
    config: Path,
    steps: int,
    costs: Costs,
    out_dir: Path,
    dev_limit: int = 0,
    keep_models: bool = False,
    max_minutes: float = 0.0,
    progress: Optional[Callable[[Cell, Optional[Dict[str, object]]], None]] = None,
    overrides: Optional[Dict[str, object]] = None,
) -> List[Dict[str, object]]:
    """Run the cells not yet scored, writing ``out_dir/cells/<cell_id>.json`` after each.

    max_minutes (float): Start no new cell after this long (0: no limit); the
        grid resumes from the written cells on the next call.
    overrides (Optional[Dict[str, object]]): Extra config overrides for every cell.
    RETURNS (List[Dict[str, object]]): The results computed in this call.
    """
    done = completed(out_dir)
    planned = {cell.cell_id for cell in cells}
    started = time.perf_counter()
    results = []

    def train(cell: Cell) -> None:
        model_dir = data.work_dir / "models" / data.name / cell.cell_id
        result = run_cell(
            cell,
            data,
            dev,
            test,
            config,
            steps,
            costs,
            model_dir,
            dev_limit,
            keep_models,
            log_file=data.work_dir / "logs" / data.name / f"{cell.cell_id}.log",
            overrides=overrides,
        )
        if cell.cell_id in done or cell.cell_id not in planned:
            return  # trained only as a teacher: recorded when (if) its own cell is planned
        write_json(out_dir / "cells" / f"{cell.cell_id}.json", result)
        done[cell.cell_id] = out_dir / "cells" / f"{cell.cell_id}.json"
        results.append(result)
        if progress:
            progress(cell, result)

    for cell in cells:
        if cell.cell_id in done:
            if progress:
                progress(cell, None)
            continue
        if max_minutes and (time.perf_counter() - started) / 60 > max_minutes:
            break
        if cell.spec.corpus == CALIBRATED_CORPUS and not data.has_teacher(teacher_cell(cell)):
            # The human-only model of the same setting is the calibrated cell's prior.
            train(teacher_cell(cell))
        train(cell)
    return results
