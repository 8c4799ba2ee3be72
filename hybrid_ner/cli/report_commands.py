"""CLI command that writes the experiment report."""

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence

import typer
from wasabi import msg

from ..atomic import atomic_path
from ..experiment.conditions import FOCUS_RATE
from ._app import app
from ._checks import check_outputs, check_range

if TYPE_CHECKING:  # matplotlib and the report stay out of every other command's import
    from ..report.transformer import TransformerResults


@app.command("report")
def report_cli(
    grid_dir: Path = typer.Argument(
        Path("metrics/grid"),
        help="Grid results: one folder per dataset with cells/*.json, annotators.json, run.json",
    ),
    output: Path = typer.Option(
        Path("metrics/report.md"), "--output", "-o", help="Markdown report to write"
    ),
    figures: Path = typer.Option(
        Path("metrics/figures"), "--figures", help="Folder for the PNG figures"
    ),
    samples: Optional[List[Path]] = typer.Option(
        None,
        "--samples",
        help="Samples DocBin(s) for the displaCy pages (repeatable); default: "
        "<grid>/<dataset>/samples.spacy",
    ),
    max_samples: int = typer.Option(10, "--max-samples", help="Sentences shown per samples page"),
    target_rate: float = typer.Option(
        FOCUS_RATE,
        "--target-rate",
        help="Omission rate of the detail tables (closest present rate if missing)",
    ),
    transformer: Optional[Path] = typer.Option(
        None,
        "--transformer",
        help="Transformer grid (same layout: <dataset>/cells/*.json, plus the optional transition "
        "NER scores "
        "<dataset>/transition-clean_r0_s<seed>.json of `spacy evaluate --output`) for a "
        "'Transformer pipeline' "
        "section per dataset; default: <GRID_DIR>-trf next to GRID_DIR (metrics/grid-trf) when it "
        "exists, "
        "else no such section",
    ),
) -> None:
    """Write the experiment report: F1 tables per condition and omission rate
    (mean ± sd over seeds), annotator quality, budget curve, missing cells,
    PNG figures and displaCy pages of sample sentences; with a transformer grid,
    its F1 per condition next to the CPU grid's."""
    check_range("--max-samples", max_samples, 0)
    check_range("--target-rate", target_rate, 0, 1)
    # A file in the figures folder stands for the folder: is it creatable and writable?
    check_outputs({"--output": output, "--figures": figures / "figure.png"}, list(samples or []))
    # Imported here: the report's modules should not slow down every other command.
    from ..report import write_report
    from ..report.transformer import load_transformer_grid, resolve_transformer_dir

    transformer_dir = resolve_transformer_dir(grid_dir, transformer)
    # The markdown goes to a temporary file next to OUTPUT (links stay relative
    # to the same folder) and replaces OUTPUT only when the report is complete.
    with atomic_path(output) as tmp:
        files = write_report(
            grid_dir, tmp, figures, samples or None, max_samples, target_rate, transformer_dir
        )
    msg.good(f"Report for {', '.join(files.datasets)}: {output}")
    msg.info(f"{len(files.figures)} figures in {figures}, {len(files.samples)} samples pages")
    if transformer_dir is not None:
        if files.transformer:
            msg.info(
                f"Transformer pipeline sections for {', '.join(files.transformer)} from "
                f"{transformer_dir}"
            )
        else:
            msg.warn(f"No transformer cells in {transformer_dir}: no transformer sections")
    _print_comparison(
        grid_dir,
        target_rate,
        load_transformer_grid(transformer_dir) if transformer_dir is not None else [],
    )


def _print_comparison(
    grid_dir: Path, rate: float, transformer: Sequence["TransformerResults"] = ()
) -> None:
    """The main comparison on the terminal: test F1 (P, R) per condition at the
    omission rate closest to ``rate`` (and the clean upper bound), mean ± sd
    over seeds; then, per dataset of the transformer grid, its F1, P, R next
    to the CPU grid's F1, the gap on each stack and the transition NER line."""
    from ..experiment.conditions import condition_order
    from ..report.format import format_stat
    from ..report.results import (
        aggregate,
        closest_rate,
        load_grid,
        precision,
        rates,
        recall,
        stat_at,
    )
    from ..report.transformer import compare_stacks, gap_line, transition_line

    datasets = load_grid(grid_dir)
    for ds in datasets:
        at = closest_rate(rates(ds.cells), rate)
        f1s, ps, rs = (
            aggregate(ds.cells),
            aggregate(ds.cells, precision),
            aggregate(ds.cells, recall),
        )
        rows = []
        for condition in condition_order(
            {cell.condition for cell in ds.cells if cell.budget >= 1.0}
        ):
            stat = stat_at(f1s, condition, at)
            if stat is not None:
                rows.append(
                    (
                        condition,
                        format_stat(stat),
                        format_stat(stat_at(ps, condition, at)),
                        format_stat(stat_at(rs, condition, at)),
                    )
                )
        if rows:
            msg.table(rows, header=(f"{ds.name}, {at:g} omissions", "F1", "P", "R"), divider=True)
    cpu_cells = {ds.name: ds.cells for ds in datasets}
    for trf in transformer:
        comparison = compare_stacks(trf, cpu_cells.get(trf.name, []), rate)
        where = (
            f"{comparison.rate:g} omissions" if comparison.rate is not None else "no omission rate"
        )
        rows = [
            (
                row.condition,
                format_stat(row.f1),
                format_stat(row.p),
                format_stat(row.r),
                format_stat(row.cpu_f1),
            )
            for row in comparison.rows
        ]
        # max_col: the header is longer than wasabi's default column width of 30.
        msg.table(
            rows,
            header=(f"{trf.name} transformer, {where}", "F1", "P", "R", "CPU F1"),
            divider=True,
            max_col=40,
        )
        msg.text(gap_line(comparison))
        transition = transition_line(comparison)
        if transition is not None:
            msg.text(transition)
