"""The markdown report: a section per dataset, and the names and numbers of its text."""

from typing import Any, Dict, List, Optional, Sequence

from wasabi import MarkdownRenderer

from ..experiment.cells import DEFAULT_SELECTION
from ..experiment.conditions import FIXED_CONDITIONS, LLM_FREE_CONDITIONS, UPPER_BOUND
from ..experiment.result import DIGITS, CellResult, GroupKey
from .results import (
    DatasetResults,
    Metric,
    Stat,
    aggregate,
    budget_rows,
    closest_rate,
    f1,
    incomplete_groups,
    labels,
    omega_rows,
    reach_rows,
    settings,
    stat_at,
    table_conditions,
)

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
    "sim-human-budget": "human, part of the documents, chosen by the simulated annotator",
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


#: Figure kinds and their captions.
FIGURES = {
    "f1_vs_omission": "F1 vs. omission rate",
    "per_label": "F1 per label",
    "budget": "F1 vs. annotation cost",
}
SAMPLES = "samples"
SECOND_GRID_TITLE = "Transformer pipeline"
#: Calibration records' warnings.
WARNINGS = {
    "no_evidence": "No evidence from the annotator: its calibration sample holds no proposals, "
    "so this cell is human-only training (human silence softened by ω).",
    "biased": "Biased: measured against the incomplete human annotation, not a clean "
    "calibration sample (proposals of omitted entities count as false).",
}
#: Precision, recall and F1 of a cell.
PRF: Dict[str, Metric] = {"P": lambda c: c.p, "R": lambda c: c.r, "F1": f1}


def table(md: MarkdownRenderer, header: Sequence[str], rows: List[List[str]], left: int = 1) -> str:
    """A markdown table: the first ``left`` columns left-aligned, the rest right-aligned."""
    aligns = ["l"] * left + ["r"] * (len(header) - left)
    return md.table(rows, list(header), aligns)  # type: ignore[arg-type]


def at_rate(rate: Optional[float]) -> str:
    """ " at 40% omissions", for headings and sentences."""
    return f" at {format_rate(rate)} omissions" if rate is not None else " (no omission rates yet)"


def f1_by_rate_table(md: MarkdownRenderer, cells: Sequence[CellResult]) -> str:
    """F1 per condition (rows) and omission rate (columns), the best non-upper-bound bold."""
    stats = aggregate(cells)
    conditions = table_conditions(cells)
    columns: List[Optional[float]] = list(settings(cells, "rate")) or [None]
    rows = [[condition_name(c)] for c in conditions]
    for rate in columns:
        found = [(stat_at(stats, c, rate), c) for c in conditions]
        upper = stat_at(stats, UPPER_BOUND, rate)
        # human-omit at 0% is the upper bound itself (see stat_at): no competitor.
        means = [(s.mean, c) for s, c in found if s is not None and s is not upper]
        best = max(means)[1] if len(means) > 1 else None
        for row, (stat, condition) in zip(rows, found):
            row.append(md.bold(format_stat(stat)) if condition == best else format_stat(stat))
    rows += _against_llm_free(stats, columns)
    header = ["Condition"] + [format_rate(r) if r is not None else "F1" for r in columns]
    return table(md, header, rows)


def _against_llm_free(
    stats: Dict[GroupKey, Stat], columns: Sequence[Optional[float]]
) -> List[List[str]]:
    """The best LLM-free baseline per column and each hybrid's difference to it."""
    best = []
    for rate in columns:
        found = [(s.mean, c) for c in LLM_FREE_CONDITIONS if (s := stat_at(stats, c, rate))]
        best.append(max(found) if found else None)
    if not any(best):
        return []
    rows = [["Best LLM-free"] + [f"{b[0]:.3f} (`{b[1]}`)" if b else DASH for b in best]]
    for hybrid in ("hybrid-label-mixing", "sim-hybrid-label-mixing"):
        found = [stat_at(stats, hybrid, rate) for rate in columns]
        if any(found):
            rows.append(
                [f"Δ {condition_name(hybrid)} vs best LLM-free"]
                + [f"{s.mean - b[0]:+.3f}" if s and b else DASH for s, b in zip(found, best)]
            )
    return rows


