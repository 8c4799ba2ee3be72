"""CLI command that writes the experiment report."""
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ..atomic import atomic_path
from ._app import app
from ._checks import check_outputs, check_range


@app.command("report")
def report_cli(
    grid_dir: Path = typer.Argument(Path("metrics/grid"), help="Grid results: one folder per dataset with cells/*.json, annotators.json, run.json"),
    output: Path = typer.Option(Path("metrics/report.md"), "--output", "-o", help="Markdown report to write"),
    figures: Path = typer.Option(Path("metrics/figures"), "--figures", help="Folder for the PNG figures"),
    samples: Optional[List[Path]] = typer.Option(None, "--samples", help="Samples DocBin(s) for the displaCy pages (repeatable); default: <grid>/<dataset>/samples.spacy"),
    max_samples: int = typer.Option(10, "--max-samples", help="Sentences shown per samples page"),
    target_rate: float = typer.Option(0.4, "--target-rate", help="Omission rate of the detail tables and targets (closest present rate if missing)"),
) -> None:
    """Write the experiment report: F1 tables per condition and omission rate
    (mean ± sd over seeds), annotator quality, budget curve, targets, missing
    cells, PNG figures and displaCy pages of sample sentences."""
    check_range("--max-samples", max_samples, 0)
    check_range("--target-rate", target_rate, 0, 1)
    # A file in the figures folder stands for the folder: is it creatable and writable?
    check_outputs({"--output": output, "--figures": figures / "figure.png"}, list(samples or []))
    # Imported here: matplotlib should not slow down every other command.
    from ..report import write_report

    # The markdown goes to a temporary file next to OUTPUT (links stay relative
    # to the same folder) and replaces OUTPUT only when the report is complete.
    with atomic_path(output) as tmp:
        files = write_report(grid_dir, tmp, figures, samples or None, max_samples, target_rate)
    msg.good(f"Report for {', '.join(files.datasets)}: {output}")
    msg.info(f"{len(files.figures)} figures in {figures}, {len(files.samples)} samples pages")
    _print_comparison(grid_dir, target_rate)


def _print_comparison(grid_dir: Path, rate: float) -> None:
    """The main comparison on the terminal: test F1 (P, R) per condition at the
    omission rate closest to ``rate`` (and the clean upper bound), mean ± sd over seeds."""
    from ..report.results import aggregate, closest_rate, condition_order, load_grid, precision, rates, recall, stat_at
    from ..report.tables import format_stat

    for ds in load_grid(grid_dir):
        at = closest_rate(rates(ds.cells), rate)
        f1s, ps, rs = aggregate(ds.cells), aggregate(ds.cells, precision), aggregate(ds.cells, recall)
        rows = []
        for condition in condition_order({cell.condition for cell in ds.cells if cell.budget >= 1.0}):
            stat = stat_at(f1s, condition, at)
            if stat is not None:
                rows.append((condition, format_stat(stat), format_stat(stat_at(ps, condition, at)),
                             format_stat(stat_at(rs, condition, at))))
        if rows:
            msg.table(rows, header=(f"{ds.name}, {at:g} omissions", "F1", "P", "R"), divider=True)
