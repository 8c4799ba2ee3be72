"""The typer application every CLI module adds its commands to, and the
entry point that turns every outcome into one line and an exit code.

Exit codes (see hybrid_ner.errors): 0 complete success; 1 an error in the
input, an option, the config or an output path; 2 command-line usage error;
3 partial result (a budget was reached; the finished part was written);
4 LLM requests failed for good; 130 interrupted (Ctrl+C). Outputs are
replaced only when a command succeeds (hybrid_ner.atomic).
"""

import sys
import warnings
from pathlib import Path
from typing import Any, List, Optional, TextIO

import click
import typer

from ..errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, HybridNerError, mask_secrets

app = typer.Typer(
    name="hybrid-ner",
    help=(
        "Augment incomplete NER annotation with LLM proposals: convert corpora, "
        "simulate omissions and budgets, propose, merge and train with spaCy. "
        "Exit codes: 0 success, 1 input/option/path error, 2 usage error, "
        "3 partial (budget reached), 4 LLM requests failed, 130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

INTERRUPTED = (
    "Interrupted (Ctrl+C): no output was changed (files are replaced only when a command completes)"
)


def fail(message: str) -> None:
    """Print one unwrapped error line on stderr: paths and line numbers stay
    greppable; secrets (API keys, credentials in URLs) are masked."""
    line = " ".join(mask_secrets(str(message)).splitlines())
    typer.secho(f"✘ {line}", fg=typer.colors.RED, err=True)


#: The package's folder: warnings raised from its code are shown as one line.
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def show_warning(
    message: Any,
    category: type,
    filename: str,
    lineno: int,
    file: Optional[TextIO] = None,
    line: Optional[str] = None,
) -> None:
    """Show a warning of hybrid_ner's own code as one line on stderr (other
    libraries' warnings keep Python's format, with file and line)."""
    if not str(filename).startswith(_PACKAGE_DIR):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        sys.stderr.write(mask_secrets(text))
        return
    typer.secho(f"⚠ {mask_secrets(str(message))}", fg=typer.colors.YELLOW, err=True)


def main(argv: Optional[List[str]] = None) -> None:
    """Run the CLI; every failure ends as one line on stderr and its exit code."""
    try:
        # standalone_mode=False: click raises instead of exiting, and returns
        # the code of a typer.Exit (Ctrl+C is Exit(130)) instead of exiting with it.
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            code = app(args=argv, prog_name="hybrid-ner", standalone_mode=False)
    except HybridNerError as err:
        fail(str(err))
        sys.exit(err.exit_code)
    except (typer.Exit, click.exceptions.Exit) as err:
        sys.exit(err.exit_code)
    except (typer.Abort, click.exceptions.Abort):  # end of input at a prompt
        fail("Aborted")
        sys.exit(EXIT_ERROR)
    except (typer.TyperException, click.ClickException) as err:
        # Usage errors (typer vendors its own click): message and exit code 2.
        if callable(getattr(err, "show", None)):
            err.show()
        else:
            fail(str(err))
        sys.exit(getattr(err, "exit_code", EXIT_USAGE))
    except KeyboardInterrupt:  # outside the command (typer turns the rest into Exit(130))
        fail(INTERRUPTED)
        sys.exit(EXIT_INTERRUPTED)
    except OSError as err:  # a file a command did not check: still one line, not a traceback
        where = f"{err.filename}: " if err.filename else ""
        fail(f"{where}{err.strerror or err}")
        sys.exit(EXIT_ERROR)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == EXIT_INTERRUPTED:
            fail(INTERRUPTED)
        sys.exit(code)
