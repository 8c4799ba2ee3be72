"""Load the grid runner's result files and aggregate them over seeds.

A grid directory holds one folder per dataset (``<grid>/<dataset>/``) with one
JSON file per trained model in ``cells/`` plus the optional ``annotators.json``
(quality of the proposals) and ``run.json`` (how the grid was run). Everything
here is pure data handling; tables and plots are built from its results.
"""

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import srsly

from ..errors import HybridNerError
from ..experiment.grid import BUDGET_CONDITIONS as GRID_BUDGET_CONDITIONS
from ..experiment.grid import CALIBRATED_CORPUS, FIXED_CONDITIONS
from ..experiment.grid import CONDITIONS as GRID_CONDITIONS
from ..experiment.grid import RATE_CONDITIONS as GRID_RATE_CONDITIONS

#: Conditions in display order (the grid's). Unknown conditions, e.g. from
#: cells of an older grid, are shown after these.
CONDITIONS: Tuple[str, ...] = tuple(GRID_CONDITIONS)
UPPER_BOUND = "human-clean"
#: Trained without omissions: one reference value drawn at every rate.
RATE_INDEPENDENT: Tuple[str, ...] = tuple(FIXED_CONDITIONS)
BUDGET_CONDITIONS: Tuple[str, ...] = tuple(GRID_BUDGET_CONDITIONS)
RATE_CONDITIONS: Tuple[str, ...] = tuple(GRID_RATE_CONDITIONS)
#: Conditions whose annotator is calibrated on a sample (their cells carry "calibration").
CALIBRATED_CONDITIONS: Tuple[str, ...] = tuple(
    name for name, spec in GRID_CONDITIONS.items() if spec.corpus == CALIBRATED_CORPUS
)
#: Appended to a calibrated condition whose cell has no calibration record:
#: such a cell was written by an older grid, when the condition of that
#: name trained another method, and is kept apart from the current ones.
BEFORE_CALIBRATION = "-before-calibration"
#: The full-budget (budget 1.0) condition that continues each budget curve.
FULL_BUDGET_EQUIVALENT = {
    "human-budget": "human-clean",
    "hybrid-budget": "hybrid-label-mixing",
    "sim-hybrid-budget": "sim-hybrid-label-mixing",
}
CELLS_DIR = "cells"
ANNOTATORS_FILE = "annotators.json"
RUN_FILE = "run.json"
SAMPLES_FILE = "samples.spacy"
# Rates and budgets are grouped after rounding, so 0.4 and 0.40000001 meet.
_DIGITS = 6


def setting_value(value: float) -> float:
    """A rate or budget as used in group keys."""
    return round(value, _DIGITS)


# A group of cells that differ only by seed: (condition, kind, value) with
# kind "rate" (value = omission rate), "budget" (value = budget fraction) or
# "reference" (rate-independent condition, value None).
GroupKey = Tuple[str, str, Optional[float]]


