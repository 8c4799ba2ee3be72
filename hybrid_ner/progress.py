"""Progress: a tqdm bar on a terminal; in a log plain lines on stdout every 30 s or 5% (at most
one a second). ``TQDM_DISABLE=1`` silences both."""

import os
import sys
import threading
import time
from contextlib import suppress
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, TextIO, TypeVar

from tqdm import tqdm

INTERVAL_S = 30.0
STEP = 0.05
MIN_GAP_S = 1.0
T = TypeVar("T")


def format_duration(seconds: float) -> str:
    """``42s``, ``9m16s`` or ``2h05m``."""
    s = max(0, int(round(seconds)))
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """A progress bar on a terminal, periodic lines elsewhere; thread-safe.

    counters (Optional[Callable]): Extra figures to show (e.g. cache hits).
    file (Optional[TextIO]): The stream; if None, stderr on a terminal, else stdout.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "it",
        *,
        counters: Optional[Callable[[], Mapping[str, Any]]] = None,
        file: Optional[TextIO] = None,
    ) -> None:
        self.total, self.desc, self.unit, self.counters = max(0, int(total)), desc, unit, counters
        tty = False
        with suppress(AttributeError, ValueError):  # closed or not a real stream
            tty = bool((file or sys.stderr).isatty())
        self.file = file or (sys.stderr if tty else sys.stdout)
        self.done = self._last_done = 0
        self._start = self._last_time = time.monotonic()
        self._lock = threading.Lock()
        self._step = max(1, int(self.total * STEP))
        silent = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")
        self._bar = None
        if tty and not silent:
            self._bar = tqdm(
                total=self.total, desc=desc, unit=unit, file=self.file, dynamic_ncols=True
            )
        self._lines = not tty and not silent
        if self._lines:
            self._print_line(self._start)

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            if self._bar is not None:
                self._bar.set_postfix(self._counter_values(), refresh=False)
                self._bar.update(n)
            elif self._lines:
                now = time.monotonic()
                since, n_new = now - self._last_time, self.done - self._last_done
                if since >= INTERVAL_S or (since >= MIN_GAP_S and n_new >= self._step):
                    self._print_line(now)

    def write(self, line: str) -> None:
        """Print a line without breaking the bar (printed even when silenced)."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(line, file=self.file)
            else:
                print(line, file=self.file, flush=True)

    def close(self) -> None:
        """End the bar, or print the last line (done, time taken); a second close prints nothing."""
        with self._lock:
            if self._bar is not None:
                self._bar.set_postfix(self._counter_values(), refresh=False)
                self._bar.close()
            elif self._lines:
                self._print_line(time.monotonic(), final=True)
            self._bar, self._lines = None, False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _counter_values(self) -> Mapping[str, str]:
        try:
            values = self.counters() if self.counters else {}
        except Exception:  # a progress line must never stop the work
            return {}
        return {k: f"{v:.1f}" if isinstance(v, float) else str(v) for k, v in values.items()}

    def _print_line(self, now: float, final: bool = False) -> None:
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
        print(", ".join(parts), file=self.file, flush=True)
        self._last_time, self._last_done = now, self.done


def track(
    items: Iterable[T], total: int, desc: str, unit: str = "it", **kwargs: Any
) -> Iterator[T]:
    """Iterate over ``items`` (``total`` of them) with a :class:`Progress` made with ``kwargs``."""
    with Progress(total, desc, unit, **kwargs) as bar:
        for item in items:
            yield item
            bar.update(1)
