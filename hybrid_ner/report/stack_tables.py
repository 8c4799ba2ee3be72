"""Markdown of the transformer grid next to the CPU grid."""

from typing import Optional, Sequence

from ..experiment.conditions import UPPER_BOUND
from .format import DASH, condition_name, format_rate, format_stat, md
from .transformer import GAP, StackComparison, Timing


def stack_table(comparison: StackComparison) -> str:
    """Per condition: transformer F1, the CPU grid's F1 at the same rate, and
    the transformer's P and R, each ``mean ± sd (n)``."""
    rows = [
        [
            condition_name(row.condition),
            format_stat(row.f1),
            format_stat(row.cpu_f1),
            format_stat(row.p),
            format_stat(row.r),
        ]
        for row in comparison.rows
    ]
    header = ["Condition", "Transformer F1", "CPU F1", "Transformer P", "Transformer R"]
    return md.table(rows, header, ["l", "r", "r", "r", "r"])


def _signed(value: Optional[float]) -> str:
    return f"{value:+.3f}" if value is not None else DASH


def gap_line(comparison: StackComparison) -> str:
    """The gap GAP[0] − GAP[1] in mean F1 on each stack (plain text)."""
    where = f" at {format_rate(comparison.rate)} omissions" if comparison.rate is not None else ""
    return (
        f"Gap {GAP[0]} − {GAP[1]}{where} (mean F1): "
        f"CPU: {_signed(comparison.cpu_gap)}, transformer: {_signed(comparison.gap)}."
    )


def transition_line(comparison: StackComparison) -> Optional[str]:
    """spaCy's transition NER on the clean data next to the soft NER's
    ``human-clean`` F1 (plain text); None without a transition score."""
    if comparison.transition_f1 is None:
        return None
    p, r = comparison.transition_p, comparison.transition_r
    pr = (
        f"; transition NER P {p.mean:.3f}, R {r.mean:.3f}"
        if p is not None and r is not None
        else ""
    )
    return (
        "spaCy transition NER, same transformer stack, clean: F1 "
        f"{format_stat(comparison.transition_f1)} "
        f"vs soft NER {format_stat(comparison.soft_clean)} ({UPPER_BOUND}{pr})."
    )


def _steps(steps: Sequence[int]) -> str:
    if not steps:
        return "steps not recorded"
    return f"{steps[0]} steps" if len(steps) == 1 else f"{steps[0]}–{steps[-1]} steps"


def _timing(item: Optional[Timing]) -> str:
    if item is None:
        return "no training times"
    per_step = f", {item.seconds_per_step:.3g} s/step" if item.seconds_per_step is not None else ""
    cells = f"{item.cells} cell{'s' if item.cells != 1 else ''}"
    return f"{_steps(item.steps)}, median {item.median_seconds:.1f} s{per_step} ({cells})"


def timing_line(comparison: StackComparison) -> str:
    """Steps, median training seconds per cell and seconds per step of the
    cells in the table, on each stack (plain text)."""
    return (
        f"Training per cell: transformer {_timing(comparison.timing)}; "
        f"CPU {_timing(comparison.cpu_timing)}."
    )
