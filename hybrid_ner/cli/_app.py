"""The typer app every CLI module adds its commands to, and the entry point that turns
every outcome into one line on stderr and an exit code."""

import sys
import warnings
from pathlib import Path
from typing import Any, List, Optional

import click
import typer

from ..errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, HybridNerError, mask_secrets

_HELP = (
    "Augment incomplete NER annotation with LLM proposals: convert corpora, "
    "simulate omissions and budgets, propose, merge and train with spaCy. "
    "Exit codes: 0 success, 1 input/option/path error, 2 usage error, "
    "3 partial (budget reached), 4 LLM requests failed, 130 interrupted."
)
app = typer.Typer(
    help=_HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
INTERRUPTED = (
    "Interrupted (Ctrl+C): no output was changed (files are replaced only when a command completes)"
)
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def fail(message: str) -> None:
    """Print one unwrapped error line on stderr (paths stay greppable, secrets masked)."""
    line = " ".join(mask_secrets(str(message)).splitlines())
    typer.secho(f"✘ {line}", fg=typer.colors.RED, err=True)


def _show_warning(message: Any, category: type, filename: str, lineno: int, *_: Any) -> None:
    """Our own warnings as one line; other libraries' keep Python's format."""
    if str(filename).startswith(_PACKAGE_DIR):
        typer.secho(f"⚠ {mask_secrets(str(message))}", fg=typer.colors.YELLOW, err=True)
    else:
        sys.stderr.write(mask_secrets(warnings.formatwarning(message, category, filename, lineno)))


def main(argv: Optional[List[str]] = None) -> None:
    """Run the CLI; every failure ends as one line on stderr and its exit code."""
    try:  # standalone_mode=False: click raises, and returns a typer.Exit's code
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = app(args=argv, prog_name="hybrid-ner", standalone_mode=False)
    except HybridNerError as err:
        fail(str(err))
        sys.exit(err.exit_code)
    except (typer.Exit, click.exceptions.Exit) as err:
        sys.exit(err.exit_code)
    except (typer.Abort, click.exceptions.Abort):  # end of input at a prompt
        fail("Aborted")
        sys.exit(EXIT_ERROR)
    except (typer.TyperException, click.ClickException) as err:  # usage errors: exit code 2
        show = getattr(err, "show", None)
        show() if callable(show) else fail(str(err))
        sys.exit(getattr(err, "exit_code", EXIT_USAGE))
    except KeyboardInterrupt:  # outside a command
        code = EXIT_INTERRUPTED
    except OSError as err:  # a file no command checked: still one line
        fail(f"{err.filename}: {err.strerror or err}" if err.filename else str(err.strerror or err))
        sys.exit(EXIT_ERROR)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == EXIT_INTERRUPTED:
            fail(INTERRUPTED)
        sys.exit(code)