@dataclass(frozen=True)
class Cell:
    """The scores of one trained model (one cell of the grid)."""

    path: Path
    dataset: str
    condition: str
    annotator: str
    omit_rate: float
    budget: float
    seed: int
    p: float
    r: float
    f: float
    per_type: Dict[str, Dict[str, float]] = field(default_factory=dict)
    cost: Optional[Dict[str, float]] = None
    lambdas: Optional[Dict[str, float]] = None
    train_sentences: Optional[int] = None
    train_seconds: Optional[float] = None
    #: Training steps of the cell's model and the training config it used.
    steps: Optional[int] = None
    config: Optional[str] = None
    #: The annotator's calibration as the grid recorded it (calibrated conditions only).
    calibration: Optional[Dict[str, Any]] = None

    @property
    def known(self) -> bool:
        """Whether the condition is one of the current grid's."""
        return self.condition in CONDITIONS

    @property
    def simulated(self) -> bool:
        """Whether the proposals came from the simulated annotator."""
        return is_simulated(self.condition, self.annotator)

    @property
    def group(self) -> GroupKey:
        """The key shared by all seeds of this cell's setting."""
        if self.condition in BUDGET_CONDITIONS or self.budget < 1.0:
            return (self.condition, "budget", setting_value(self.budget))
        if self.condition in RATE_INDEPENDENT:
            return (self.condition, "reference", None)
        return (self.condition, "rate", setting_value(self.omit_rate))


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (n-1) of one value over seeds."""

    mean: float
    sd: Optional[float]
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stat":
        """Summarize values (at least one)."""
        sd = statistics.stdev(values) if len(values) > 1 else None
        return cls(statistics.fmean(values), sd, len(values))

    @property
    def low(self) -> float:
        return self.mean - (self.sd or 0.0)

    @property
    def high(self) -> float:
        return self.mean + (self.sd or 0.0)

    def overlaps(self, other: "Stat") -> bool:
        """Whether the mean ± sd intervals of two settings overlap."""
        return self.low <= other.high and other.low <= self.high


@dataclass
class DatasetResults:
    """Everything the grid runner wrote for one dataset."""

    name: str
    path: Path
    cells: List[Cell]
    annotators: Optional[Dict[str, Any]] = None
    run: Optional[Dict[str, Any]] = None

    @property
    def samples_path(self) -> Optional[Path]:
        path = self.path / SAMPLES_FILE
        return path if path.is_file() else None


def is_simulated(condition: str, annotator: str = "") -> bool:
    """Whether a condition uses the simulated annotator."""
    return annotator == "simulated" or condition.startswith("sim-")


def unknown_conditions(cells: Iterable[Cell]) -> Dict[str, int]:
    """Conditions of cells that the current grid does not know (e.g. cells of
    an older grid), with their number of cells, in display order."""
    counts: Dict[str, int] = {}
    for cell in cells:
        if not cell.known:
            counts[cell.condition] = counts.get(cell.condition, 0) + 1
    return {condition: counts[condition] for condition in sorted(counts)}


def condition_order(conditions: Iterable[str]) -> List[str]:
    """Conditions in display order: the known ones first, then the rest sorted."""
    present = set(conditions)
    known = [c for c in CONDITIONS if c in present]
    return known + sorted(present - set(CONDITIONS))


def _read_json(path: Path) -> Any:
    try:
        return srsly.read_json(path)
    except ValueError as err:
        raise HybridNerError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise HybridNerError(f"{path}: cannot read ({err})") from None


def _number(path: Path, data: Dict[str, Any], key: str, where: str = "") -> float:
    if key not in data:
        raise HybridNerError(f'{path}: missing key "{where}{key}"')
    value = data[key]
    # bool is an int subclass but never a valid score, rate or seed.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise HybridNerError(f'{path}: "{where}{key}" must be a number, got {value!r}')
    return float(value)


def _optional_numbers(path: Path, value: Any, key: str) -> Optional[Dict[str, float]]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HybridNerError(f'{path}: "{key}" must be an object, got {value!r}')
    # null parts mean "unknown" (e.g. no usage report for the LLM's cost): left out.
    return {k: _number(path, value, k, f"{key}.") for k in value if value[k] is not None}


def parse_cell(path: Union[str, Path], data: Any) -> Cell:
    """Validate one cell's JSON content.

    path (Union[str, Path]): The file, named in errors.
    data (Any): The parsed JSON.
    RETURNS (Cell): The cell.
    RAISES (HybridNerError): If a required key is missing or has the wrong type.
    """
    path = Path(path)
    if not isinstance(data, dict):
        raise HybridNerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    for key in ("dataset", "condition"):
        if key not in data:
            raise HybridNerError(f'{path}: missing key "{key}"')
        if not isinstance(data[key], str) or not data[key]:
            raise HybridNerError(f'{path}: "{key}" must be a non-empty string, got {data[key]!r}')
    scores = data.get("scores")
    if scores is None:
        raise HybridNerError(f'{path}: missing key "scores"')
    if not isinstance(scores, dict):
        raise HybridNerError(f'{path}: "scores" must be an object with p, r, f, got {scores!r}')
    per_type = scores.get("per_type") or {}
    if not isinstance(per_type, dict):
        raise HybridNerError(f'{path}: "scores.per_type" must be an object, got {per_type!r}')
    labels = {}
    for label, values in per_type.items():
        if not isinstance(values, dict):
            raise HybridNerError(
                f'{path}: "scores.per_type.{label}" must be an object with p, r, f'
            )
        labels[label] = {
            k: _number(path, values, k, f"scores.per_type.{label}.") for k in ("p", "r", "f")
        }
    seed = _number(path, data, "seed")
    budget = _number(path, data, "budget") if "budget" in data else 1.0
    train_sentences = data.get("train_sentences")
    train_seconds = data.get("train_seconds")
    steps = data.get("steps")
    config = data.get("config")
    condition = data["condition"]
    calibration = data.get("calibration")
    if calibration is None and condition in CALIBRATED_CONDITIONS:
        condition += BEFORE_CALIBRATION
    if calibration is not None and not isinstance(calibration, dict):
        raise HybridNerError(f'{path}: "calibration" must be an object, got {calibration!r}')
    if calibration is not None and not isinstance(calibration.get("labels", {}), dict):
        raise HybridNerError(f'{path}: "calibration.labels" must be an object (one per label)')
    return Cell(
        path=path,
        dataset=data["dataset"],
        condition=condition,
        annotator=str(data.get("annotator", "none")),
        omit_rate=_number(path, data, "omit_rate"),
        budget=budget,
        seed=int(seed),
        p=_number(path, scores, "p", "scores."),
        r=_number(path, scores, "r", "scores."),
        f=_number(path, scores, "f", "scores."),
        per_type=labels,
        cost=_optional_numbers(path, data.get("cost"), "cost"),
        lambdas=_optional_numbers(path, data.get("lambdas"), "lambdas"),
        train_sentences=train_sentences if isinstance(train_sentences, int) else None,
        train_seconds=float(train_seconds)
        if isinstance(train_seconds, (int, float)) and not isinstance(train_seconds, bool)
        else None,
        steps=steps if isinstance(steps, int) and not isinstance(steps, bool) else None,
        config=config if isinstance(config, str) and config else None,
        calibration=calibration,
    )


def load_cells(cells_dir: Union[str, Path]) -> List[Cell]:
    """Read every ``*.json`` cell file of a directory, sorted by file name.

    cells_dir (Union[str, Path]): A ``cells/`` directory (missing = no cells).
    RETURNS (List[Cell]): The cells.
    RAISES (HybridNerError): If a file is not a valid cell, naming the file.
    """
    cells_dir = Path(cells_dir)
    if not cells_dir.is_dir():
        return []
    return [parse_cell(path, _read_json(path)) for path in sorted(cells_dir.glob("*.json"))]


def _optional_json(path: Path) -> Optional[Dict[str, Any]]:
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise HybridNerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def load_dataset(path: Union[str, Path]) -> DatasetResults:
    """Read one dataset directory of the grid.

    path (Union[str, Path]): ``<grid>/<dataset>``.
    RETURNS (DatasetResults): Cells plus the optional annotator and run files.
    """
    path = Path(path)
    annotators = _optional_json(path / ANNOTATORS_FILE)
    if annotators is not None and not isinstance(annotators.get("annotators"), dict):
        raise HybridNerError(
            f'{path / ANNOTATORS_FILE}: missing key "annotators" (an object per annotator)'
        )
    return DatasetResults(
        name=path.name,
        path=path,
        cells=load_cells(path / CELLS_DIR),
        annotators=annotators,
        run=_optional_json(path / RUN_FILE),
    )


def load_grid(grid_dir: Union[str, Path]) -> List[DatasetResults]:
    """Read all dataset directories of a grid, sorted by name.

    A directory that itself holds ``cells/`` is read as a single dataset.

    grid_dir (Union[str, Path]): The grid directory, e.g. ``metrics/grid``.
    RETURNS (List[DatasetResults]): One entry per dataset.
    RAISES (HybridNerError): If the directory is missing, holds no results or
        a file in it is malformed.
    """
    grid_dir = Path(grid_dir)
    if not grid_dir.is_dir():
        raise HybridNerError(f"{grid_dir}: grid directory not found (run the grid first)")
    if (grid_dir / CELLS_DIR).is_dir():
        return [load_dataset(grid_dir)]
    datasets = [
        load_dataset(path)
        for path in sorted(grid_dir.iterdir())
        if path.is_dir() and ((path / CELLS_DIR).is_dir() or (path / ANNOTATORS_FILE).is_file())
    ]
    if not datasets:
        raise HybridNerError(
            f"{grid_dir}: no results found (expected <dataset>/cells/*.json or <dataset>/{ANNOTATORS_FILE})"
        )
    return datasets


Metric = Callable[[Cell], Optional[float]]


def f1(cell: Cell) -> Optional[float]:
    return cell.f


def precision(cell: Cell) -> Optional[float]:
    return cell.p


def recall(cell: Cell) -> Optional[float]:
    return cell.r


def label_f1(label: str) -> Metric:
    """A metric reading one label's F1 (None when the cell lacks the label)."""
    return lambda cell: cell.per_type.get(label, {}).get("f")


