"""Markdown tables of the aggregated results (plain GitHub markdown)."""

from typing import Any, Dict, List, Optional, Sequence

from wasabi import MarkdownRenderer

from .results import (
    BUDGET_CONDITIONS,
    CONDITIONS,
    FULL_BUDGET_EQUIVALENT,
    RATE_INDEPENDENT,
    UPPER_BOUND,
    Cell,
    GroupKey,
    OmissionEstimate,
    Stat,
    aggregate,
    budgets,
    condition_order,
    cost_part,
    f1,
    is_simulated,
    label_f1,
    labels,
    precision,
    recall,
    setting_value,
    stat_at,
)
from .targets import Target
from .transformer import GAP, StackComparison, Timing

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
}
UNKNOWN_NOTE = "not in the current grid"
_md = MarkdownRenderer(no_emoji=True)


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


def _number(value: Any, digits: int = 3) -> str:
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


def table_conditions(cells: Sequence[Cell]) -> List[str]:
    """The conditions with cells at full budget (rate or reference cells), in display order."""
    present = {
        cell.condition
        for cell in cells
        if cell.group[1] != "budget" and cell.condition not in BUDGET_CONDITIONS
    }
    return condition_order(present)


def f1_by_rate_table(cells: Sequence[Cell], rates: Sequence[float]) -> str:
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
            row.append(_md.bold(text) if best[rate] == condition else text)
        rows.append(row)
    header = ["Condition"] + [format_rate(r) if r is not None else "F1" for r in columns]
    return _md.table(rows, header, ["l"] + ["r"] * len(columns))


def prf_table(cells: Sequence[Cell], rate: Optional[float]) -> str:
    """Precision, recall and F1 per condition at one omission rate."""
    stats = [aggregate(cells, metric) for metric in (precision, recall, f1)]
    rows = [
        [condition_name(c)] + [format_stat(stat_at(s, c, rate)) for s in stats]
        for c in table_conditions(cells)
    ]
    return _md.table(rows, ["Condition", "P", "R", "F1"], ["l", "r", "r", "r"])


