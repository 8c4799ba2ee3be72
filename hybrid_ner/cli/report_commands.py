"""CLI command that writes the experiment report."""

from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ..atomic import atomic_path
from ..experiment.conditions import FOCUS_RATE
from ._app import app
from ._checks import check_outputs, check_range


@app.command("report")
def report_cli(
    grid_dir: Path = typer.Argument(
        Path("metrics/grid"), help="Grid results, a folder per dataset"
    ),
    output: Path = typer.Option(Path("metrics/report.md"), "--output", "-o", help="Markdown file"),
    figures: Path = typer.Option(Path("metrics/figures"), "--figures", help="PNG figures folder"),
    samples: Optional[List[Path]] = typer.Option(
        None,
        "--samples",
        help="Samples DocBins (repeatable); default: <grid>/<dataset>/samples.spacy",
    ),
    max_samples: int = typer.Option(10, "--max-samples", help="Sentences shown per samples page"),
    target_rate: float = typer.Option(
        FOCUS_RATE, "--target-rate", help="Omission rate of the detail tables (else the closest)"
    ),
    transformer: Optional[Path] = typer.Option(
        None, "--transformer", help="A second grid shown beside GRID_DIR; default: <GRID_DIR>-trf"
    ),
) -> None:
    """Write the experiment report: tables, PNG figures and displaCy pages of sample sentences."""
    check_range("--max-samples", max_samples, 0)
    check_range("--target-rate", target_rate, 0, 1)
    # A file in the figures folder stands for the folder: is it creatable and writable?
    check_outputs({"--output": output, "--figures": figures / "figure.png"}, list(samples or []))
    # Imported here: the report's modules should not slow down every other command.
    from ..report.build import write_report

    if transformer is None:
        default = grid_dir if grid_dir.name else grid_dir.resolve()  # "." has no name
        default = default.with_name(default.name + "-trf")
        transformer = default if default.is_dir() else None
    # A temporary file next to OUTPUT (links stay relative), replacing it only when complete.
    with atomic_path(output) as tmp:
        files = write_report(
            grid_dir, tmp, figures, samples or None, max_samples, target_rate, transformer
        )
    msg.good(f"Report for {', '.join(files.datasets)}: {output}")
    msg.info(f"{len(files.figures)} figures in {figures}, {len(files.samples)} samples pages")
    if transformer is not None:
        msg.info(f"Second grid {transformer}: {', '.join(files.second) or 'no cells'}")