def cost_part(part: str) -> Metric:
    """A metric reading one part of the annotation cost (human, llm, total)."""
    return lambda cell: (cell.cost or {}).get(part)


def aggregate(cells: Iterable[Cell], metric: Metric = f1) -> Dict[GroupKey, Stat]:
    """Mean, sd and number of seeds of a metric per group of cells.

    cells (Iterable[Cell]): The cells of one dataset.
    metric (Metric): The value to summarize; cells where it is None are skipped.
    RETURNS (Dict[GroupKey, Stat]): One entry per group with at least one value.
    """
    values: Dict[GroupKey, List[float]] = {}
    for cell in cells:
        value = metric(cell)
        if value is not None:
            values.setdefault(cell.group, []).append(value)
    return {key: Stat.of(vals) for key, vals in values.items()}


def rates(cells: Iterable[Cell]) -> List[float]:
    """The omission rates of the rate-dependent cells, ascending."""
    return sorted({c.group[2] for c in cells if c.group[1] == "rate"})  # type: ignore[type-var]


def budgets(cells: Iterable[Cell]) -> List[float]:
    """The budget fractions (< 1) of the budget cells, ascending."""
    return sorted({c.group[2] for c in cells if c.group[1] == "budget"})  # type: ignore[type-var]


def labels(cells: Iterable[Cell]) -> List[str]:
    """All entity labels that occur in any cell's per-type scores."""
    return sorted({label for cell in cells for label in cell.per_type})