def stat_table(
    md: MarkdownRenderer,
    columns: Dict[str, Dict[GroupKey, Stat]],
    conditions: Sequence[str],
    rate: Optional[float],
    extra: Sequence[List[str]] = (),
) -> str:
    """A row per condition, a column per entry of ``columns`` at ``rate``, then ``extra``."""
    rows = [
        [condition_name(c)] + [format_stat(stat_at(s, c, rate)) for s in columns.values()]
        for c in conditions
    ]
    return table(md, ["Condition", *columns], rows + list(extra))


def second_grid_section(
    md: MarkdownRenderer,
    other: DatasetResults,
    cells: Sequence[CellResult],
    target_rate: float,
    level: int = 3,
    title: str = SECOND_GRID_TITLE,
) -> None:
    """A second grid's F1, P and R beside the first grid's F1, then its evaluate scores."""
    rate = closest_rate(settings(other.cells, "rate"), target_rate)
    columns = {k: aggregate(other.cells, PRF[k]) for k in ("F1", "P", "R")}
    columns["F1 of this grid"] = aggregate(cells)
    shown = [c for c in table_conditions(other.cells) if stat_at(columns["F1"], c, rate)]
    extra = []
    for name, scores in other.evaluated.items():
        stats = [Stat.of([float(s[f"ents_{k}"]) for s in scores]) for k in ("f", "p", "r")]
        extra.append([f"`{escape(name)}` (`spacy evaluate`)", *map(format_stat, stats), DASH])
    configs = ", ".join(f"`{c}`" for c in sorted({c.config for c in other.cells if c.config}))
    md.add(md.title(level, title))
    md.add(
        f"The cells of `{other.path}`{f' ({configs})' if configs else ''}{at_rate(rate)}, "
        "test F1, P and R, mean ± sd (n), next to the F1 of this grid's cells at the same "
        "rate; then the pipelines scored by `spacy evaluate --output` into that folder."
    )
    md.add(stat_table(md, columns, shown, rate, extra))


def annotator_section(md: MarkdownRenderer, info: Dict[str, Any]) -> None:
    """Each annotator's P/R/F1 and label shares per label, then LLM usage and costs."""
    md.add(
        f"Proposals on the {info.get('sentences', '?')} training sentences against their clean "
        f"gold ({info.get('gold_entities', '?')} entities). Shares: each label's part of the "
        "annotator's proposals and of the gold entities."
    )
    gold_share = info.get("gold_distribution") or {}
    rows = []
    for key, entry in info["annotators"].items():
        if not isinstance(entry, dict):
            continue
        name, share = escape(annotator_name(key, entry)), entry.get("distribution") or {}
        overall = entry.get("overall") or {}
        rows.append(
            [name, "all", *(number_text(overall.get(k)) for k in "prf")]
            + [number_text(overall.get("proposed"), 0), number_text(info.get("gold_entities"), 0)]
            + [DASH, DASH]
        )
        for label, row in sorted((entry.get("per_label") or {}).items()):
            rows.append(
                [name, escape(label), *(number_text(row.get(k)) for k in "prf")]
                + [number_text(row.get("proposed"), 0), number_text(row.get("gold"), 0)]
                + [number_text(share.get(label)), number_text(gold_share.get(label))]
            )
    header = ["Annotator", "Label", "P", "R", "F1", "Proposed", "Gold"]
    md.add(table(md, header + ["Predicted share", "Gold share"], rows, left=2))
    usage = info.get("usage") or {}
    counts = ("requests", "prompt_tokens", "completion_tokens")
    parts = [f"{usage[k]:,} {k.replace('_', ' ')}" for k in counts if isinstance(usage.get(k), int)]
    if isinstance(usage.get("wall_seconds"), (int, float)):
        parts.append(f"{usage['wall_seconds'] / 60:.1f} min wall time")
    if parts:
        md.add("LLM usage: " + ", ".join(parts) + ".")
    costs = (info.get("costs") or {}).items()
    parts = [f"{k.replace('_', ' ')} {v:g}" for k, v in costs if isinstance(v, (int, float))]
    if parts:
        md.add("Cost assumptions: " + ", ".join(parts) + ".")


