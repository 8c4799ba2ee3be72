"""The calibration records of the calibrated cells and the omission rates they estimated."""

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..experiment.conditions import CONDITIONS, FOCUS_RATE, condition_order
from ..experiment.result import DIGITS, CellResult, GroupKey, setting_value
from .stats import Stat


def calibrated_cells(cells: Iterable[CellResult], annotator: str) -> List[CellResult]:
    """The cells of one annotator ("llm" or "simulated") that carry a calibration record."""
    simulated = annotator == "simulated"
    return [
        c
        for c in cells
        if c.calibration is not None and c.annotator != "none" and c.simulated == simulated
    ]


def calibration_cell(
    cells: Iterable[CellResult], annotator: str, rate: float = FOCUS_RATE, seed: int = 0
) -> Optional[CellResult]:
    """The cell whose calibration record stands for an annotator in the report:
    the calibrated rate cell of ``seed`` at ``rate`` if there is one, else any
    calibrated cell of the annotator (rate cells before budget cells, then
    the closest rate, then ``seed``).

    cells (Iterable[CellResult]): The cells of one dataset.
    annotator (str): "llm" or "simulated".
    rate (float): The omission rate wanted.
    seed (int): The seed wanted.
    RETURNS (Optional[CellResult]): The cell, or None without calibrated cells.
    """
    order = {c: i for i, c in enumerate(CONDITIONS)}

    def rank(cell: CellResult) -> Tuple[Any, ...]:
        kind = cell.group[1]
        exact = (
            kind == "rate"
            and setting_value(cell.omit_rate) == setting_value(rate)
            and cell.seed == seed
        )
        return (
            not exact,
            kind != "rate",
            round(abs(cell.omit_rate - rate), DIGITS),
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


def _estimate(cell: CellResult) -> Optional[float]:
    value = (cell.calibration or {}).get("omission_rate")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def omission_estimates(cells: Iterable[CellResult]) -> List[OmissionEstimate]:
    """The estimated omission rate of each calibrated setting (mean ± sd over seeds).

    cells (Iterable[CellResult]): The cells of one dataset.
    RETURNS (List[OmissionEstimate]): In condition display order, then by rate or budget.
    """
    values: Dict[GroupKey, List[float]] = {}
    sources: Dict[GroupKey, List[str]] = {}
    true_rates: Dict[GroupKey, float] = {}
    for cell in cells:
        estimate = _estimate(cell)
        if estimate is None:
            continue
        values.setdefault(cell.group, []).append(estimate)
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
