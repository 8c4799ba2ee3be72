"""Reading the grid's JSON files, with one-line errors that name the file."""

import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import srsly

from ..errors import HybridNerError


def read_json(path: Path) -> Any:
    """The parsed JSON of a file, or a one-line error naming it."""
    try:
        return srsly.read_json(path)
    except ValueError as err:
        raise HybridNerError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise HybridNerError(f"{path}: cannot read ({err})") from None


def number(path: Path, data: Mapping[str, Any], key: str, where: str = "") -> float:
    """A required number of a JSON object (``where``: the key's prefix in errors)."""
    if key not in data:
        raise HybridNerError(f'{path}: missing key "{where}{key}"')
    value = data[key]
    # bool is an int subclass but never a valid score, rate or seed.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise HybridNerError(f'{path}: "{where}{key}" must be a number, got {value!r}')
    return float(value)


def optional_object(path: Path) -> Optional[Dict[str, Any]]:
    """A JSON object file that may be missing (None), or a one-line error."""
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise HybridNerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data
