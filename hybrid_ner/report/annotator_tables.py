"""Markdown tables of the annotators: their proposals' quality, their
calibration and the omission rates they estimated."""

from typing import Any, Dict, List, Sequence

from ..experiment.result import CellResult
from .calibration import OmissionEstimate
from .format import DASH, condition_name, escape, format_rate, format_stat, md, number_text


def annotator_name(key: str, info: Dict[str, Any]) -> str:
    """An annotator's display name; the simulated one is always marked."""
    name = str(info.get("name") or key)
    if (info.get("simulated") or key == "simulated") and "simulated" not in name.lower():
        name += " (simulated)"
    return name


def annotator_table(annotators: Dict[str, Any]) -> str:
    """P/R/F1 per label of each annotator's proposals against the clean gold,
    with the predicted class share next to the gold share."""
    gold_share = annotators.get("gold_distribution") or {}
    rows = []
    for key, info in annotators["annotators"].items():
        if not isinstance(info, dict):
            continue
        name = escape(annotator_name(key, info))
        share = info.get("distribution") or {}
        overall = info.get("overall") or {}
        rows.append(
            [
                name,
                "all",
                *(number_text(overall.get(k)) for k in "prf"),
                number_text(overall.get("proposed"), 0),
                number_text(annotators.get("gold_entities"), 0),
                DASH,
                DASH,
            ]
        )
        for label, row in sorted((info.get("per_label") or {}).items()):
            rows.append(
                [
                    name,
                    escape(label),
                    *(number_text(row.get(k)) for k in "prf"),
                    number_text(row.get("proposed"), 0),
                    number_text(row.get("gold"), 0),
                    number_text(share.get(label)),
                    number_text(gold_share.get(label)),
                ]
            )
    header = [
        "Annotator",
        "Label",
        "P",
        "R",
        "F1",
        "Proposed",
        "Gold",
        "Predicted share",
        "Gold share",
    ]
    return md.table(rows, header, ["l", "l"] + ["r"] * 7)


def annotator_notes(annotators: Dict[str, Any]) -> List[str]:
    """One line each on the LLM's usage and on the cost assumptions."""
    lines = []
    usage = annotators.get("usage") or {}
    if usage:
        counts = ("requests", "prompt_tokens", "completion_tokens")
        parts = [
            f"{usage[k]:,} {k.replace('_', ' ')}" for k in counts if isinstance(usage.get(k), int)
        ]
        if isinstance(usage.get("wall_seconds"), (int, float)):
            parts.append(f"{usage['wall_seconds'] / 60:.1f} min wall time")
        lines.append("LLM usage: " + ", ".join(parts) + ".")
    costs = annotators.get("costs") or {}
    if costs:
        parts = [
            f"{k.replace('_', ' ')} {v:g}" for k, v in costs.items() if isinstance(v, (int, float))
        ]
        lines.append("Cost assumptions: " + ", ".join(parts) + ".")
    return lines


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
