"""Command-line interface: ``hybrid-ner COMMAND`` or ``python -m hybrid_ner``."""

# Importing a module registers its commands on the shared typer app.
from . import (  # noqa: F401
    answers_commands,
    corpus_commands,
    grid_commands,
    merge_commands,
    propose,
    report_commands,
    score_commands,
    select_commands,
)
from ._app import app, main

__all__ = ["app", "main"]
