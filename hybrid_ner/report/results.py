"""The grid's results: read back and aggregated over seeds.

A grid directory holds one folder per dataset (``<grid>/<dataset>/``) with one
JSON file per trained model in ``cells/`` plus the optional ``annotators.json``
(quality of the proposals) and ``run.json`` (how the grid was run). Cells of
one setting that differ only by seed are summarized as mean ± sd (``Stat``);
``incomplete_groups`` names the settings that lack seeds.
"""

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from ..errors import HybridNerError
from ..experiment.annotators import ANNOTATORS_FILE
from ..experiment.conditions import (
    BUDGET_CONDITIONS,
    CONDITIONS,
    FIXED_CONDITIONS,
    UPPER_BOUND,
    condition_order,
)
from ..experiment.jsonio import optional_object, read_json
from ..experiment.result import DIGITS, CellResult, GroupKey, setting_value
from ..experiment.run import CELLS_DIR, RUN_FILE
from ..experiment.samples import SAMPLES_FILE
from ..simulation.omissions import DEFAULT_OMISSION_MODEL

Metric = Callable[[CellResult], Optional[float]]


@dataclass
class DatasetResults:
    """Everything the grid runner wrote for one dataset."""

    name: str
    path: Path
    #: The cells with uniform omissions (every table but the field comparison).
    cells: List[CellResult]
    annotators: Optional[Dict[str, Any]] = None
    run: Optional[Dict[str, Any]] = None
    #: The cells with another omission model ("hard"), kept apart so that no
    #: table mixes them with the uniform ones.
    other_omissions: List[CellResult] = field(default_factory=list)

    @property
    def all_cells(self) -> List[CellResult]:
        """The cells of every omission model."""
        return self.cells + self.other_omissions

    @property
    def samples_path(self) -> Optional[Path]:
        """The dataset's sample sentences, if the grid wrote them."""
        path = self.path / SAMPLES_FILE
        return path if path.is_file() else None


def load_cells(cells_dir: Union[str, Path]) -> List[CellResult]:
    """Read every ``*.json`` cell file of a directory, sorted by file name.

    cells_dir (Union[str, Path]): A ``cells/`` directory (missing = no cells).
    RETURNS (List[CellResult]): The cells.
    RAISES (HybridNerError): If a file is not a valid cell, naming the file.
    """
    cells_dir = Path(cells_dir)
    if not cells_dir.is_dir():
        return []
    return [
        CellResult.from_json(path, read_json(path)) for path in sorted(cells_dir.glob("*.json"))
    ]


def load_dataset(path: Union[str, Path]) -> DatasetResults:
    """Read one dataset directory of the grid.

    path (Union[str, Path]): ``<grid>/<dataset>``.
    RETURNS (DatasetResults): Cells plus the optional annotator and run files.
    """
    path = Path(path)
    annotators = optional_object(path / ANNOTATORS_FILE)
    if annotators is not None and not isinstance(annotators.get("annotators"), dict):
        raise HybridNerError(
            f'{path / ANNOTATORS_FILE}: missing key "annotators" (an object per annotator)'
        )
    cells = load_cells(path / CELLS_DIR)
    return DatasetResults(
        name=path.name,
        path=path,
        cells=[c for c in cells if c.omission_model == DEFAULT_OMISSION_MODEL],
        annotators=annotators,
        run=optional_object(path / RUN_FILE),
        other_omissions=[c for c in cells if c.omission_model != DEFAULT_OMISSION_MODEL],
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
            f"{grid_dir}: no results found "
            f"(expected <dataset>/cells/*.json or <dataset>/{ANNOTATORS_FILE})"
        )
    return datasets


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
        """The mean minus one sd."""
        return self.mean - (self.sd or 0.0)

    @property
    def high(self) -> float:
        """The mean plus one sd."""
        return self.mean + (self.sd or 0.0)

    def overlaps(self, other: "Stat") -> bool:
        """Whether the mean ± sd intervals of two settings overlap."""
        return self.low <= other.high and other.low <= self.high


def f1(cell: CellResult) -> Optional[float]:
    """The cell's test F1."""
    return cell.f


def precision(cell: CellResult) -> Optional[float]:
    """The cell's test precision."""
    return cell.p


def recall(cell: CellResult) -> Optional[float]:
    """The cell's test recall."""
    return cell.r


def label_f1(label: str) -> Metric:
    """A metric reading one label's F1 (None when the cell lacks the label)."""
    return lambda cell: cell.per_type.get(label, {}).get("f")


def cost_part(part: str) -> Metric:
    """A metric reading one part of the annotation cost (human, llm, total)."""
    return lambda cell: (cell.cost or {}).get(part)


