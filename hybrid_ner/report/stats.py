"""Aggregate cells over seeds: metrics, mean ± sd per setting, and lookups."""

import statistics
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from ..experiment.conditions import FIXED_CONDITIONS, UPPER_BOUND
from ..experiment.result import DIGITS, CellResult, GroupKey, setting_value

Metric = Callable[[CellResult], Optional[float]]


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
