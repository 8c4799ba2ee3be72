"""Read a text file with errors that name the file and line."""

from pathlib import Path
from typing import Union

from ..errors import CorpusFormatError


def read_text_file(path: Union[str, Path], encoding: str = "utf-8") -> str:
    """Read a whole text file, refusing empty, binary and mis-encoded files.

    path (Union[str, Path]): The file.
    encoding (str): Its encoding.
    RETURNS (str): The text, without a leading byte-order mark.
    RAISES (CorpusFormatError): If the file is missing, empty, binary or not
        valid in ``encoding``.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusFormatError(path, None, "file not found")
    if path.is_dir():
        raise CorpusFormatError(path, None, "is a directory, expected a file")
    data = path.read_bytes()
    if not data.strip():
        raise CorpusFormatError(path, None, "file is empty")
    if b"\x00" in data[:65536]:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise CorpusFormatError(path, line, "binary data (NUL byte): expected a text file")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusFormatError(
            path,
            line,
            f"not valid {encoding}: byte {data[err.start : err.start + 1]!r} cannot be "
            f"decoded; pass the file's encoding (e.g. --encoding latin-1)",
        ) from None
    except LookupError:
        raise CorpusFormatError(path, None, f"unknown encoding {encoding!r}") from None
    return text.lstrip("\ufeff")
