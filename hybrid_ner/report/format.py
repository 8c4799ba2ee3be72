"""Shared text of the report's tables and figures: numbers, rates and the
names of conditions and annotators."""

from typing import Any, Dict, Optional

from .results import Stat

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


def escape(text: Any) -> str:
    """Make free text safe inside a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def format_stat(stat: Optional[Stat], digits: int = 3) -> str:
    """``mean ± sd (n)``; ``mean (1)`` for a single seed; a dash without data."""
    if stat is None:
        return DASH
    sd = f" ± {stat.sd:.{digits}f}" if stat.sd is not None else ""
    return f"{stat.mean:.{digits}f}{sd} ({stat.n})"


def format_rate(rate: float) -> str:
    """An omission rate or budget fraction as a percentage, e.g. ``40%``."""
    return f"{rate * 100:g}%"


def number_text(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; a dash for anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{digits}f}"
    return DASH


def condition_name(condition: str, with_id: bool = True) -> str:
    """A condition's display name, with its id in backticks unless ``with_id`` is False."""
    name = DISPLAY_NAMES[condition]
    return f"{name} — `{condition}`" if with_id else name


def annotator_name(key: str, info: Dict[str, Any]) -> str:
    """An annotator's display name; the simulated one is always marked."""
    name = str(info.get("name") or key)
    if (info.get("simulated") or key == "simulated") and "simulated" not in name.lower():
        name += " (simulated)"
    return name
