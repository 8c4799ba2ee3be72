"""The markdown report: one section per dataset (scores, the field
comparison, annotator quality, calibration, budget, missing cells, figures)."""

from typing import Any, Dict, List, Optional, Sequence

from wasabi import MarkdownRenderer

from ..experiment.conditions import FIXED_CONDITIONS, FOCUS_RATE, UPPER_BOUND
from ..experiment.result import CellResult
from .budget import budget_rows, budget_table
from .calibration import calibration_section
from .field import field_rows, field_table, omega_rows, omega_table
from .format import (
    DASH,
    annotator_name,
    at_rate,
    condition_name,
    escape,
    format_rate,
    format_stat,
    md,
    number_text,
)
from .results import (
    DatasetResults,
    aggregate,
    closest_rate,
    f1,
    incomplete_groups,
    label_f1,
    labels,
    precision,
    rates,
    recall,
    stat_at,
    table_conditions,
)
from .transformer import TRANSFORMER_TITLE, TransformerResults, compare_stacks, transformer_section

#: Figure kinds, their file name prefix and their caption.
FIGURES = {
    "f1_vs_omission": "F1 vs. omission rate",
    "per_label": "F1 per label",
    "annotator_quality": "Annotator precision and recall per label",
    "budget": "F1 vs. annotation cost",
}
SAMPLES = "samples"


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


def run_lines(md: MarkdownRenderer, run: Dict) -> None:
    facts = []
    if isinstance(run.get("wall_seconds"), (int, float)):
        seconds = run["wall_seconds"]
        facts.append(f"wall time {seconds / 3600:.2f} h ({seconds:.0f} s)")
    for key in ("machine", "started", "finished"):
        if run.get(key):
            facts.append(f"{key} {run[key]}")
    if facts:
        md.add("Run: " + "; ".join(facts) + ".")
    commands = [str(c) for c in run.get("commands") or []]
    if commands:
        md.add(md.code_block("\n".join(commands), "bash"))


def missing_lines(ds: DatasetResults) -> List[str]:
    incomplete, absent, max_n = incomplete_groups(ds.cells)
    lines = []
    for item in incomplete:
        where = ""
        if item.value is not None:
            where = (
                f" at {format_rate(item.value)} omissions"
                if item.kind == "rate"
                else f" at budget {format_rate(item.value)}"
            )
        seeds = ", ".join(map(str, item.missing_seeds))
        line = f"`{item.condition}`{where}: {item.n} of {max_n} seeds"
        lines.append(line + (f" (missing seeds: {seeds})" if seeds else ""))
    if absent:
        lines.append("No cells at all for: " + ", ".join(f"`{c}`" for c in absent))
    return lines


def field_section(md: MarkdownRenderer, ds: DatasetResults) -> None:
    """The hybrid beside the best LLM-free baseline, and ω estimated against true."""
    rows = field_rows(ds.all_cells)
    if not rows:
        return
    md.add(md.title(3, "Against the best LLM-free baseline"))
    md.add(
        "Test F1, mean ± sd (n). Silence as certain: `human-omit` / `human-budget`; negative "
        "sampling: `human-negsample` (Li et al. 2021); silence softened by ω: `human-silence` "
        "(on a negative sample of the silent tokens, ω from the dev set's entity density, no "
        "LLM) or, under a budget, `human-selftrain` "
        "(the same plus the human-only teacher's predictions where nobody annotated). Δ: mean F1 "
        "of the hybrid minus that of the better LLM-free baseline of the row. Uniform omissions "
        "drop every entity alike; hard ones drop rare, long, lowercase entities and the hardest "
        "label more often, at the same overall rate."
    )
    md.add(field_table(rows))
    omegas = omega_rows(ds.all_cells)
    if omegas:
        md.add(
            "The human's omission rate ω, mean over the cells that estimated it (n), against the "
            "true simulated rate: from agreement with the annotator (it assumes omissions "
            "independent of what the annotator finds) and from the entity density of the dev set "
            "against the training annotation (it assumes dev and training text alike). ω used: "
            "the two combined by their precision (density alone without an annotator), or the "
            "lower end of the combined 90% interval where it is wider than 0.2."
        )
        md.add(omega_table(omegas))