def per_label_table(cells: Sequence[Cell], rate: Optional[float]) -> str:
    """F1 per entity label (columns) and condition (rows) at one omission rate."""
    names = labels(cells)
    stats = {label: aggregate(cells, label_f1(label)) for label in names}
    rows = [
        [condition_name(c)] + [format_stat(stat_at(stats[label], c, rate)) for label in names]
        for c in table_conditions(cells)
    ]
    return _md.table(rows, ["Condition"] + names, ["l"] + ["r"] * len(names))


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
                *(_number(overall.get(k)) for k in "prf"),
                _number(overall.get("proposed"), 0),
                _number(annotators.get("gold_entities"), 0),
                DASH,
                DASH,
            ]
        )
        for label, row in sorted((info.get("per_label") or {}).items()):
            rows.append(
                [
                    name,
                    escape(label),
                    *(_number(row.get(k)) for k in "prf"),
                    _number(row.get("proposed"), 0),
                    _number(row.get("gold"), 0),
                    _number(share.get(label)),
                    _number(gold_share.get(label)),
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
    return _md.table(rows, header, ["l", "l"] + ["r"] * 7)


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


def budget_rows(cells: Sequence[Cell]) -> List[Dict[str, Any]]:
    """The points of the budget curves: each budget condition at each budget,
    plus its full-budget (1.0) equivalent at the budget cells' omission rate.

    RETURNS (List[Dict[str, Any]]): Rows with ``budget``, ``condition`` (the
        budget condition the point belongs to), ``source`` (the condition the
        cells come from), ``f1`` (Stat) and ``human``/``llm``/``total`` costs
        (Stat or None).
    """
    budget_cells = [c for c in cells if c.group[1] == "budget"]
    if not budget_cells:
        return []
    stats = {"f1": aggregate(cells, f1)}
    stats.update({part: aggregate(cells, cost_part(part)) for part in ("human", "llm", "total")})
    # The human part of budget cells is usually clean (omit_rate 0).
    omit_rates = [c.omit_rate for c in budget_cells]
    omit_rate = max(set(omit_rates), key=omit_rates.count)
    rows = []
    for condition in condition_order(c.condition for c in budget_cells):
        points = [(b, condition, (condition, "budget", b)) for b in budgets(budget_cells)]
        full = FULL_BUDGET_EQUIVALENT.get(condition)
        if full == UPPER_BOUND and omit_rate > 0:
            full = "human-omit"
        if full is not None:
            key: GroupKey = (
                (full, "reference", None)
                if full in RATE_INDEPENDENT
                else (full, "rate", setting_value(omit_rate))
            )
            points.append((1.0, full, key))
        for budget, source, key in points:
            if key in stats["f1"]:
                row = {part: stats[part].get(key) for part in ("human", "llm", "total")}
                rows.append(
                    {
                        "budget": budget,
                        "condition": condition,
                        "source": source,
                        "f1": stats["f1"][key],
                        **row,
                    }
                )
    human = {row["budget"]: row["f1"] for row in rows if row["condition"] == "human-budget"}
    for row in rows:
        reference = human.get(row["budget"]) if row["condition"] != "human-budget" else None
        row["vs_human"] = row["f1"].mean - reference.mean if reference is not None else None
    return sorted(rows, key=lambda row: row["budget"])


def budget_table(rows: Sequence[Dict[str, Any]]) -> str:
    """Budget fraction, condition, F1 and mean annotation cost per point."""
    body = []
    for row in rows:
        name = condition_name(row["condition"])
        if row["source"] != row["condition"]:
            name += f" ← `{row['source']}`"
        costs = [
            f"{row[p].mean:.2f}" if row[p] is not None else DASH for p in ("human", "llm", "total")
        ]
        delta = f"{row['vs_human']:+.3f}" if row.get("vs_human") is not None else DASH
        body.append([format_rate(row["budget"]), name, format_stat(row["f1"]), delta, *costs])
    header = ["Budget", "Condition", "F1", "Δ F1 vs human", "Human cost", "LLM cost", "Total cost"]
    return _md.table(body, header, ["r", "l", "r", "r", "r", "r", "r"])


def targets_table(targets: Sequence[Target]) -> str:
    """Each check of each target with met / not met / no data and the numbers behind it."""
    rows = [
        [escape(t.group or DASH), escape(t.question), _md.bold(t.status), escape(t.detail)]
        for t in targets
    ]
    return _md.table(rows, ["Target", "Check", "Result", "Details"])


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
                _number(values.get("precision")),
                _number(values.get("recall")),
                _number(values.get("proposed"), 0),
                _number(values.get("gold"), 0),
                _ratio(values.get("lr_proposed")),
                _ratio(values.get("lr_silence")),
            ]
        )
    header = ["Label", "Precision", "Recall", "Proposed", "Gold", "LR proposed", "LR silence"]
    return _md.table(rows, header, ["l"] + ["r"] * 6)


def calibration_lines(cell: Cell) -> List[str]:
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
        f"From cell `{cell.path.stem}` ({condition_name(cell.condition, with_id=False)}, seed {cell.seed}, {where}): "
        + ", ".join(facts)
        + "."
    ]
    estimate = cal.get("omission_rate")
    source = cal.get("omission_source")
    estimated = _number(estimate) + (f" ({escape(source)})" if source else "")
    lines.append(
        f"Estimated human omission rate: {estimated}; true simulated rate: {cell.omit_rate:.3f}."
    )
    if cal.get("biased"):
        lines.append(
            "Biased: measured against the incomplete human annotation, not a clean calibration sample "
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
    return _md.table(rows, header, ["l", "r", "r", "r", "l"])


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
    return _md.table(rows, header, ["l", "r", "r", "r", "r"])


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
        f"spaCy transition NER, same transformer stack, clean: F1 {format_stat(comparison.transition_f1)} "
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
