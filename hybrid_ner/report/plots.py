"""PNG figures of the results, drawn with matplotlib's Agg canvas.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no
global state or GUI backend is involved and nothing leaks between plots.
matplotlib is imported when a figure is drawn: it is the ``report`` extra.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..errors import HybridNerError
from ..experiment.conditions import is_simulated
from ..experiment.result import CellResult
from .format import annotator_name, condition_name, format_rate
from .results import aggregate, f1, label_f1, labels, rates, stat_at, table_conditions

DPI = 120
COLORS = {
    "human-clean": "black",
    "human-omit": "tab:red",
    "llm-only": "tab:purple",
    "hybrid-random": "tab:orange",
    "hybrid-label-mixing": "tab:blue",
    "hybrid-lambda-mixing": "tab:cyan",
    "sim-only": "tab:pink",
    "sim-hybrid-random": "tab:brown",
    "sim-hybrid-label-mixing": "tab:green",
    "sim-hybrid-lambda-mixing": "tab:olive",
    "human-budget": "tab:red",
    "hybrid-budget": "tab:blue",
    "sim-hybrid-budget": "tab:green",
    "human-negsample": "tab:gray",
    "human-silence": "goldenrod",
    "human-selftrain": "tab:gray",
}
#: The earlier λ label mixing: dashed, so the calibrated method stands out.
DASHED = ("hybrid-lambda-mixing", "sim-hybrid-lambda-mixing")
SIMULATED_HATCH = "//"
DASHED_HATCH = ".."


def _figure(figsize: Any) -> Any:
    """A new matplotlib Figure (matplotlib imported here, not on import)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise HybridNerError(
            "The report's figures need matplotlib: pip install 'hybrid-ner[report]'"
        ) from None
    return Figure(figsize=figsize)


def _hatch(condition: str) -> Optional[str]:
    hatch = (SIMULATED_HATCH if is_simulated(condition) else "") + (
        DASHED_HATCH if condition in DASHED else ""
    )
    return hatch or None


def _line_style(condition: str, reference: bool = False) -> Dict[str, Any]:
    """Simulated conditions: dotted lines and hollow markers, to stand apart;
    the earlier λ label mixing: dashed."""
    style: Dict[str, Any] = {"linestyle": "--" if reference else "-", "marker": "o"}
    if is_simulated(condition):
        style = {"linestyle": "-." if reference else ":", "marker": "s", "markerfacecolor": "white"}
    if not reference and condition in DASHED:
        style["linestyle"] = (0, (5, 2))
    return style


def _legend(ax: Any) -> None:
    # Outside the axes, so it never hides a line or bar.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _save(fig: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI, format="png", bbox_inches="tight")
    return path


def plot_f1_vs_omission(cells: Sequence[CellResult], dataset: str, path: Path) -> Optional[Path]:
    """F1 against the omission rate, one line per condition with sd error bars;
    rate-independent conditions as dashed horizontal lines.

    RETURNS (Optional[Path]): The PNG, or None when there is nothing to draw.
    """
    stats = aggregate(cells, f1)
    conditions = table_conditions(cells)
    if not conditions:
        return None
    fig = _figure((8, 5))
    ax = fig.add_subplot()
    xs_all = rates(cells)
    colors = {c: COLORS[c] for c in conditions}
    for condition in conditions:
        color = colors[condition]
        reference = stat_at(stats, condition, None)
        if reference is not None:
            ax.axhline(
                reference.mean,
                color=color,
                label=condition_name(condition, with_id=False),
                linewidth=1.5,
                linestyle=_line_style(condition, True)["linestyle"],
            )
            if reference.sd:
                ax.axhspan(reference.low, reference.high, color=color, alpha=0.08)
            continue
        points = [(rate, stat_at(stats, condition, rate)) for rate in xs_all]
        points = [(rate, stat) for rate, stat in points if stat is not None]
        if points:
            ax.errorbar(
                [rate for rate, _ in points],
                [s.mean for _, s in points],
                yerr=[s.sd or 0.0 for _, s in points],
                color=color,
                label=condition_name(condition, with_id=False),
                capsize=3,
                linewidth=1.5,
                **_line_style(condition),
            )
    if xs_all:
        ax.set_xticks(xs_all)
        ax.set_xticklabels([format_rate(rate) for rate in xs_all])
    ax.set_xlabel("Omission rate (share of gold entities removed from the human annotation)")
    ax.set_ylabel("Test F1 (mean ± sd over seeds)")
    ax.set_title(f"{dataset}: F1 vs. omission rate")
    ax.grid(alpha=0.3)
    _legend(ax)
    return _save(fig, path)


