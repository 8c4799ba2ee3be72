"""Errors raised for bad user input, and the exit codes they mean.

They name the file, line or document and say what is wrong, so the CLI can
print them as one clear message instead of a traceback. Each class carries
the process exit code the CLI ends with:

== ==========================================================================
0  complete success
1  error in the input, an option, the config or an output path; nothing written
2  command-line usage error (unknown option, a value of the wrong type)
3  partial: a budget was reached; the finished part was written (it says how much)
4  LLM requests failed for good; outputs left unchanged, answers so far cached
130 interrupted (Ctrl+C); outputs left unchanged, answers so far cached
== ==========================================================================
"""

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
    """An output file cannot be written.

    path (Union[str, Path]): The file.
    reason (str): Why, and where possible what to do.
    """

    def __init__(self, path: Union[str, Path], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot write: {reason}")

    def __str__(self) -> str:  # OSError would format its own (errno, strerror)
        return f"{self.path}: cannot write: {self.reason}"


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
    """A corpus file is malformed.

    path (Union[str, Path]): The file.
    line (Optional[int]): 1-based line number, if the problem is on a line.
    message (str): What is wrong, and where possible how to fix it.
    """

    def __init__(self, path: Union[str, Path], line: Optional[int], message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------- secrets
_SECRETS: Set[str] = set()
_SECRETS_LOCK = threading.Lock()
#: ``scheme://user:password@host``: the credentials part of a URL.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
MASK = "***"


def register_secret(value: Optional[str]) -> None:
    """Remember a secret (an API key) so that :func:`mask_secrets` hides it
    wherever it appears, e.g. in a server's error message that echoes the
    request's headers. Values shorter than 4 characters are not masked (they
    would mask ordinary text)."""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def mask_secrets(text: str) -> str:
    """``text`` with registered secrets, credentials in URLs
    (``http://user:pass@host``) and bearer tokens replaced by ``***``.
    Every message the CLI prints goes through it."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
