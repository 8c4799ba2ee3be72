"""Atomic file output: a file is either its old self or the complete new one.

Every file the CLI writes goes to a temporary file in the target's directory
(same file system, so the final ``os.replace`` is atomic) and is renamed
into place only when it is complete. A failed, interrupted or killed run
therefore never leaves a truncated or partial file under the target name,
and never destroys the previous result. :func:`check_writable` finds the
paths that cannot be written *before* a command does any (paid) work.

A path that is not a regular file (a device such as ``/dev/null``, a FIFO,
``/dev/stdout`` or ``/proc/self/fd/N``) is never replaced: the content is
written *into* it once complete, as a shell redirection would. A FIFO
nobody reads is refused. :func:`atomic_paths` writes several files all or
nothing: each is complete on disk before the first is renamed into place.
"""

import json
import os
import re
import stat
import sys
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Union

from .errors import OutputPathError

PathLike = Union[str, Path]


def _target(path: PathLike) -> Path:
    """The file really written: a symlink is followed, so the rename replaces
    the file it points to and not the link itself."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


#: Paths naming an open file descriptor of this process.
_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd|proc/\d+/fd)/(\d+)$")
_STD_PATHS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _descriptor(path: PathLike) -> Optional[int]:
    """The file descriptor a path like ``/dev/stdout`` or ``/proc/self/fd/3``
    stands for (written through it, so the shell's redirection and offset
    are kept), or None."""
    text = os.path.abspath(str(path))
    if text in _STD_PATHS:
        return _STD_PATHS[text]
    match = _FD_PATH.match(text)
    if match and (
        not text.startswith("/proc/") or text.split("/")[2] in ("self", str(os.getpid()))
    ):
        return int(match.group(1))
    return None


def is_special(path: PathLike) -> bool:
    """Whether ``path`` names something other than a regular file or a new
    file: a device, a FIFO, a socket or a file descriptor (``/dev/stdout``).
    Such a path is written into, never replaced."""
    if _descriptor(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _open_special(path: PathLike) -> int:
    """A descriptor to write ``path``'s content into (see :func:`is_special`).
    RAISES (OutputPathError): For a FIFO without a reader (it would wait
        forever) or a device that cannot be opened for writing."""
    fd = _descriptor(path)
    if fd is not None:
        try:
            return os.dup(fd)
        except OSError as err:
            raise OutputPathError(path, f"file descriptor {fd} is not open ({_reason(err)})")
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):
            # O_NONBLOCK: ENXIO at once when no process reads the FIFO, instead of a hang.
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return fd
        return os.open(path, os.O_WRONLY)
    except OSError as err:
        if err.errno == 6:  # ENXIO
            raise OutputPathError(path, "is a FIFO that no process reads") from None
        raise OutputPathError(path, _reason(err)) from None


def _write_into(path: PathLike, source: Path) -> None:
    """Copy the complete content of ``source`` into the special file ``path``."""
    fd = _open_special(path)
    if fd in (1, 2) or _descriptor(path) in (1, 2):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # what was printed before comes first
            except (OSError, ValueError):
                pass
    try:
        with open(source, "rb") as file_:
            while True:
                chunk = file_.read(1 << 20)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
    except OSError as err:
        raise OutputPathError(path, _reason(err)) from None
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary path to write the content of ``path`` to; renamed onto
    ``path`` when the block ends without an error, deleted otherwise.

    Parent directories are created. The file gets the mode a plain ``open``
    would give it (or the mode of the file it replaces), not the 0600 of
    ``tempfile``. A special file (see :func:`is_special`) is not replaced:
    the complete content is written into it.

    path (PathLike): The final file.
    YIELDS (Path): The temporary file, created empty, in the same directory.
    RAISES (OutputPathError): If the file cannot be created or renamed.
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextmanager
def atomic_paths(paths: Sequence[PathLike]) -> Iterator[List[Path]]:
    """Temporary paths to write several files to, all or nothing: when the
    block ends without an error, each is made durable first and only then
    are they renamed into place; on any error none of the targets changes.

    paths (Sequence[PathLike]): The final files.
    YIELDS (List[Path]): One temporary file per path, in the same order.
    RAISES (OutputPathError): If a file cannot be created or renamed.
    """
    with ExitStack() as stack:
        tmps = [stack.enter_context(_temporary(path)) for path in paths]
        yield [tmp for tmp, _ in tmps]
        finishers = [finish for _, finish in tmps]
        for finish in finishers:
            finish(False)  # durable, nothing renamed yet: a full disk stops here
        for finish in finishers:
            finish(True)


@contextmanager
def _temporary(path: PathLike) -> Iterator[Any]:
    """One target of :func:`atomic_paths`: yields (temporary path, finish);
    ``finish(False)`` makes the content durable, ``finish(True)`` puts it in
    place. The temporary file is removed whatever happens."""
    if is_special(path):
        tmp_dir = Path(os.environ.get("TMPDIR") or "/tmp")
        tmp = tmp_dir / f".hybrid-ner.{uuid.uuid4().hex[:12]}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as err:
            raise OutputPathError(path, _reason(err)) from None

        def finish_special(place: bool) -> None:
            if place:
                _write_into(path, tmp)

        try:
            yield tmp, finish_special
        finally:
            _remove(tmp)
        return
    target = _target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
        # 0o666 & ~umask, as open() would: O_EXCL never reuses another run's file.
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as err:
        raise OutputPathError(path, _reason(err)) from None

    def finish(place: bool) -> None:
        try:
            if not place:
                if target.exists():
                    os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
                with open(tmp, "rb+") as file_:
                    os.fsync(file_.fileno())  # on disk before the name points at it
            else:
                os.replace(tmp, target)
        except OSError as err:
            raise OutputPathError(path, _reason(err)) from None

    try:
        yield tmp, finish
    finally:  # also KeyboardInterrupt: the old file stays as it was
        _remove(tmp)


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
    if is_special(path):
        if not os.access(path, os.W_OK) and _descriptor(path) is None:
            raise OutputPathError(path, "cannot be opened for writing (permission denied)")
        return path  # written into, not replaced: no file is created beside it
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
