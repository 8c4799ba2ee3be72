"""Shared text formatting of the report: numbers, rates, condition names."""

from typing import Any, Optional

from wasabi import MarkdownRenderer

from ..experiment.conditions import CONDITIONS, is_simulated
from .stats import Stat

DASH = "—"
#: How each condition of the grid is named in tables and legends.
DISPLAY_NAMES = {
    "human-clean": "human, clean (upper bound)",
    "human-omit": "human with omissions (baseline)",
    "llm-only": "LLM only",
    "hybrid-random": "hybrid, random selection",
    "hybrid-label-mixing": "hybrid, calibrated label mixing (recommended)",
    "hybrid-lambda-mixing": "hybrid, λ label mixing (earlier)",
    "sim-only": "simulated annotator only",
    "sim-hybrid-random": "simulated hybrid, random selection",
    "sim-hybrid-label-mixing": "simulated hybrid, calibrated label mixing",
    "sim-hybrid-lambda-mixing": "simulated hybrid, λ label mixing (earlier)",
    "human-budget": "human, part of the documents",
    "hybrid-budget": "hybrid, part of the documents, calibrated",
    "sim-hybrid-budget": "simulated hybrid, part of the documents, calibrated",
    "human-negsample": "human, negative sampling of silence (LLM-free)",
    "human-silence": "human, silence softened by ω (LLM-free)",
    "human-selftrain": "human, part of the documents, self-training (LLM-free)",
}
UNKNOWN_NOTE = "not in the current grid"
#: The renderer of the report's markdown tables.
md = MarkdownRenderer(no_emoji=True)


def escape(text: str) -> str:
    """Make free text safe inside a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def format_stat(stat: Optional[Stat], digits: int = 3) -> str:
    """``mean ± sd (n)``; ``mean (1)`` for a single seed; a dash without data."""
    if stat is None:
        return DASH
    if stat.sd is None:
        return f"{stat.mean:.{digits}f} ({stat.n})"
    return f"{stat.mean:.{digits}f} ± {stat.sd:.{digits}f} ({stat.n})"


def format_rate(rate: float) -> str:
    """An omission rate or budget fraction as a percentage, e.g. ``40%``."""
    return f"{rate * 100:g}%"


def number_text(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; a dash for anything else."""
    return (
        f"{value:.{digits}f}"
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else DASH
    )


def condition_name(condition: str, with_id: bool = True) -> str:
    """A condition's display name, e.g. "hybrid, calibrated label mixing
    (recommended) — `hybrid-label-mixing`" (without the id for legends).

    Conditions the grid does not know (cells of an older grid) keep their id,
    marked as such (and as simulated where they are).
    """
    name = DISPLAY_NAMES.get(condition)
    if name is None or condition not in CONDITIONS:
        notes = [UNKNOWN_NOTE] + (["simulated"] if is_simulated(condition) else [])
        return f"{condition} ({', '.join(notes)})"
    if not with_id:
        return name
    return f"{name} — `{condition}`"