def aggregate(cells: Iterable[CellResult], metric: Metric = f1) -> Dict[GroupKey, Stat]:
    """Mean, sd and number of seeds of a metric per group of cells.

    cells (Iterable[CellResult]): The cells of one dataset.
    metric (Metric): The value to summarize; cells where it is None are skipped.
    RETURNS (Dict[GroupKey, Stat]): One entry per group with at least one value.
    """
    values: Dict[GroupKey, List[float]] = {}
    for cell in cells:
        value = metric(cell)
        if value is not None:
            values.setdefault(cell.group, []).append(value)
    return {key: Stat.of(vals) for key, vals in values.items()}


def rates(cells: Iterable[CellResult]) -> List[float]:
    """The omission rates of the rate-dependent cells, ascending."""
    return sorted({c.group[2] for c in cells if c.group[1] == "rate"})  # type: ignore[type-var]


def budgets(cells: Iterable[CellResult]) -> List[float]:
    """The budget fractions (< 1) of the budget cells, ascending."""
    return sorted({c.group[2] for c in cells if c.group[1] == "budget"})  # type: ignore[type-var]


def labels(cells: Iterable[CellResult]) -> List[str]:
    """All entity labels that occur in any cell's per-type scores."""
    return sorted({label for cell in cells for label in cell.per_type})


def closest_rate(available: Sequence[float], target: float) -> Optional[float]:
    """The available rate closest to the target (the lower one on ties)."""
    if not available:
        return None
    # Rounded distances, so float noise cannot break a tie (0.3 vs 0.5 for 0.4).
    return min(sorted(available), key=lambda rate: round(abs(rate - target), DIGITS))


def stat_at(stats: Dict[GroupKey, Stat], condition: str, rate: Optional[float]) -> Optional[Stat]:
    """A condition's statistic at an omission rate; reference conditions hold at every rate."""
    if condition in FIXED_CONDITIONS:
        return stats.get((condition, "reference", None))
    if rate is None:
        return None
    found = stats.get((condition, "rate", setting_value(rate)))
    if found is None and condition == "human-omit" and setting_value(rate) == 0.0:
        # No omissions is the clean gold: the grid trains it once, as human-clean.
        return stats.get((UPPER_BOUND, "reference", None))
    return found


def stat_for(
    stats: Dict[GroupKey, Stat], condition: str, kind: str, value: Optional[float]
) -> Optional[Stat]:
    """A condition's statistic at an omission rate (kind "rate") or a budget
    fraction (kind "budget")."""
    if kind == "budget":
        return None if value is None else stats.get((condition, "budget", setting_value(value)))
    return stat_at(stats, condition, value)


def table_conditions(cells: Sequence[CellResult]) -> List[str]:
    """The conditions with cells at full budget (rate or reference cells), in display order."""
    present = {
        cell.condition
        for cell in cells
        if cell.group[1] != "budget" and cell.condition not in BUDGET_CONDITIONS
    }
    return condition_order(present)


@dataclass(frozen=True)
class Incomplete:
    """A setting with fewer seeds than the fullest setting of its dataset."""

    condition: str
    kind: str
    value: Optional[float]
    n: int
    missing_seeds: Tuple[int, ...]


def _expected(cells: List[CellResult], seeds: Dict[GroupKey, Set[int]]) -> List[GroupKey]:
    expected: List[GroupKey] = []
    for condition in condition_order(c.condition for c in cells):
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
    return expected


def incomplete_groups(cells: Sequence[CellResult]) -> Tuple[List[Incomplete], List[str], int]:
    """Settings of a dataset with fewer seeds than the maximum, and
    conditions without any cell.

    A condition that was run is expected at every rate (budget) run for any
    condition of its kind, with every seed seen anywhere in the dataset.

    cells (Sequence[CellResult]): The cells of one dataset.
    RETURNS (Tuple[List[Incomplete], List[str], int]): The incomplete settings
        (n may be 0), the conditions with no cell at all, and the maximum
        number of seeds of a setting.
    """
    all_seeds = {c.seed for c in cells}
    seeds: Dict[GroupKey, Set[int]] = {}
    for cell in cells:
        seeds.setdefault(cell.group, set()).add(cell.seed)
    max_n = max((len(s) for s in seeds.values()), default=0)
    incomplete = [
        Incomplete(
            key[0],
            key[1],
            key[2],
            len(seeds.get(key, ())),
            tuple(sorted(all_seeds - seeds.get(key, set()))),
        )
        for key in _expected(list(cells), seeds)
        if len(seeds.get(key, ())) < max_n
    ]
    present = {c.condition for c in cells}
    absent = [c for c in CONDITIONS if c not in present]
    return incomplete, absent, max_n