def _ratio(value: Any) -> str:
    """A likelihood ratio: three significant digits, whatever its size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DASH
    return f"{value:.{0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2}f}"


def calibration_section(md: MarkdownRenderer, ds: DatasetResults, target_rate: float) -> None:
    """Per annotator, the calibration record of one cell, then each setting's estimated ω."""
    md.add(md.title(3, "Calibration"))
    md.add(
        "The calibrated conditions measure their annotator on a calibration sample with clean "
        "gold (the dev set) and mix labels by the per-token evidence. Per label: precision and "
        "recall of the proposals on that sample; LR proposed: how much likelier the annotator "
        "proposes the label on a true token of that label than on an outside token; LR silence: "
        "how much likelier silence is on a true entity token than on an outside one (1: silence "
        f"says nothing). Shown for the lowest seed at {format_rate(target_rate)} omissions where "
        "that cell exists, else for another calibrated cell."
    )
    annotators = (ds.annotators or {}).get("annotators") or {}
    for key, heading in (("llm", "LLM"), ("simulated", "Simulated annotator")):
        found = [c for c in ds.cells if c.calibration and c.annotator != "none"]
        found = [c for c in found if c.simulated == (key != "llm")]
        if not found:
            continue
        found.sort(key=lambda c: (c.seed, c.name))  # ties: the lowest seed
        cell = min(
            found,
            key=lambda c: (c.group[1] != "rate", round(abs(c.omit_rate - target_rate), DIGITS)),
        )
        cal = cell.calibration or {}
        info = annotators.get(key)
        named = isinstance(info, dict) and info.get("name")
        md.add(md.title(4, heading + (f": {annotator_name(key, info)}" if named else "")))
        where = f"{format_rate(cell.omit_rate)} omissions"
        if cell.group[1] == "budget":
            where = f"budget {format_rate(cell.budget)}, {where}"
        facts = [f"calibration sample `{escape(cal.get('source') or 'unknown')}`"]
        if isinstance(cal.get("tokens"), int):
            facts.append(f"{cal['tokens']:,} tokens")
        if isinstance(cal.get("position_match"), (int, float)):
            facts.append(f"position match {cal['position_match']:.3f}")
        md.add(
            f"From cell `{cell.name}` ({condition_name(cell.condition, with_id=False)}, seed "
            f"{cell.seed}, {where}): " + ", ".join(facts) + "."
        )
        source = cal.get("omission_source")
        md.add(
            f"Estimated human omission rate: {number_text(cal.get('omission_rate'))}"
            + (f" ({escape(source)})" if source else "")
            + f"; true simulated rate: {cell.omit_rate:.3f}."
        )
        warnings = [text for flag, text in WARNINGS.items() if cal.get(flag)]
        if warnings:
            md.add(" ".join(warnings))
        rows = [
            [escape(label)]
            + [number_text(v.get(k)) for k in ("precision", "recall")]
            + [number_text(v.get(k), 0) for k in ("proposed", "gold")]
            + [_ratio(v.get(k)) for k in ("lr_proposed", "lr_silence")]
            for label, v in sorted((cal.get("labels") or {}).items())
            if isinstance(v, dict)
        ]
        header = ["Label", "Precision", "Recall", "Proposed", "Gold", "LR proposed", "LR silence"]
        md.add(table(md, header, rows))
    omegas = omega_rows(ds.cells + ds.other_omissions)
    if not omegas:
        return
    md.add(md.title(4, "Estimated omission rate"))
    md.add(
        "Estimated human omission rate ω, mean ± sd (n), beside the simulated rate: from the dev "
        "set's entity density (dev and training text alike), from agreement with the annotator "
        "(omissions independent of its finds), and the ω used (both by precision; the lower end "
        "of the 90% interval where wider than 0.2)."
    )
    rows = [
        [model, condition_name(condition), format_rate(budget), f"{rate:.3f}"]
        + [format_stat(found.get(k)) for k in ("density", "agreement", "used")]
        for (model, condition, budget, rate), found in omegas
    ]
    header = ["Omissions", "Condition", "Budget", "Simulated ω", "From density"]
    md.add(table(md, header + ["From agreement", "ω used"], rows, left=2))


