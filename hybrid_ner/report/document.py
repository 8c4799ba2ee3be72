"""Assemble the markdown report from the results of each dataset."""

from typing import Dict, Optional, Sequence

from wasabi import MarkdownRenderer

from ..experiment.conditions import FIXED_CONDITIONS
from .annotator_tables import annotator_notes, annotator_table
from .budget import budget_rows, budget_table
from .coverage import incomplete_groups
from .field import field_rows, field_table, omega_rows, omega_table
from .format import format_rate
from .results import DatasetResults
from .sections import (
    TRANSFORMER_TITLE,
    at_rate,
    calibration_section,
    missing_lines,
    run_lines,
    transformer_section,
    unknown_line,
)
from .stats import aggregate, closest_rate, f1, rates
from .tables import f1_by_rate_table, per_label_table, prf_table, targets_table
from .targets import TARGET_RATE, evaluate_targets, summary
from .transformer import TransformerResults, compare_stacks

#: Figure kinds, their file name prefix and their caption.
FIGURES = {
    "f1_vs_omission": "F1 vs. omission rate",
    "per_label": "F1 per label",
    "annotator_quality": "Annotator precision and recall per label",
    "budget": "F1 vs. annotation cost",
}
SAMPLES = "samples"


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
        unknown = unknown_line(ds)
        if unknown:
            md.add(unknown)
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

    md.add(md.title(3, "Targets"))
    targets = evaluate_targets(aggregate(cells, f1))
    md.add(
        "Each target compares mean test F1 over seeds at the omission rates and budgets it names "
        "(no data: "
        "a condition has no cell there). " + summary(targets)
    )
    md.add(targets_table(targets))

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
