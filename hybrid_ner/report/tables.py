"""Markdown tables of the aggregated scores (plain GitHub markdown).

The annotator, calibration, budget and transformer tables are in
``annotator_tables``, ``budget`` and ``stack_tables`` (re-exported here).
"""

from typing import Dict, List, Optional, Sequence

from ..experiment.conditions import BUDGET_CONDITIONS, UPPER_BOUND, condition_order
from ..experiment.result import CellResult
from .annotator_tables import (
    annotator_name,
    annotator_notes,
    annotator_table,
    calibration_lines,
    calibration_table,
    omission_table,
)
from .budget import budget_rows, budget_table
from .format import (
    DASH,
    DISPLAY_NAMES,
    UNKNOWN_NOTE,
    condition_name,
    escape,
    format_rate,
    format_stat,
    md,
)
from .stack_tables import gap_line, stack_table, timing_line, transition_line
from .stats import aggregate, f1, label_f1, labels, precision, recall, stat_at
from .targets import Target

__all__ = [
    "DASH",
    "DISPLAY_NAMES",
    "UNKNOWN_NOTE",
    "annotator_name",
    "annotator_notes",
    "annotator_table",
    "budget_rows",
    "budget_table",
    "calibration_lines",
    "calibration_table",
    "condition_name",
    "escape",
    "f1_by_rate_table",
    "format_rate",
    "format_stat",
    "gap_line",
    "omission_table",
    "per_label_table",
    "prf_table",
    "stack_table",
    "table_conditions",
    "targets_table",
    "timing_line",
    "transition_line",
]


def table_conditions(cells: Sequence[CellResult]) -> List[str]:
    """The conditions with cells at full budget (rate or reference cells), in display order."""
    present = {
        cell.condition
        for cell in cells
        if cell.group[1] != "budget" and cell.condition not in BUDGET_CONDITIONS
    }
    return condition_order(present)


def f1_by_rate_table(cells: Sequence[CellResult], rates: Sequence[float]) -> str:
    """Rows = conditions, columns = omission rates, F1 ``mean ± sd (n)``.

    Rate-independent conditions repeat their value in every column. The best
    condition other than the upper bound is bold in each column.
    """
    stats = aggregate(cells, f1)
    conditions = table_conditions(cells)
    columns: List[Optional[float]] = list(rates) or [None]
    best: Dict[Optional[float], Optional[str]] = {}
    for rate in columns:
        upper = stat_at(stats, UPPER_BOUND, rate)
        candidates = [(stat_at(stats, c, rate), c) for c in conditions if c != UPPER_BOUND]
        # human-omit at 0% is the upper bound itself (see stat_at): not a competitor.
        found = [(stat.mean, c) for stat, c in candidates if stat is not None and stat is not upper]
        # "Best" of a single condition says nothing.
        best[rate] = max(found)[1] if len(found) > 1 else None
    rows = []
    for condition in conditions:
        row = [condition_name(condition)]
        for rate in columns:
            text = format_stat(stat_at(stats, condition, rate))
            row.append(md.bold(text) if best[rate] == condition else text)
        rows.append(row)
    header = ["Condition"] + [format_rate(r) if r is not None else "F1" for r in columns]
    return md.table(rows, header, ["l"] + ["r"] * len(columns))


def prf_table(cells: Sequence[CellResult], rate: Optional[float]) -> str:
    """Precision, recall and F1 per condition at one omission rate."""
    stats = [aggregate(cells, metric) for metric in (precision, recall, f1)]
    rows = [
        [condition_name(c)] + [format_stat(stat_at(s, c, rate)) for s in stats]
        for c in table_conditions(cells)
    ]
    return md.table(rows, ["Condition", "P", "R", "F1"], ["l", "r", "r", "r"])


def per_label_table(cells: Sequence[CellResult], rate: Optional[float]) -> str:
    """F1 per entity label (columns) and condition (rows) at one omission rate."""
    names = labels(cells)
    stats = {label: aggregate(cells, label_f1(label)) for label in names}
    rows = [
        [condition_name(c)] + [format_stat(stat_at(stats[label], c, rate)) for label in names]
        for c in table_conditions(cells)
    ]
    return md.table(rows, ["Condition"] + names, ["l"] + ["r"] * len(names))


def targets_table(targets: Sequence[Target]) -> str:
    """Each check of each target with met / not met / no data and the numbers behind it."""
    rows = [
        [escape(t.group or DASH), escape(t.question), md.bold(t.status), escape(t.detail)]
        for t in targets
    ]
    return md.table(rows, ["Target", "Check", "Result", "Details"])