def budget_section(md: MarkdownRenderer, cells: Sequence[CellResult]) -> None:
    """F1 and mean annotation cost per budget and condition."""
    md.add(md.title(3, "Budget"))
    points = budget_rows(cells)
    if not points:
        md.add("No budget cells for this dataset.")
        return
    md.add(
        "F1 mean ± sd (n) and mean cost per budget (share of documents a human annotated). Rows "
        "at 100% (← source) are full-budget conditions. Δ F1 vs human: to human-only, same budget."
    )
    rows = []
    for row in points:
        name = condition_name(row["condition"])
        if row["selection"] != DEFAULT_SELECTION:
            name += f", by {row['selection']}"
        if row["source"] != row["condition"]:
            name += f" ← `{row['source']}`"
        delta = f"{row['vs_human']:+.3f}" if row["vs_human"] is not None else DASH
        costs = [f"{row[p].mean:.2f}" if row[p] else DASH for p in ("human", "llm", "total")]
        rows.append([format_rate(row["budget"]), name, format_stat(row["f1"]), delta, *costs])
    header = ["Budget", "Condition", "F1", "Δ F1 vs human", "Human cost", "LLM cost"]
    md.add(table(md, header + ["Total cost"], rows, left=2))
    target, reached = reach_rows(points)
    found = [f"`{c}` ({s}) {format_rate(b) if b else 'never'}" for c, s, b in reached]
    if found:
        md.add(f"Least budget reaching 90% of human-clean F1 ({target:.3f}): " + "; ".join(found))


def missing_lines(cells: Sequence[CellResult]) -> List[str]:
    """The settings that lack seeds and the conditions without cells."""
    incomplete, absent, max_n = incomplete_groups(cells)
    lines = []
    for (condition, kind, value), n, missing in incomplete:
        rate = f" at {format_rate(value)} omissions" if value is not None else ""
        where = f" at budget {format_rate(value)}" if kind == "budget" else rate
        seeds = f" (missing seeds: {', '.join(map(str, missing))})" if missing else ""
        lines.append(f"`{condition}`{where}: {n} of {max_n} seeds{seeds}")
    if absent:
        lines.append("No cells at all for: " + ", ".join(f"`{c}`" for c in absent))
    return lines or [f"None: every setting has {max_n} seeds."]


