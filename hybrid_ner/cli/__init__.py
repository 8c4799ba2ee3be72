"""Command-line interface: ``hybrid-ner COMMAND`` or ``python -m hybrid_ner``.

Each module registers its commands on the shared typer ``app``.
"""
from ._app import app, main

# Importing a module registers its commands.
from . import corpus_commands  # noqa: F401,E402
from . import score_commands  # noqa: F401,E402
from . import merge_commands  # noqa: F401,E402
from . import propose  # noqa: F401,E402
from . import report_commands  # noqa: F401,E402
from . import grid_commands  # noqa: F401,E402
from . import answers_commands  # noqa: F401,E402

__all__ = ["app", "main"]
