"""Errors raised for bad user input.

They name the file, line or document and say what is wrong, so the CLI can
print them as one clear message instead of a traceback.
"""
from pathlib import Path
from typing import Optional, Union


class HybridNerError(Exception):
    """Base class for errors caused by user input or configuration."""


class CorpusFormatError(HybridNerError, ValueError):
    """A corpus file is malformed.

    path (Union[str, Path]): The file.
    line (Optional[int]): 1-based line number, if the problem is on a line.
    message (str): What is wrong, and where possible how to fix it.
    """

    def __init__(
        self, path: Union[str, Path], line: Optional[int], message: str
    ) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