def closest_rate(available: Sequence[float], target: float) -> Optional[float]:
    """The available rate closest to the target (the lower one on ties)."""
    if not available:
        return None
    # Rounded distances, so float noise cannot break a tie (0.3 vs 0.5 for 0.4).
    return min(sorted(available), key=lambda rate: round(abs(rate - target), _DIGITS))


def stat_at(stats: Dict[GroupKey, Stat], condition: str, rate: Optional[float]) -> Optional[Stat]:
    """A condition's statistic at an omission rate; reference conditions hold at every rate."""
    if condition in RATE_INDEPENDENT:
        return stats.get((condition, "reference", None))
    if rate is None:
        return None
    found = stats.get((condition, "rate", setting_value(rate)))
    if found is None and condition == "human-omit" and setting_value(rate) == 0.0:
        # No omissions is the clean gold: the grid trains it once, as human-clean.
        return stats.get((UPPER_BOUND, "reference", None))
    return found


@dataclass(frozen=True)
class Incomplete:
    """A setting with fewer seeds than the fullest setting of its dataset."""

    condition: str
    kind: str
    value: Optional[float]
    n: int
    missing_seeds: Tuple[int, ...]


def incomplete_groups(cells: Sequence[Cell]) -> Tuple[List[Incomplete], List[str], int]:
    """Settings of a dataset with fewer seeds than the maximum, and known
    conditions without any cell.

    A condition that was run is expected at every rate (budget) run for any
    condition of its kind, with every seed seen anywhere in the dataset.
    Cells of conditions the grid does not know (older grids) are left out:
    the grid will never complete them.

    cells (Sequence[Cell]): The cells of one dataset.
    RETURNS (Tuple[List[Incomplete], List[str], int]): The incomplete settings
        (n may be 0), the known conditions with no cell at all, and the maximum
        number of seeds of a setting.
    """
    cells = [c for c in cells if c.known]
    all_seeds = {c.seed for c in cells}
    seeds: Dict[GroupKey, set] = {}
    for cell in cells:
        seeds.setdefault(cell.group, set()).add(cell.seed)
    present = condition_order(c.condition for c in cells)
    expected: List[GroupKey] = []
    for condition in present:
        kinds = {key[1] for key in seeds if key[0] == condition}
        if "reference" in kinds:
            expected.append((condition, "reference", None))
        if "rate" in kinds:
            expected.extend(
                (condition, "rate", rate)
                for rate in rates(cells)
                # human-omit at 0% is never trained: it is human-clean (see stat_at).
                if not (condition == "human-omit" and rate == 0.0)
            )
        if "budget" in kinds:
            expected.extend((condition, "budget", budget) for budget in budgets(cells))
    max_n = max((len(s) for s in seeds.values()), default=0)
    incomplete = [
        Incomplete(
            key[0],
            key[1],
            key[2],
            len(seeds.get(key, ())),
            tuple(sorted(all_seeds - seeds.get(key, set()))),
        )
        for key in expected
        if len(seeds.get(key, ())) < max_n
    ]
    absent = [c for c in CONDITIONS if c not in present]
    return incomplete, absent, max_n