def plot_per_label(
    cells: Sequence[CellResult], dataset: str, rate: Optional[float], path: Path
) -> Optional[Path]:
    """Grouped bars of F1 per label at one omission rate, one bar per condition."""
    names = labels(cells)
    stats = {label: aggregate(cells, label_f1(label)) for label in names}
    conditions = [
        c for c in table_conditions(cells) if any(stat_at(stats[label], c, rate) for label in names)
    ]
    if not names or not conditions:
        return None
    fig = _figure((max(7, 1.6 * len(names) + 3), 5))
    ax = fig.add_subplot()
    width = 0.8 / len(conditions)
    colors = {c: COLORS[c] for c in conditions}
    for i, condition in enumerate(conditions):
        found = [stat_at(stats[label], condition, rate) for label in names]
        hatch = _hatch(condition)
        ax.bar(
            [x - 0.4 + width * (i + 0.5) for x in range(len(names))],
            [s.mean if s else 0.0 for s in found],
            width,
            yerr=[(s.sd or 0.0) if s else 0.0 for s in found],
            color=colors[condition],
            hatch=hatch,
            edgecolor="black" if hatch else "white",
            capsize=2,
            label=condition_name(condition, with_id=False),
        )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("Test F1 (mean ± sd over seeds)")
    ax.set_ylim(bottom=0)
    where = f"{format_rate(rate)} omissions" if rate is not None else "all rates"
    ax.set_title(f"{dataset}: F1 per label at {where}")
    ax.grid(axis="y", alpha=0.3)
    _legend(ax)
    return _save(fig, path)


def plot_annotator_quality(annotators: Dict[str, Any], dataset: str, path: Path) -> Optional[Path]:
    """Precision and recall per label of each annotator, side by side."""
    entries = {k: v for k, v in (annotators.get("annotators") or {}).items() if isinstance(v, dict)}
    names = sorted({label for info in entries.values() for label in (info.get("per_label") or {})})
    if not entries or not names:
        return None
    fig = _figure((max(10, 2.4 * len(names) + 2), 4.5))
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / len(entries)
    for ax, metric, title in zip(axes, ("p", "r"), ("Precision", "Recall")):
        for i, (key, info) in enumerate(entries.items()):
            per_label = info.get("per_label") or {}
            simulated = bool(info.get("simulated")) or key == "simulated"
            ax.bar(
                [x - 0.4 + width * (i + 0.5) for x in range(len(names))],
                [float((per_label.get(label) or {}).get(metric) or 0.0) for label in names],
                width,
                color="tab:green" if simulated else "tab:blue",
                hatch=SIMULATED_HATCH if simulated else None,
                edgecolor="black" if simulated else "white",
                label=annotator_name(key, info),
            )
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names)
        ax.set_title(title)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("Against the clean gold of the training set")
    # Below both panels: the bars fill the axes up to 1.0.
    handles, names_ = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        names_,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=len(entries),
    )
    fig.suptitle(f"{dataset}: annotator proposals, precision and recall per label")
    return _save(fig, path)


def plot_budget(rows: List[Dict[str, Any]], dataset: str, path: Path) -> Optional[Path]:
    """F1 against the total annotation cost (or the budget fraction when the
    cost is unknown), one series per budget condition, points labelled by budget."""
    if not rows:
        return None
    by_cost = all(row["total"] is not None for row in rows)
    fig = _figure((8, 5))
    ax = fig.add_subplot()
    conditions: List[str] = []
    for row in rows:
        if row["condition"] not in conditions:
            conditions.append(row["condition"])
    colors = {c: COLORS[c] for c in conditions}
    for condition in conditions:
        points = sorted(
            (
                (row["total"].mean if by_cost else row["budget"], row)
                for row in rows
                if row["condition"] == condition
            ),
            key=lambda point: point[0],
        )
        ax.errorbar(
            [x for x, _ in points],
            [row["f1"].mean for _, row in points],
            yerr=[row["f1"].sd or 0.0 for _, row in points],
            color=colors[condition],
            label=condition_name(condition, with_id=False),
            capsize=3,
            **_line_style(condition),
        )
        for x, row in points:
            ax.annotate(
                format_rate(row["budget"]),
                (x, row["f1"].mean),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
            )
    ax.set_xlabel(
        "Total annotation cost (mean over seeds)"
        if by_cost
        else "Budget (fraction of documents annotated by humans)"
    )
    ax.set_ylabel("Test F1 (mean ± sd over seeds)")
    ax.set_title(f"{dataset}: F1 vs. annotation {'cost' if by_cost else 'budget'}")
    ax.grid(alpha=0.3)
    _legend(ax)
    return _save(fig, path)
