"""The report's calibration section: the calibration records of the
calibrated cells and the omission rates they estimated."""

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from wasabi import MarkdownRenderer

from ..experiment.conditions import CALIBRATED_CONDITIONS, CONDITIONS, FOCUS_RATE, condition_order
from ..experiment.result import DIGITS, CellResult, GroupKey, setting_value
from .format import (
    DASH,
    annotator_name,
    condition_name,
    escape,
    format_rate,
    format_stat,
    md,
    number_text,
)
from .results import DatasetResults, Stat


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


def _ratio(value: Any) -> str:
    """A likelihood ratio: three significant digits, whatever its size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DASH
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def calibration_table(calibration: Dict[str, Any]) -> str:
    """Per label: precision and recall of the annotator on its calibration
    sample, proposals and gold entities there, and the likelihood ratios of a
    proposal and of silence."""
    rows = []
    for label, values in sorted((calibration.get("labels") or {}).items()):
        values = values if isinstance(values, dict) else {}
        rows.append(
            [
                escape(label),
                number_text(values.get("precision")),
                number_text(values.get("recall")),
                number_text(values.get("proposed"), 0),
                number_text(values.get("gold"), 0),
                _ratio(values.get("lr_proposed")),
                _ratio(values.get("lr_silence")),
            ]
        )
    header = ["Label", "Precision", "Recall", "Proposed", "Gold", "LR proposed", "LR silence"]
    return md.table(rows, header, ["l"] + ["r"] * 6)


def calibration_lines(cell: CellResult) -> List[str]:
    """Where a calibration record comes from, the omission rate it estimated
    next to the simulated one, and a warning when it is biased."""
    cal = cell.calibration or {}
    where = f"{format_rate(cell.omit_rate)} omissions"
    if cell.group[1] == "budget":
        where = f"budget {format_rate(cell.budget)}, " + where
    facts = [f"calibration sample `{escape(cal.get('source') or 'unknown')}`"]
    if isinstance(cal.get("tokens"), int):
        facts.append(f"{cal['tokens']:,} tokens")
    if isinstance(cal.get("position_match"), (int, float)):
        facts.append(f"position match {cal['position_match']:.3f}")
    lines = [
        f"From cell `{cell.name}` ({condition_name(cell.condition, with_id=False)}, seed "
        f"{cell.seed}, {where}): " + ", ".join(facts) + "."
    ]
    estimate = cal.get("omission_rate")
    source = cal.get("omission_source")
    estimated = number_text(estimate) + (f" ({escape(source)})" if source else "")
    lines.append(
        f"Estimated human omission rate: {estimated}; true simulated rate: {cell.omit_rate:.3f}."
    )
    if cal.get("no_evidence"):
        lines.append(
            "No evidence from the annotator: its calibration sample holds no proposals, so this "
            "cell is human-only training (human silence softened by ω)."
        )
    if cal.get("biased"):
        lines.append(
            "Biased: measured against the incomplete human annotation, not a clean calibration "
            "sample "
            "(proposals of omitted entities count as false)."
        )
    return lines


def omission_table(estimates: Sequence[OmissionEstimate]) -> str:
    """The estimated human omission rate of each calibrated setting next to the simulated rate."""
    rows = []
    for item in estimates:
        budget = (
            format_rate(item.value) if item.kind == "budget" and item.value is not None else "100%"
        )
        rows.append(
            [
                condition_name(item.condition),
                budget,
                f"{item.true_rate:.3f}",
                format_stat(item.estimate),
                escape("; ".join(item.sources) or DASH),
            ]
        )
    header = ["Condition", "Budget", "Simulated rate", "Estimated rate", "Estimated from"]
    return md.table(rows, header, ["l", "r", "r", "r", "l"])


#: The annotators of the calibration section: key in the cells, heading.
CALIBRATED_ANNOTATORS = {"llm": "LLM", "simulated": "Simulated annotator"}


def calibration_section(md: MarkdownRenderer, ds: DatasetResults, target_rate: float) -> None:
    """Add the calibration section of a dataset: per annotator, the record of
    the cell that stands for it (``calibration_cell``), then the omission
    rates each calibrated setting estimated."""
    md.add(md.title(3, "Calibration"))
    cells = ds.cells
    conditions = ", ".join(f"`{c}`" for c in CALIBRATED_CONDITIONS)
    md.add(
        f"The calibrated conditions ({conditions}) measure their annotator on a calibration "
        "sample with "
        "clean gold (the dev set) and mix labels by the per-token evidence. Per label: precision "
        "and recall of "
        "the proposals on that sample; LR proposed: how much likelier the annotator proposes the "
        "label on a "
        "true token of that label than on an outside token; LR silence: how much likelier silence "
        "is on a "
        f"true entity token than on an outside one (1: silence says nothing). Shown for seed 0 at "
        f"{format_rate(target_rate)} omissions where that cell exists, else for another "
        "calibrated cell."
    )
    annotators = (ds.annotators or {}).get("annotators") or {}
    found = False
    for key, heading in CALIBRATED_ANNOTATORS.items():
        cell = calibration_cell(cells, key, target_rate)
        if cell is None:
            continue
        found = True
        info = annotators.get(key)
        name = (
            f": {annotator_name(key, info)}" if isinstance(info, dict) and info.get("name") else ""
        )
        md.add(md.title(4, f"{heading}{name}"))
        for line in calibration_lines(cell):
            md.add(line)
        md.add(calibration_table(cell.calibration or {}))
    if not found:
        md.add("No cell carries a calibration record.")
    estimates = omission_estimates(cells)
    if estimates:
        md.add(md.title(4, "Estimated omission rate"))
        md.add(
            "The human omission rate each calibrated setting estimated (mean ± sd over seeds (n)) "
            "next to the "
            "rate the grid simulated."
        )
        md.add(omission_table(estimates))
