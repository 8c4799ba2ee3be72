"""The budget curves: F1 and annotation cost per fraction of documents a human annotated."""

from typing import Any, Dict, List, Sequence

from ..experiment.conditions import (
    FIXED_CONDITIONS,
    FULL_BUDGET_EQUIVALENT,
    UPPER_BOUND,
    condition_order,
)
from ..experiment.result import CellResult, GroupKey, setting_value
from .format import DASH, condition_name, format_rate, format_stat, md
from .results import aggregate, budgets, cost_part, f1


def budget_rows(cells: Sequence[CellResult]) -> List[Dict[str, Any]]:
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
                if full in FIXED_CONDITIONS
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
    return md.table(body, header, ["r", "l", "r", "r", "r", "r", "r"])
