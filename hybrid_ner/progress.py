"""Progress of long loops, on a terminal and in a log file alike.

On a terminal (stderr is a TTY) :class:`Progress` shows a tqdm bar on
stderr. When stderr is a file or a pipe (``hybrid-ner propose ... > run.log
2>&1``, CI, ``nohup``) tqdm would show nothing, so :class:`Progress` prints
plain lines on stdout instead, with the command's other messages (stderr
stays for the one-line error), at the start, every ``interval_s`` seconds or every ``step`` of the
total (whichever comes first, at most one a second) and at the end::

    propose: 412/1696 prompts (24%), 2.31 prompts/s, ETA 9m16s, cache hits 120, failed attempts 0

``TQDM_DISABLE=1`` in the environment silences both (the test suite sets it);
lines written with :meth:`Progress.write` are always printed.
"""

import os
import sys
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, TextIO, TypeVar

from tqdm import tqdm

#: Seconds between two progress lines when the stream is not a terminal.
INTERVAL_S = 30.0
#: Fraction of the total after which a line is printed anyway.
STEP = 0.05
#: Seconds at least between two lines (a fast, small run prints start and end).
MIN_GAP_S = 1.0
#: Environment variable that silences progress (tqdm's own).
DISABLE_ENV = "TQDM_DISABLE"

Counters = Callable[[], Mapping[str, Any]]
T = TypeVar("T")


def progress_disabled() -> bool:
    """Whether ``TQDM_DISABLE`` asks for no progress output."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def format_duration(seconds: float) -> str:
    """``42s``, ``9m16s`` or ``2h05m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _format_value(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


class Progress:
    """A progress bar on a terminal, periodic lines elsewhere.

    total (int): Units to do.
    desc (str): What is running, e.g. "propose".
    unit (str): The unit's name, e.g. "prompt".
    counters (Optional[Callable[[], Mapping[str, Any]]]): Extra figures shown
        with the progress (e.g. cache hits), read each time it is shown.
    interval_s (float): Seconds between lines when not on a terminal.
    step (float): Fraction of ``total`` after which a line is printed anyway.
    file (Optional[TextIO]): The stream for both; if None, the bar goes to
        stderr when it is a terminal, else the lines go to stdout.

    Thread-safe: :meth:`update` may be called from worker threads.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "it",
        *,
        counters: Optional[Counters] = None,
        interval_s: float = INTERVAL_S,
        step: float = STEP,
        file: Optional[TextIO] = None,
    ) -> None:
        self.total = max(0, int(total))
        self.desc = desc
        self.unit = unit
        self.counters = counters
        self.interval_s = interval_s
        self.step = step
        tty = _is_tty(file if file is not None else sys.stderr)
        self.file = file if file is not None else (sys.stderr if tty else sys.stdout)
        self.done = 0
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._closed = False
        self._bar: Optional[tqdm] = None
        self._lines = False
        if progress_disabled():
            return
        if tty:
            self._bar = tqdm(
                total=self.total, desc=desc, unit=unit, file=self.file, dynamic_ncols=True
            )
        else:
            self._lines = True
            self._last_time = self._start
            self._last_done = 0
            self._print_line()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        if n <= 0:
            return
        with self._lock:
            self.done += n
            if self._bar is not None:
                if self.counters is not None:
                    self._bar.set_postfix(self._counter_values(), refresh=False)
                self._bar.update(n)
            elif self._lines:
                now = time.monotonic()
                every = max(1, int(self.total * self.step)) if self.total else 0
                since = now - self._last_time
                if since >= self.interval_s or (
                    every and self.done - self._last_done >= every and since >= MIN_GAP_S
                ):
                    self._print_line(now)

    def write(self, line: str) -> None:
        """Print a line without breaking the bar (printed even when silenced)."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(line, file=self.file)
            else:
                print(line, file=self.file, flush=True)

    def close(self) -> None:
        """End the bar, or print the last line (done, time taken)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._bar is not None:
                if self.counters is not None:
                    self._bar.set_postfix(self._counter_values(), refresh=False)
                self._bar.close()
            elif self._lines:
                self._print_line(final=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _counter_values(self) -> Mapping[str, Any]:
        try:
            return {
                key: _format_value(value)
                for key, value in (self.counters() if self.counters else {}).items()
            }
        except Exception:  # a progress line must never stop the work
            return {}

    def line(self, now: Optional[float] = None, final: bool = False) -> str:
        """The progress line: done/total, share, rate, ETA and the counters."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.desc}: {self.done}/{self.total} {self.unit}s"]
        if self.total:
            parts[0] += f" ({self.done / self.total:.0%})"
        if final:
            parts.append(f"done in {format_duration(elapsed)}")
        if self.done:
            parts.append(f"{rate:.2f} {self.unit}s/s")
            if not final and self.total > self.done:
                parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        parts.extend(f"{key} {value}" for key, value in self._counter_values().items())
        return ", ".join(parts)

    def _print_line(self, now: Optional[float] = None, final: bool = False) -> None:
        now = time.monotonic() if now is None else now
        print(self.line(now, final), file=self.file, flush=True)
        self._last_time = now
        self._last_done = self.done


def track(
    items: Iterable[T], total: int, desc: str, unit: str = "it", **kwargs: Any
) -> Iterator[T]:
    """Iterate over ``items`` with a :class:`Progress` of ``total`` units.

    items (Iterable[T]): The items, one unit each.
    total (int): Their number.
    desc (str): What is running.
    unit (str): The unit's name.
    **kwargs: Passed to :class:`Progress`.
    YIELDS (T): The items.
    """
    with Progress(total, desc, unit, **kwargs) as bar:
        for item in items:
            yield item
            bar.update(1)


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False
