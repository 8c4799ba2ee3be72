"""Assemble the markdown report from the results of each dataset."""

from typing import Dict, List, Optional, Sequence

from wasabi import MarkdownRenderer

from .results import (
    BEFORE_CALIBRATION,
    CALIBRATED_CONDITIONS,
    RATE_INDEPENDENT,
    DatasetResults,
    aggregate,
    calibration_cell,
    closest_rate,
    f1,
    incomplete_groups,
    omission_estimates,
    rates,
    unknown_conditions,
)
from .tables import (
    annotator_name,
    annotator_notes,
    annotator_table,
    budget_rows,
    budget_table,
    calibration_lines,
    calibration_table,
    f1_by_rate_table,
    format_rate,
    gap_line,
    omission_table,
    per_label_table,
    prf_table,
    stack_table,
    targets_table,
    timing_line,
    transition_line,
)
from .targets import TARGET_RATE, evaluate_targets, summary
from .transformer import TRANSITION_GLOB, StackComparison, TransformerResults, compare_stacks

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
    return (
        f" at {format_rate(rate)} omissions"
        if rate is not None
        else " (no omission rates in the grid yet)"
    )


def _missing_lines(ds: DatasetResults) -> List[str]:
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


def _unknown_line(ds: DatasetResults) -> Optional[str]:
    unknown = unknown_conditions(ds.cells)
    if not unknown:
        return None
    listed = ", ".join(f"`{c}` ({n} cell{'s' if n != 1 else ''})" for c, n in unknown.items())
    return f"Conditions not in the current grid (cells of an older grid run), shown after the others: {listed}."


#: The annotators of the calibration section: key in the cells, heading.
CALIBRATED_ANNOTATORS = {"llm": "LLM", "simulated": "Simulated annotator"}


def _calibration_section(md: MarkdownRenderer, ds: DatasetResults, target_rate: float) -> None:
    md.add(md.title(3, "Calibration"))
    cells = ds.cells
    conditions = ", ".join(f"`{c}`" for c in CALIBRATED_CONDITIONS)
    md.add(
        f"The calibrated conditions ({conditions}) measure their annotator on a calibration sample with "
        "clean gold (the dev set) and mix labels by the per-token evidence. Per label: precision and recall of "
        "the proposals on that sample; LR proposed: how much likelier the annotator proposes the label on a "
        "true token of that label than on an outside token; LR silence: how much likelier silence is on a "
        f"true entity token than on an outside one (1: silence says nothing). Shown for seed 0 at "
        f"{format_rate(target_rate)} omissions where that cell exists, else for another calibrated cell."
    )
    annotators = (ds.annotators or {}).get("annotators") or {}
    found = False
    for key, heading in CALIBRATED_ANNOTATORS.items():
        cell = calibration_cell(cells, key, target_rate)
        if cell is None:
            continue
        found = True
        info = annotators.get(key)
        name = (
            f": {annotator_name(key, info)}" if isinstance(info, dict) and info.get("name") else ""
        )
        md.add(md.title(4, f"{heading}{name}"))
        for line in calibration_lines(cell):
            md.add(line)
        md.add(calibration_table(cell.calibration or {}))
    if not found:
        md.add("No cell carries a calibration record.")
    estimates = omission_estimates(cells)
    if estimates:
        md.add(md.title(4, "Estimated omission rate"))
        md.add(
            "The human omission rate each calibrated setting estimated (mean ± sd over seeds (n)) next to the "
            "rate the grid simulated."
        )
        md.add(omission_table(estimates))
    old = sorted(c.path.stem for c in cells if c.condition.endswith(BEFORE_CALIBRATION))
    if old:
        md.add(
            f"{len(old)} cell(s) of calibrated conditions have no calibration record, e.g. `{old[0]}`: an older "
            f"grid wrote them when those conditions trained another method, so they are shown apart, as "
            f"`<condition>{BEFORE_CALIBRATION}`."
        )


TRANSFORMER_TITLE = "Transformer pipeline"