def stat_for(
    stats: Dict[GroupKey, Stat], condition: str, kind: str, value: Optional[float]
) -> Optional[Stat]:
    """A condition's statistic at an omission rate (kind "rate") or a budget
    fraction (kind "budget")."""
    if kind == "budget":
        return None if value is None else stats.get((condition, "budget", setting_value(value)))
    return stat_at(stats, condition, value)


def calibrated_cells(cells: Iterable[Cell], annotator: str) -> List[Cell]:
    """The cells of one annotator ("llm" or "simulated") that carry a calibration record."""
    simulated = annotator == "simulated"
    return [
        c
        for c in cells
        if c.calibration is not None and c.annotator != "none" and c.simulated == simulated
    ]


def calibration_cell(
    cells: Iterable[Cell], annotator: str, rate: float = 0.4, seed: int = 0
) -> Optional[Cell]:
    """The cell whose calibration record stands for an annotator in the report:
    the calibrated rate cell of ``seed`` at ``rate`` if there is one, else any
    calibrated cell of the annotator (rate cells before budget cells, then
    the closest rate, then ``seed``).

    cells (Iterable[Cell]): The cells of one dataset.
    annotator (str): "llm" or "simulated".
    RETURNS (Optional[Cell]): The cell, or None without calibrated cells.
    """
    order = {c: i for i, c in enumerate(CONDITIONS)}

    def rank(cell: Cell) -> Tuple[Any, ...]:
        kind = cell.group[1]
        exact = (
            kind == "rate"
            and setting_value(cell.omit_rate) == setting_value(rate)
            and cell.seed == seed
        )
        return (
            not exact,
            kind != "rate",
            round(abs(cell.omit_rate - rate), _DIGITS),
            cell.seed != seed,
            cell.seed,
            order.get(cell.condition, len(order)),
            cell.condition,
            str(cell.path),
        )

    found = calibrated_cells(cells, annotator)
    return min(found, key=rank) if found else None


@dataclass(frozen=True)
class OmissionEstimate:
    """The human omission rate the calibrated mixing estimated, over the seeds
    of one setting, next to the rate the grid simulated."""

    condition: str
    kind: str  # "rate" or "budget"
    value: Optional[float]
    true_rate: float
    estimate: Stat
    sources: Tuple[str, ...]


def omission_estimates(cells: Iterable[Cell]) -> List[OmissionEstimate]:
    """The estimated omission rate of each calibrated setting (mean ± sd over seeds).

    RETURNS (List[OmissionEstimate]): In condition display order, then by rate or budget.
    """
    values: Dict[GroupKey, List[float]] = {}
    sources: Dict[GroupKey, List[str]] = {}
    true_rates: Dict[GroupKey, float] = {}
    for cell in cells:
        estimate = (cell.calibration or {}).get("omission_rate")
        if (
            isinstance(estimate, bool)
            or not isinstance(estimate, (int, float))
            or math.isnan(estimate)
        ):
            continue
        values.setdefault(cell.group, []).append(float(estimate))
        source = (cell.calibration or {}).get("omission_source")
        if source and str(source) not in sources.setdefault(cell.group, []):
            sources[cell.group].append(str(source))
        true_rates[cell.group] = cell.omit_rate
    order = {c: i for i, c in enumerate(condition_order(key[0] for key in values))}
    keys = sorted(
        values, key=lambda key: (order[key[0]], key[1], key[2] if key[2] is not None else -1.0)
    )
    return [
        OmissionEstimate(
            key[0],
            key[1],
            key[2],
            true_rates[key],
            Stat.of(values[key]),
            tuple(sources.get(key, ())),
        )
        for key in keys
    ]
