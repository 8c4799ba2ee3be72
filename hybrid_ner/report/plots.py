"""PNG figures of the results, on ``matplotlib.figure.Figure`` rather than pyplot: no global
state, no GUI backend."""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import HybridNerError
from ..experiment.cells import DEFAULT_SELECTION
from ..experiment.conditions import is_simulated
from ..experiment.result import CellResult
from .document import condition_name, format_rate
from .results import Stat, aggregate, labels, settings, stat_at, table_conditions

#: Budget conditions share their hybrid's colour; unknown conditions are grey.
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
    "human-silence": "goldenrod",
}
#: The earlier λ label mixing: dashed, so the calibrated method stands out.
DASHED = ("hybrid-lambda-mixing", "sim-hybrid-lambda-mixing")


def _figure(size: Tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise HybridNerError(
            "The report's figures need matplotlib: pip install 'hybrid-ner[report]'"
        ) from None
    return Figure(figsize=size)


def _style(series: str) -> Dict[str, Any]:
    """Simulated conditions dotted with hollow squares; λ label mixing dashed; a series
    ``condition:selection`` (budget by uncertainty) with triangles."""
    condition, _, selection = series.partition(":")
    style: Dict[str, Any] = {"color": COLORS.get(condition, "tab:gray"), "marker": "o"}
    style["label"] = condition_name(condition, with_id=False)
    if selection:
        style.update(marker="^", label=f"{style['label']}, by {selection}")
    if is_simulated(condition):
        style.update(linestyle=":", marker="s", markerfacecolor="white")
    if condition in DASHED:
        style["linestyle"] = (0, (5, 2))
    return style


def _save(fig: Any, ax: Any, title: str, ylabel: str, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    # Outside the axes, so it never hides a line or bar.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, format="png", bbox_inches="tight")
    return path


def plot_lines(
    series: Sequence[Tuple[str, Sequence[float], Sequence[Stat]]],
    references: Dict[str, Stat],
    title: str,
    xlabel: str,
    path: Path,
    point_labels: Optional[Sequence[Sequence[str]]] = None,
) -> Optional[Path]:
    """F1 lines with sd error bars, references as horizontal lines; None with nothing to draw."""
    if not series and not references:
        return None
    fig = _figure((8, 5))
    ax = fig.add_subplot()
    for condition, stat in references.items():
        style = _style(condition)
        ax.axhline(stat.mean, color=style["color"], label=style["label"], linestyle="--")
        if stat.sd:
            ax.axhspan(stat.mean - stat.sd, stat.mean + stat.sd, color=style["color"], alpha=0.08)
    for i, (condition, xs, stats) in enumerate(series):
        means = [s.mean for s in stats]
        ax.errorbar(xs, means, yerr=[s.sd or 0.0 for s in stats], capsize=3, **_style(condition))
        for x, y, text in zip(xs, means, point_labels[i] if point_labels else ()):
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(xlabel)
    return _save(fig, ax, title, "Test F1 (mean ± sd over seeds)", path)


def plot_f1_vs_omission(cells: Sequence[CellResult], dataset: str, path: Path) -> Optional[Path]:
    """F1 against the omission rate per condition."""
    stats, rates = aggregate(cells), settings(cells, "rate")
    references, series = {}, []
    for condition in table_conditions(cells):
        reference = stat_at(stats, condition, None)
        if reference is not None:
            references[condition] = reference
            continue
        points = [(r, stat_at(stats, condition, r)) for r in rates]
        found = [(r, s) for r, s in points if s is not None]
        if found:
            series.append((condition, [r for r, _ in found], [s for _, s in found]))
    xlabel = "Omission rate (share of gold entities removed from the human annotation)"
    return plot_lines(series, references, f"{dataset}: F1 vs. omission rate", xlabel, path)


def plot_budget(rows: List[Dict[str, Any]], dataset: str, path: Path) -> Optional[Path]:
    """F1 against the total annotation cost (else the budget), a series per condition and
    selection."""
    by_cost = all(row["total"] is not None for row in rows)
    series, point_labels = [], []
    for key in dict.fromkeys((row["condition"], row["selection"]) for row in rows):
        mine = [row for row in rows if (row["condition"], row["selection"]) == key]
        condition = key[0] if key[1] == DEFAULT_SELECTION else ":".join(key)
        xs = [r["total"].mean if by_cost else r["budget"] for r in mine]
        points = sorted(zip(xs, mine), key=lambda point: point[0])
        series.append((condition, [x for x, _ in points], [row["f1"] for _, row in points]))
        point_labels.append([format_rate(row["budget"]) for _, row in points])
    xlabel = "Budget (fraction of documents annotated by humans)"
    if by_cost:
        xlabel = "Total annotation cost (mean over seeds)"
    title = f"{dataset}: F1 vs. annotation {'cost' if by_cost else 'budget'}"
    return plot_lines(series, {}, title, xlabel, path, point_labels)


def plot_per_label(
    cells: Sequence[CellResult], dataset: str, rate: Optional[float], path: Path
) -> Optional[Path]:
    """Grouped bars of F1 per label at one omission rate, one bar per condition."""
    names = labels(cells)
    stats = [aggregate(cells, lambda c, n=n: c.per_type.get(n, {}).get("f")) for n in names]
    bars = [
        (c, [stat_at(s, c, rate) for s in stats])
        for c in table_conditions(cells)
        if any(stat_at(s, c, rate) for s in stats)
    ]
    if not bars:
        return None
    fig = _figure((max(7, 1.6 * len(names) + 3), 5))
    ax = fig.add_subplot()
    width = 0.8 / len(bars)
    for i, (condition, found) in enumerate(bars):
        style = _style(condition)
        hatch = "//" if is_simulated(condition) else ".." if condition in DASHED else None
        ax.bar(
            [x - 0.4 + width * (i + 0.5) for x in range(len(names))],
            [s.mean if s else 0.0 for s in found],
            width,
            yerr=[(s.sd or 0.0) if s else 0.0 for s in found],
            color=style["color"],
            hatch=hatch,
            edgecolor="black" if hatch else "white",
            capsize=2,
            label=style["label"],
        )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylim(bottom=0)
    where = f"{format_rate(rate)} omissions" if rate is not None else "all rates"
    title = f"{dataset}: F1 per label at {where}"
    return _save(fig, ax, title, "Test F1 (mean ± sd over seeds)", path)
