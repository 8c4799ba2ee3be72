"""Reading and writing the grid's JSON files, with errors that name the file."""

import json
import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import srsly

from ..errors import HybridNerError


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically: a killed run never leaves half a file.

    path (Path): The file; its folder is created.
    data (object): JSON-serializable data, written with sorted keys.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf8")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    """Read a JSON file.

    path (Path): The file.
    RETURNS (Any): The parsed JSON.
    RAISES (HybridNerError): If the file cannot be read or is not JSON.
    """
    try:
        return srsly.read_json(path)
    except ValueError as err:
        raise HybridNerError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise HybridNerError(f"{path}: cannot read ({err})") from None


def number(path: Path, data: Mapping[str, Any], key: str, where: str = "") -> float:
    """A required number of a JSON object.

    path (Path): The file, named in errors.
    data (Mapping[str, Any]): The object.
    key (str): The key.
    where (str): The key's prefix in errors, e.g. "scores.".
    RETURNS (float): The value.
    RAISES (HybridNerError): If the key is missing or not a number.
    """
    if key not in data:
        raise HybridNerError(f'{path}: missing key "{where}{key}"')
    value = data[key]
    # bool is an int subclass but never a valid score, rate or seed.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise HybridNerError(f'{path}: "{where}{key}" must be a number, got {value!r}')
    return float(value)


def optional_numbers(path: Path, value: Any, key: str) -> Optional[Dict[str, float]]:
    """An optional object of numbers; null members mean "unknown" and are left out.

    path (Path): The file, named in errors.
    value (Any): The object (None: absent).
    key (str): Its key, named in errors.
    RETURNS (Optional[Dict[str, float]]): The numbers, or None.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HybridNerError(f'{path}: "{key}" must be an object, got {value!r}')
    return {k: number(path, value, k, f"{key}.") for k in value if value[k] is not None}


def optional_object(path: Path) -> Optional[Dict[str, Any]]:
    """A JSON object file that may be missing.

    path (Path): The file.
    RETURNS (Optional[Dict[str, Any]]): The object, or None without the file.
    RAISES (HybridNerError): If the file holds something else than an object.
    """
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise HybridNerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data
