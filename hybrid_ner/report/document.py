"""Assemble the markdown report from the results of each dataset."""
from typing import Dict, List, Optional, Sequence

from wasabi import MarkdownRenderer

from .results import (
    RATE_INDEPENDENT,
    DatasetResults,
    aggregate,
    closest_rate,
    f1,
    incomplete_groups,
    rates,
)
from .tables import (
    annotator_notes,
    annotator_table,
    budget_rows,
    budget_table,
    f1_by_rate_table,
    format_rate,
    per_label_table,
    prf_table,
    targets_table,
)
from .targets import TARGET_RATE, evaluate_targets

#: Figure kinds, their file name prefix and their caption.
FIGURES = {
    "f1_vs_omission": "F1 vs. omission rate",
    "per_label": "F1 per label",
    "annotator_quality": "Annotator precision and recall per label",
    "budget": "F1 vs. annotation cost",
}
SAMPLES = "samples"


def _run_lines(md: MarkdownRenderer, run: Dict) -> None:
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


def _at(rate: Optional[float]) -> str:
    return f" at {format_rate(rate)} omissions" if rate is not None else " (no omission rates in the grid yet)"


def _missing_lines(ds: DatasetResults) -> List[str]:
    incomplete, absent, max_n = incomplete_groups(ds.cells)
    lines = []
    for item in incomplete:
        where = ""
        if item.value is not None:
            where = f" at {format_rate(item.value)} omissions" if item.kind == "rate" else f" at budget {format_rate(item.value)}"
        seeds = ", ".join(map(str, item.missing_seeds))
        line = f"`{item.condition}`{where}: {item.n} of {max_n} seeds"
        lines.append(line + (f" (missing seeds: {seeds})" if seeds else ""))
    if absent:
        lines.append("No cells at all for: " + ", ".join(f"`{c}`" for c in absent))
    return lines


def dataset_section(
    ds: DatasetResults, links: Dict[str, str], target_rate: float = TARGET_RATE
) -> str:
    """The report section of one dataset.

    ds (DatasetResults): The dataset's cells and annotator/run files.
    links (Dict[str, str]): Relative paths of the figures (keys of FIGURES) and
        of the samples page (key "samples") that exist.
    target_rate (float): The omission rate of the detail tables and targets;
        the closest rate present is used when it is missing.
    RETURNS (str): Markdown.
    """
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(2, ds.name))
    if ds.run:
        _run_lines(md, ds.run)
    cells = ds.cells
    seeds = sorted({c.seed for c in cells})
    planned = (ds.run or {}).get("cells_planned")
    of_planned = f" of the {planned} cells of the last `hybrid-ner grid` run" if isinstance(planned, int) else ""
    md.add(f"{len(cells)} trained models (cells){of_planned} from `{ds.path}`, seeds: {', '.join(map(str, seeds)) or 'none'}."
           + (" The grid was stopped before the rest: run the same command again to resume." if isinstance(planned, int) and planned > len(cells) else ""))
    available = rates(cells)
    rate = closest_rate(available, target_rate)
    note = ""
    if rate is not None and abs(rate - target_rate) > 1e-9:
        note = f"No cells at {format_rate(target_rate)} omissions: showing the closest rate present, {format_rate(rate)}."

    md.add(md.title(3, "F1 by omission rate"))
    if cells:
        md.add(
            "Test F1 as mean ± sd over seeds (number of seeds), sd with n − 1; — = no cell. "
            f"{', '.join(RATE_INDEPENDENT)} are trained without omissions and repeated in every column. "
            "Bold: best condition other than the upper bound. Conditions marked (simulated) use the "
            "simulated annotator, not an LLM."
        )
        md.add(f1_by_rate_table(cells, available))
        md.add(md.title(3, f"Scores{_at(rate)}"))
        md.add(f"Precision, recall and F1, mean ± sd (n). {note}".strip())
        md.add(prf_table(cells, rate))
        md.add("F1 per label, mean ± sd (n).")
        md.add(per_label_table(cells, rate))
    else:
        md.add("No cells yet for this dataset.")

    md.add(md.title(3, "Annotator quality"))
    if ds.annotators:
        info = ds.annotators
        md.add(
            f"Proposals on the {info.get('sentences', '?')} training sentences against their clean gold "
            f"({info.get('gold_entities', '?')} entities). Shares: each label's part of the annotator's "
            "proposals and of the gold entities."
        )
        md.add(annotator_table(info))
        for line in annotator_notes(info):
            md.add(line)
    else:
        md.add("No `annotators.json` for this dataset: annotator quality skipped.")

    md.add(md.title(3, "Budget"))
    points = budget_rows(cells)
    if points:
        md.add(
            "F1 mean ± sd (n) and mean annotation cost per budget (fraction of documents annotated by "
            "humans; the human cost is that fraction of all sentences × the cost per sentence). "
            "Budget 100% rows (← source) come from the full-budget conditions."
        )
        md.add(budget_table(points))
    else:
        md.add("No budget cells for this dataset.")

    md.add(md.title(3, f"Targets{_at(rate)}"))
    if note:
        md.add(note)
    md.add(targets_table(evaluate_targets(aggregate(cells, f1), rate)))

    md.add(md.title(3, "Missing or partial cells"))
    missing = _missing_lines(ds)
    _, _, max_n = incomplete_groups(cells)
    md.add(md.list(missing) if missing else f"None: every setting has {max_n} seeds.")

    md.add(md.title(3, "Figures"))
    figures = [f"![{caption}: {ds.name}]({links[key]})" for key, caption in FIGURES.items() if key in links]
    md.add("\n\n".join(figures) if figures else "No figures (no data to plot).")
    if SAMPLES in links:
        md.add(md.title(3, "Samples"))
        page = md.link(f"samples_{ds.name}.html", links[SAMPLES])
        md.add(f"Annotation layers (gold, human with omissions, LLM proposals, merged) of sample sentences: {page}.")
    return md.text


def report_markdown(
    datasets: Sequence[DatasetResults],
    links: Dict[str, Dict[str, str]],
    grid_dir: str,
    other_samples: Optional[Dict[str, str]] = None,
    target_rate: float = TARGET_RATE,
) -> str:
    """The whole report: a header and one section per dataset.

    datasets (Sequence[DatasetResults]): The grid's datasets.
    links (Dict[str, Dict[str, str]]): Per dataset, relative paths of its
        figures and samples page (see ``dataset_section``).
    grid_dir (str): The grid directory, named in the header.
    other_samples (Optional[Dict[str, str]]): Sample pages of --samples files
        that belong to no dataset of the grid, by name.
    target_rate (float): The omission rate of the detail tables and targets.
    RETURNS (str): Markdown, ending with a newline.
    """
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(1, "hybrid-ner experiment report"))
    md.add(
        f"Generated by `hybrid-ner report` from `{grid_dir}`. Datasets: "
        + ", ".join(md.link(ds.name, f"#{ds.name.lower()}") for ds in datasets)
        + ". Scores are test-set entity scores in [0, 1]."
    )
    for ds in datasets:
        md.add(dataset_section(ds, links.get(ds.name, {}), target_rate))
    if other_samples:
        md.add(md.title(2, "Other samples"))
        md.add(md.list([md.link(name, url) for name, url in sorted(other_samples.items())]))
    return md.text + "\n"
