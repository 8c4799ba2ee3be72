"""CLI command that compares evaluation results."""
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ..evaluation import score_rows
from ._app import app


@app.command("scores")
def scores_cli(
    metrics: List[Path] = typer.Argument(..., help="Metrics JSON files written by spacy evaluate"),
) -> None:
    """Print entity F1 (precision/recall) overall and per label, one row per
    metrics file, to compare training conditions."""
    header, rows = score_rows(metrics)
    msg.table(rows, header=header, divider=True)
