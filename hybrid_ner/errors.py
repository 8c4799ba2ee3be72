"""Errors for bad user input, each printed by the CLI as one line with its exit code."""

import re
import threading
from pathlib import Path
from typing import Optional, Set, Union

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_REQUESTS_FAILED = 4
EXIT_INTERRUPTED = 130


class HybridNerError(Exception):
    """Base class for errors caused by user input or configuration."""

    exit_code = EXIT_ERROR


class OptionError(HybridNerError, ValueError):
    """An option or setting has a value outside its range."""


class OutputPathError(HybridNerError, OSError):
    """An output file cannot be written: ``{path}: cannot write: {reason}``."""

    def __init__(self, path: Union[str, Path], reason: str) -> None:
        super().__init__(f"{path}: cannot write: {reason}")  # one argument: OSError prints it as is


class PartialResult(HybridNerError):
    """A run stopped at a budget; what it finished was written."""

    exit_code = EXIT_PARTIAL


class RequestsFailed(HybridNerError):
    """LLM requests failed for good; nothing was written."""

    exit_code = EXIT_REQUESTS_FAILED


class Interrupted(HybridNerError):
    """The user pressed Ctrl+C; nothing was written."""

    exit_code = EXIT_INTERRUPTED


class CorpusFormatError(HybridNerError, ValueError):
    """A malformed corpus file: ``{path}:{line}: {message}`` (line is 1-based or None)."""

    def __init__(self, path: Union[str, Path], line: Optional[int], message: str) -> None:
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")


_SECRETS: Set[str] = set()
_SECRETS_LOCK = threading.Lock()
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")


def register_secret(value: Optional[str]) -> None:
    """Remember a secret (an API key) to mask; under 4 characters it would mask ordinary text."""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def mask_secrets(text: str) -> str:
    """``text`` with registered secrets, URL credentials and bearer tokens as ``***``."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", _URL_CREDENTIALS.sub(r"\1***@", text))
