"""CLI command that writes the experiment report."""
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ._app import app


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
    # Imported here: matplotlib should not slow down every other command.
    from ..report import write_report

    files = write_report(grid_dir, output, figures, samples or None, max_samples, target_rate)
    msg.good(f"Report for {', '.join(files.datasets)}: {files.report}")
    msg.info(f"{len(files.figures)} figures in {figures}, {len(files.samples)} samples pages")