def dataset_section(
    ds: DatasetResults,
    links: Dict[str, str],
    target_rate: float,
    second: Optional[DatasetResults] = None,
) -> str:
    """The markdown section of one dataset (``links``: figure and SAMPLES paths by key)."""
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(2, ds.name))
    run, cells = ds.run or {}, ds.cells
    facts = []
    if isinstance(run.get("wall_seconds"), (int, float)):
        facts.append(f"wall time {run['wall_seconds'] / 3600:.2f} h ({run['wall_seconds']:.0f} s)")
    facts.extend(f"{key} {run[key]}" for key in ("machine", "started", "finished") if run.get(key))
    if facts:
        md.add("Run: " + "; ".join(facts) + ".")
    if run.get("commands"):
        md.add(md.code_block("\n".join(map(str, run["commands"])), "bash"))
    planned = run.get("cells_planned") if isinstance(run.get("cells_planned"), int) else None
    seeds = ", ".join(map(str, sorted({c.seed for c in cells}))) or "none"
    text = f"{len(cells)} trained models (cells)"
    if planned is not None:
        text += f" of the {planned} cells of the last `hybrid-ner grid` run"
    text += f" from `{ds.path}`, seeds: {seeds}."
    if planned is not None and planned > len(cells):
        text += " The grid was stopped before the rest: run the same command again to resume."
    md.add(text)
    rate = closest_rate(settings(cells, "rate"), target_rate)
    md.add(md.title(3, "F1 by omission rate"))
    if cells:
        md.add(
            "Test F1 as mean ± sd over seeds (number of seeds), sd with n − 1; — = no cell. "
            f"{', '.join(f'`{c}`' for c in FIXED_CONDITIONS)} are trained without omissions and "
            "repeated in every column. Bold: best condition other than the upper bound. "
            'Conditions named "simulated" use the simulated annotator, not an LLM.'
        )
        md.add(f1_by_rate_table(md, cells))
    else:
        md.add("No cells yet for this dataset.")
    for model in sorted({c.omission_model for c in ds.other_omissions}):
        md.add(md.title(3, f"F1 by omission rate, {model} omissions"))
        md.add(
            f"As above, with `{model}` omissions: rare, long, lowercase entities and the hardest "
            "label dropped more often, at the same overall rate."
        )
        md.add(f1_by_rate_table(md, [c for c in ds.other_omissions if c.omission_model == model]))
    if cells:
        md.add(md.title(3, f"Scores{at_rate(rate)}"))
        note = ""
        if rate is not None and abs(rate - target_rate) > 1e-9:
            note = (
                f" No cells at {format_rate(target_rate)} omissions: showing the closest rate "
                f"present, {format_rate(rate)}."
            )
        md.add(f"Precision, recall and F1, mean ± sd (n).{note}")
        conditions = table_conditions(cells)
        prf = {name: aggregate(cells, metric) for name, metric in PRF.items()}
        md.add(stat_table(md, prf, conditions, rate))
        md.add("F1 per label, mean ± sd (n).")
        per_label = {
            n: aggregate(cells, lambda c, n=n: c.per_type.get(n, {}).get("f"))
            for n in labels(cells)
        }
        md.add(stat_table(md, per_label, conditions, rate))
    if second is not None:
        second_grid_section(md, second, cells, target_rate)

    md.add(md.title(3, "Annotator quality"))
    if ds.annotators:
        annotator_section(md, ds.annotators)
    else:
        md.add("No `annotators.json` for this dataset: annotator quality skipped.")
    if any(c.calibration for c in ds.cells + ds.other_omissions):
        calibration_section(md, ds, target_rate)
    budget_section(md, cells + ds.other_selections)

    md.add(md.title(3, "Missing or partial cells"))
    md.add(md.list(missing_lines(cells)))
    md.add(md.title(3, "Figures"))
    figures = [
        f"![{text}: {ds.name}]({links[key]})" for key, text in FIGURES.items() if key in links
    ]
    md.add("\n\n".join(figures) if figures else "No figures (no data to plot).")
    if SAMPLES in links:
        md.add(md.title(3, "Samples"))
        page = md.link(f"samples_{ds.name}.html", links[SAMPLES])
        md.add(f"Gold, human with omissions, LLM proposals and merge of sample sentences: {page}.")
    return md.text


def report_markdown(
    datasets: Sequence[DatasetResults],
    links: Dict[str, Dict[str, str]],
    grid_dir: str,
    other_samples: Dict[str, str],
    target_rate: float,
    second: Sequence[DatasetResults] = (),
    second_dir: Optional[str] = None,
) -> str:
    """The whole report: a section per dataset, the second grid's others, other samples."""
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(1, "hybrid-ner experiment report"))
    source = f" and the second grid `{second_dir}`" if second_dir and second else ""
    md.add(
        f"Generated by `hybrid-ner report` from `{grid_dir}`{source}. Datasets: "
        + ", ".join(md.link(ds.name, f"#{ds.name.lower()}") for ds in datasets)
        + ". Scores are test-set entity scores in [0, 1]."
    )
    by_name = {ds.name: ds for ds in second}
    for ds in datasets:
        md.add(dataset_section(ds, links.get(ds.name, {}), target_rate, by_name.pop(ds.name, None)))
    for name, other in sorted(by_name.items()):
        title = f"{SECOND_GRID_TITLE}: {name} (not in `{grid_dir}`)"
        second_grid_section(md, other, [], target_rate, 2, title)
    if other_samples:
        md.add(md.title(2, "Other samples"))
        md.add(md.list([md.link(name, url) for name, url in sorted(other_samples.items())]))
    return md.text + "\n"