def _code_list(items: Sequence[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def transformer_section(
    comparison: StackComparison, level: int = 3, title: str = TRANSFORMER_TITLE
) -> str:
    """The transformer grid of one dataset next to the CPU grid: F1 per
    condition on both stacks, the gap of the recommended hybrid over the
    human baseline on each, spaCy's transition NER on the clean data and the
    training time per cell.

    comparison (StackComparison): See ``transformer.compare_stacks``.
    level (int): The heading level.
    title (str): The heading.
    RETURNS (str): Markdown.
    """
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(level, title))
    configs = f" ({_code_list(comparison.configs)})" if comparison.configs else ""
    cpu_configs = f" ({_code_list(comparison.cpu_configs)})" if comparison.cpu_configs else ""
    md.add(
        f"The grid's conditions trained on the transformer stack{configs} from `{comparison.path}`{_at(comparison.rate)}, "
        f"next to the CPU grid{cpu_configs} at the same rate. F1, P and R on the test set, mean ± sd over seeds "
        "(number of seeds); — = no cell."
    )
    md.add(stack_table(comparison))
    lines = [gap_line(comparison)]
    transition = transition_line(comparison)
    lines.append(
        transition
        if transition is not None
        else f"No spaCy transition NER score (`{comparison.dataset}/{TRANSITION_GLOB}`, written by `spacy evaluate --output`)."
    )
    lines.append(timing_line(comparison))
    md.add(md.list(lines))
    return md.text


def dataset_section(
    ds: DatasetResults,
    links: Dict[str, str],
    target_rate: float = TARGET_RATE,
    transformer: Optional[TransformerResults] = None,
) -> str:
    """The report section of one dataset.

    ds (DatasetResults): The dataset's cells and annotator/run files.
    links (Dict[str, str]): Relative paths of the figures (keys of FIGURES) and
        of the samples page (key "samples") that exist.
    target_rate (float): The omission rate of the detail tables (the closest
        rate present when it is missing) and of the calibration section; the
        targets name their own rates and budgets.
    transformer (Optional[TransformerResults]): The dataset's transformer
        grid: adds the "Transformer pipeline" section after the CPU scores.
    RETURNS (str): Markdown.
    """
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(2, ds.name))
    if ds.run:
        _run_lines(md, ds.run)
    cells = ds.cells
    seeds = sorted({c.seed for c in cells})
    planned = (ds.run or {}).get("cells_planned")
    of_planned = (
        f" of the {planned} cells of the last `hybrid-ner grid` run"
        if isinstance(planned, int)
        else ""
    )
    md.add(
        f"{len(cells)} trained models (cells){of_planned} from `{ds.path}`, seeds: {', '.join(map(str, seeds)) or 'none'}."
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
        note = f"No cells at {format_rate(target_rate)} omissions: showing the closest rate present, {format_rate(rate)}."

    md.add(md.title(3, "F1 by omission rate"))
    if cells:
        md.add(
            "Test F1 as mean ± sd over seeds (number of seeds), sd with n − 1; — = no cell. "
            f"{', '.join(f'`{c}`' for c in RATE_INDEPENDENT)} are trained without omissions and repeated in "
            'every column. Bold: best condition other than the upper bound. Conditions named "simulated" use '
            "the simulated annotator, not an LLM."
        )
        unknown = _unknown_line(ds)
        if unknown:
            md.add(unknown)
        md.add(f1_by_rate_table(cells, available))
        md.add(md.title(3, f"Scores{_at(rate)}"))
        md.add(f"Precision, recall and F1, mean ± sd (n). {note}".strip())
        md.add(prf_table(cells, rate))
        md.add("F1 per label, mean ± sd (n).")
        md.add(per_label_table(cells, rate))
    else:
        md.add("No cells yet for this dataset.")
    if transformer is not None:
        md.add(transformer_section(compare_stacks(transformer, cells, target_rate)))

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

    if cells:
        _calibration_section(md, ds, target_rate)

    md.add(md.title(3, "Budget"))
    points = budget_rows(cells)
    if points:
        md.add(
            "F1 mean ± sd (n) and mean annotation cost per budget (fraction of documents annotated by "
            "humans; the human cost is that fraction of all sentences × the cost per sentence). "
            "Budget 100% rows (← source) come from the full-budget conditions. Δ F1 vs human: the "
            "difference of mean F1 to the human annotation alone at the same budget."
        )
        md.add(budget_table(points))
    else:
        md.add("No budget cells for this dataset.")

    md.add(md.title(3, "Targets"))
    targets = evaluate_targets(aggregate(cells, f1))
    md.add(
        "Each target compares mean test F1 over seeds at the omission rates and budgets it names (no data: "
        "a condition has no cell there). " + summary(targets)
    )
    md.add(targets_table(targets))

    md.add(md.title(3, "Missing or partial cells"))
    missing = _missing_lines(ds)
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
            f"Annotation layers (gold, human with omissions, LLM proposals, merged) of sample sentences: {page}."
        )
    return md.text


def report_markdown(
    datasets: Sequence[DatasetResults],
    links: Dict[str, Dict[str, str]],
    grid_dir: str,
    other_samples: Optional[Dict[str, str]] = None,
    target_rate: float = TARGET_RATE,
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
