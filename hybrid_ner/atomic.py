"""Atomic file output: a file is either its old self or the complete new one.

Every file the CLI writes goes to a temporary file in the target's directory
(same file system, so the final ``os.replace`` is atomic) and is renamed
into place only when it is complete. A failed, interrupted or killed run
therefore never leaves a truncated or partial file under the target name,
and never destroys the previous result. :func:`check_writable` finds the
paths that cannot be written *before* a command does any (paid) work.
"""

import json
import os
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Union

from .errors import OutputPathError

PathLike = Union[str, Path]


def _target(path: PathLike) -> Path:
    """The file really written: a symlink is followed, so the rename replaces
    the file it points to and not the link itself."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary path to write the content of ``path`` to; renamed onto
    ``path`` when the block ends without an error, deleted otherwise.

    Parent directories are created. The file gets the mode a plain ``open``
    would give it (or the mode of the file it replaces), not the 0600 of
    ``tempfile``.

    path (PathLike): The final file.
    YIELDS (Path): The temporary file, created empty, in the same directory.
    RAISES (OutputPathError): If the file cannot be created or renamed.
    """
    target = _target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
        # 0o666 & ~umask, as open() would: O_EXCL never reuses another run's file.
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as err:
        raise OutputPathError(path, _reason(err)) from None
    try:
        yield tmp
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        with open(tmp, "rb+") as file_:
            os.fsync(file_.fileno())  # the content is on disk before the name points at it
        os.replace(tmp, target)
    except OSError as err:
        _remove(tmp)
        raise OutputPathError(path, _reason(err)) from None
    except BaseException:  # also KeyboardInterrupt: the old file stays as it was
        _remove(tmp)
        raise


def write_bytes(path: PathLike, data: bytes) -> None:
    """Write bytes to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write text to ``path`` atomically (see :func:`atomic_path`)."""
    write_bytes(path, text.encode(encoding))


def write_json(path: PathLike, data: Any, indent: int = 2) -> None:
    """Write indented JSON to ``path`` atomically (see :func:`atomic_path`)."""
    write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def check_writable(path: PathLike) -> Path:
    """Check that ``path`` can be written, before any work is done.

    Probes the nearest existing directory by creating (and removing) a file
    in it, as the atomic write will: permission bits say nothing for root
    or for read-only and virtual file systems (``/proc``).

    path (PathLike): The file to write.
    RETURNS (Path): The path.
    RAISES (OutputPathError): If it is a directory, or its parent is a file,
        or the directory cannot be written to.
    """
    path = Path(path)
    target = _target(path)
    if target.is_dir():
        raise OutputPathError(path, "is a directory; give a file name")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(path, f"{ancestor} is a file, not a directory")
    probe = ancestor / f".{target.name}.{uuid.uuid4().hex[:12]}.probe"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as err:
        raise OutputPathError(path, f"cannot create files in {ancestor} ({_reason(err)})") from None
    _remove(probe)
    return path


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file (links and ``..`` resolved)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