def dataset_section(
    ds: DatasetResults,
    links: Dict[str, str],
    target_rate: float = FOCUS_RATE,
    transformer: Optional[TransformerResults] = None,
) -> str:
    """The report section of one dataset.

    ds (DatasetResults): The dataset's cells and annotator/run files.
    links (Dict[str, str]): Relative paths of the figures (keys of FIGURES) and
        of the samples page (key "samples") that exist.
    target_rate (float): The omission rate of the detail tables (the closest
        rate present when it is missing) and of the calibration section.
    transformer (Optional[TransformerResults]): The dataset's transformer
        grid: adds the "Transformer pipeline" section after the CPU scores.
    RETURNS (str): Markdown.
    """
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(2, ds.name))
    if ds.run:
        run_lines(md, ds.run)
    cells = ds.cells
    seeds = sorted({c.seed for c in cells})
    planned = (ds.run or {}).get("cells_planned")
    of_planned = (
        f" of the {planned} cells of the last `hybrid-ner grid` run"
        if isinstance(planned, int)
        else ""
    )
    md.add(
        f"{len(cells)} trained models (cells){of_planned} from `{ds.path}`, seeds: "
        f"{', '.join(map(str, seeds)) or 'none'}."
        + (
            " The grid was stopped before the rest: run the same command again to resume."
            if isinstance(planned, int) and planned > len(cells)
            else ""
        )
    )
    available = rates(cells)
    rate = closest_rate(available, target_rate)
    note = ""
    if rate is not None and abs(rate - target_rate) > 1e-9:
        note = (
            f"No cells at {format_rate(target_rate)} omissions: showing the closest rate "
            f"present, {format_rate(rate)}."
        )

    md.add(md.title(3, "F1 by omission rate"))
    if cells:
        md.add(
            "Test F1 as mean ± sd over seeds (number of seeds), sd with n − 1; — = no cell. "
            f"{', '.join(f'`{c}`' for c in FIXED_CONDITIONS)} are trained without omissions and "
            "repeated in "
            "every column. Bold: best condition other than the upper bound. Conditions named "
            '"simulated" use '
            "the simulated annotator, not an LLM."
        )
        md.add(f1_by_rate_table(cells, available))
        md.add(md.title(3, f"Scores{at_rate(rate)}"))
        md.add(f"Precision, recall and F1, mean ± sd (n). {note}".strip())
        md.add(prf_table(cells, rate))
        md.add("F1 per label, mean ± sd (n).")
        md.add(per_label_table(cells, rate))
    else:
        md.add("No cells yet for this dataset.")
    field_section(md, ds)
    if transformer is not None:
        md.add(transformer_section(compare_stacks(transformer, cells, target_rate)))

    md.add(md.title(3, "Annotator quality"))
    if ds.annotators:
        info = ds.annotators
        md.add(
            f"Proposals on the {info.get('sentences', '?')} training sentences against their "
            "clean gold "
            f"({info.get('gold_entities', '?')} entities). Shares: each label's part of the "
            "annotator's "
            "proposals and of the gold entities."
        )
        md.add(annotator_table(info))
        for line in annotator_notes(info):
            md.add(line)
    else:
        md.add("No `annotators.json` for this dataset: annotator quality skipped.")

    if cells:
        calibration_section(md, ds, target_rate)

    md.add(md.title(3, "Budget"))
    points = budget_rows(cells)
    if points:
        md.add(
            "F1 mean ± sd (n) and mean annotation cost per budget (fraction of documents "
            "annotated by "
            "humans; the human cost is that fraction of all sentences × the cost per sentence). "
            "Budget 100% rows (← source) come from the full-budget conditions. Δ F1 vs human: the "
            "difference of mean F1 to the human annotation alone at the same budget."
        )
        md.add(budget_table(points))
    else:
        md.add("No budget cells for this dataset.")

    md.add(md.title(3, "Missing or partial cells"))
    missing = missing_lines(ds)
    _, _, max_n = incomplete_groups(cells)
    md.add(md.list(missing) if missing else f"None: every setting has {max_n} seeds.")

    md.add(md.title(3, "Figures"))
    figures = [
        f"![{caption}: {ds.name}]({links[key]})" for key, caption in FIGURES.items() if key in links
    ]
    md.add("\n\n".join(figures) if figures else "No figures (no data to plot).")
    if SAMPLES in links:
        md.add(md.title(3, "Samples"))
        page = md.link(f"samples_{ds.name}.html", links[SAMPLES])
        md.add(
            "Annotation layers (gold, human with omissions, LLM proposals, merged) of sample "
            f"sentences: {page}."
        )
    return md.text


def report_markdown(
    datasets: Sequence[DatasetResults],
    links: Dict[str, Dict[str, str]],
    grid_dir: str,
    other_samples: Optional[Dict[str, str]] = None,
    target_rate: float = FOCUS_RATE,
    transformer: Sequence[TransformerResults] = (),
    transformer_dir: Optional[str] = None,
) -> str:
    """The whole report: a header and one section per dataset.

    datasets (Sequence[DatasetResults]): The grid's datasets.
    links (Dict[str, Dict[str, str]]): Per dataset, relative paths of its
        figures and samples page (see ``dataset_section``).
    grid_dir (str): The grid directory, named in the header.
    other_samples (Optional[Dict[str, str]]): Sample pages of --samples files
        that belong to no dataset of the grid, by name.
    target_rate (float): The omission rate of the detail tables and the calibration section.
    transformer (Sequence[TransformerResults]): The datasets of the
        transformer grid: a "Transformer pipeline" section in the section of
        the dataset of the same name, or after the datasets for one that is
        not in the grid.
    transformer_dir (Optional[str]): The transformer grid, named in the header.
    RETURNS (str): Markdown, ending with a newline.
    """
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(1, "hybrid-ner experiment report"))
    trf_source = (
        f" and the transformer grid `{transformer_dir}`" if transformer_dir and transformer else ""
    )
    md.add(
        f"Generated by `hybrid-ner report` from `{grid_dir}`{trf_source}. Datasets: "
        + ", ".join(md.link(ds.name, f"#{ds.name.lower()}") for ds in datasets)
        + ". Scores are test-set entity scores in [0, 1]."
    )
    by_name = {trf.name: trf for trf in transformer}
    for ds in datasets:
        md.add(dataset_section(ds, links.get(ds.name, {}), target_rate, by_name.pop(ds.name, None)))
    for name, trf in sorted(by_name.items()):
        md.add(
            transformer_section(
                compare_stacks(trf, [], target_rate),
                2,
                f"{TRANSFORMER_TITLE}: {name} (no CPU grid results)",
            )
        )
    if other_samples:
        md.add(md.title(2, "Other samples"))
        md.add(md.list([md.link(name, url) for name, url in sorted(other_samples.items())]))
    return md.text + "\n"
