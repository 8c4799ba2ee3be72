"""Command-line interface: ``hybrid-ner COMMAND`` or ``python -m hybrid_ner``.

Each module registers its commands on the shared typer ``app``.
"""

# Importing a module registers its commands.
from . import (
    answers_commands,  # noqa: F401,E402
    corpus_commands,  # noqa: F401,E402
    grid_commands,  # noqa: F401,E402
    merge_commands,  # noqa: F401,E402
    propose,  # noqa: F401,E402
    report_commands,  # noqa: F401,E402
    score_commands,  # noqa: F401,E402
)
from ._app import app, main

__all__ = ["app", "main"]
