"""Checks every command runs before any work, so a bad value or path costs nothing."""

import math
import re
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import typer

from ..atomic import check_writable, same_file
from ..errors import OptionError, OutputPathError

Number = Union[int, float]
_REPLACE = "Allow an output to be an input file; it is replaced only when the command succeeds"
OVERWRITE_INPUT = typer.Option(False, "--overwrite-input", help=_REPLACE)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(option: str, value: str) -> str:
    """Refuse a name used in file names that is not one plain path component (``../x``)."""
    if not _NAME.fullmatch(value) or value in (".", ".."):
        raise OptionError(
            f"{option} {value!r}: a name used in file names must be letters, digits, '.', '_' "
            "or '-' (no '/' or '..'), starting with a letter or digit, e.g. wikigold"
        )
    return value


def check_range(
    option: str,
    value: Optional[Number],
    low: Optional[Number] = None,
    high: Optional[Number] = None,
    *,
    low_open: bool = False,
) -> None:
    """Raise :class:`OptionError` unless ``low <= value <= high`` (``low < value`` with
    ``low_open``; None bounds are open). None (not given) passes; NaN never does."""
    if value is None or (
        math.isfinite(value)
        and (low is None or value > low or (value == low and not low_open))
        and (high is None or value <= high)
    ):
        return
    if low is not None and high is not None:
        wanted = f"in {'(' if low_open else '['}{low}, {high}]"
    else:
        wanted = f"{'>' if low_open else '>='} {low}" if low is not None else f"<= {high}"
    raise OptionError(f"{option} must be {wanted}, got {value}")


def check_outputs(
    outputs: Mapping[str, Optional[Path]],
    inputs: Sequence[Optional[Path]] = (),
    overwrite_input: bool = False,
    overwritable: Sequence[str] = ("OUT",),
) -> None:
    """Check the files a command will write before any work: each writable, all different,
    and an input only with ``--overwrite-input`` and only if it is one of ``overwritable``.

    outputs (Mapping[str, Optional[Path]]): Output name in the usage ("OUT") → path or None.
    """
    given = [(name, path) for name, path in outputs.items() if path is not None]
    for i, (name, path) in enumerate(given):
        for other_name, other in given[:i]:
            if same_file(path, other):
                why = f"{name} and {other_name} are the same file; give them different names"
                raise OutputPathError(path, why)
        for source in (s for s in inputs if s is not None and same_file(path, s)):
            why = "write elsewhere, or pass --overwrite-input to replace it"
            if name not in overwritable or not overwrite_input:
                why = why if name in overwritable else "give it a file of its own"
                raise OutputPathError(path, f"{name} is the input {source}; {why}")
        check_writable(path)
