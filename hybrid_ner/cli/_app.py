"""The typer application every CLI module adds its commands to."""
import sys
from typing import List, Optional

import typer
from wasabi import msg

from ..errors import HybridNerError

app = typer.Typer(
    name="hybrid-ner",
    help=(
        "Augment incomplete NER annotation with LLM proposals: convert corpora, "
        "simulate omissions and budgets, propose, merge and train with spaCy."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main(argv: Optional[List[str]] = None) -> None:
    """Run the CLI, turning input errors into one clear message (exit code 1)."""
    try:
        app(args=argv, prog_name="hybrid-ner", standalone_mode=False)
    except HybridNerError as err:
        # One unwrapped line on stderr: paths and line numbers stay greppable.
        typer.secho(f"✘ {err}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except typer.Abort:
        msg.fail("Aborted")
        sys.exit(1)
    except Exception as err:  # click usage errors carry their own exit code
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
