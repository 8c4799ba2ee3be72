"""Atomic file output: a file is its old self or the complete new one; a FIFO or
``/dev/stdout`` is never replaced: the content is written into it, as a shell would."""

import errno
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Union

from .errors import OutputPathError

PathLike = Union[str, Path]
_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd|proc/(\d+)/fd)/(\d+)$")
_STD_PATHS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_PLAIN = (stat.S_IFREG, stat.S_IFDIR)


def _descriptor(path: PathLike) -> Optional[int]:
    """The descriptor of this process ``/dev/stdout`` etc. name (kept: the shell's offset)."""
    text = os.path.abspath(str(path))
    match = _FD_PATH.match(text)
    if match and match.group(1) in (None, str(os.getpid())):
        return int(match.group(2))
    return _STD_PATHS.get(text)


def _is_special(path: PathLike) -> bool:
    with suppress(OSError):  # a descriptor name, or an existing file that is no file or folder
        return _descriptor(path) is not None or stat.S_IFMT(os.stat(path).st_mode) not in _PLAIN
    return False


def _target(path: PathLike) -> Path:
    """The file really written: a symlink is followed, so the link stays a link."""
    return Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)


@contextmanager
def _errors(path: PathLike) -> Iterator[None]:
    """Raise an OSError in the block as the OutputPathError naming ``path``."""
    try:
        yield
    except OutputPathError:
        raise
    except OSError as err:
        raise OutputPathError(path, err.strerror or str(err)) from None


def _write_into(path: PathLike, source: Path) -> None:
    """Copy ``source`` into the special file ``path``; refuse a FIFO nobody reads."""
    fd = _descriptor(path)
    if fd is not None:
        fd = os.dup(fd)
        for stream in (sys.stdout, sys.stderr):  # what was printed before comes first
            with suppress(OSError, ValueError):
                stream.flush()
    elif stat.S_ISFIFO(os.stat(path).st_mode):
        try:  # ENXIO at once without a reader
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as err:
            if err.errno == errno.ENXIO:
                raise OutputPathError(path, "is a FIFO that no process reads") from None
            raise
        os.set_blocking(fd, True)
    else:
        fd = os.open(path, os.O_WRONLY)
    with open(fd, "wb") as out, open(source, "rb") as file_:
        shutil.copyfileobj(file_, out)


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary file to write ``path``'s content to (see :func:`atomic_paths`)."""
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextmanager
def atomic_paths(paths: Sequence[PathLike]) -> Iterator[List[Path]]:
    """Temporary files for ``paths``, all or nothing: all are durable before the first is put
    in place; on any error (also Ctrl+C) no target changes."""
    special = [_is_special(path) for path in paths]
    tmps: List[Path] = []
    try:
        for path, is_special in zip(paths, special):
            folder = Path(tempfile.gettempdir()) if is_special else _target(path).parent
            tmps.append(folder / f".{Path(path).name}.{uuid.uuid4().hex[:12]}.tmp")
            with _errors(path):
                folder.mkdir(parents=True, exist_ok=True)
                # 0o666 & ~umask, as open() gives; O_EXCL never reuses another run's file.
                mode = 0o600 if is_special else 0o666
                os.close(os.open(tmps[-1], os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
        yield list(tmps)
        for path, tmp, is_special in zip(paths, tmps, special):
            with _errors(path), open(tmp, "rb+") as file_:
                if not is_special and _target(path).exists():
                    os.chmod(tmp, stat.S_IMODE(_target(path).stat().st_mode))
                os.fsync(file_.fileno())  # on disk before the name points at it
        for path, tmp, is_special in zip(paths, tmps, special):
            with _errors(path):
                _write_into(path, tmp) if is_special else os.replace(tmp, _target(path))
    finally:
        for tmp in tmps:
            with suppress(OSError):
                tmp.unlink()


def write_bytes(path: PathLike, data: bytes) -> None:
    with atomic_paths([path]) as (tmp,):
        tmp.write_bytes(data)


def write_text(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    write_bytes(path, text.encode(encoding))


def write_json(path: PathLike, data: Any, indent: int = 2) -> None:
    write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def check_writable(path: PathLike) -> Path:
    """Check ``path`` by creating a file in its nearest existing folder (permission bits say
    nothing for root or read-only file systems)."""
    path = Path(path)
    if _is_special(path):  # written into, not replaced: nothing is created beside it
        if _descriptor(path) is None and not os.access(path, os.W_OK):
            raise OutputPathError(path, "cannot be opened for writing (permission denied)")
        return path
    target = _target(path)
    if target.is_dir():
        raise OutputPathError(path, "is a directory; give a file name")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputPathError(path, f"{folder} is a file, not a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}."):
            pass
    except OSError as err:
        raise OutputPathError(path, f"cannot create files in {folder} ({err.strerror})") from None
    return path


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file (links and ``..`` resolved)."""
    with suppress(OSError):
        if Path(a).exists() and Path(b).exists():
            return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)
