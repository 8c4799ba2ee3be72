"""Progress: a bar on a terminal, periodic lines in a log, silence with TQDM_DISABLE."""

import io

import pytest

from hybrid_ner import progress as progress_module
from hybrid_ner.progress import Progress, format_duration, track


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def enabled(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


def test_lines_in_a_log_say_done_total_rate_eta_and_counters(monkeypatch):
    clock = iter(float(t) for t in range(1000))
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    log = io.StringIO()
    bar = Progress(
        200, "propose", "prompt", counters=lambda: {"cache hits": 3, "tokens/s": 12.345}, file=log
    )
    for _ in range(30):
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert lines[0] == "propose: 0/200 prompts (0%), cache hits 3, tokens/s 12.3"
    # One line per 5% (10 prompts), each with its rate and ETA, then the last one.
    assert lines[1].startswith("propose: 10/200 prompts (5%), ") and "prompts/s, ETA " in lines[1]
    assert len(lines) == 5 and lines[-1].startswith("propose: 30/200 prompts (15%), done in ")


def test_a_line_every_interval_even_below_the_step(monkeypatch):
    clock = iter([0.0, 5.0, 31.0, 32.0, 40.0, 40.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    log = io.StringIO()
    bar = Progress(10_000, "grid", "cell", file=log)
    for _ in range(3):
        bar.update(1)
    assert log.getvalue().splitlines()[1].startswith("grid: 2/10000 cells (0%)")  # at 31 s
    assert len(log.getvalue().splitlines()) == 2


def test_a_terminal_gets_a_bar_and_write_keeps_lines():
    screen = Terminal()
    with Progress(4, "report", "step", file=screen) as bar:
        bar.update(2)
        bar.write("cell 1: F1 0.5")
    assert "report" in screen.getvalue() and "cell 1: F1 0.5" in screen.getvalue()


def test_tqdm_disable_silences_all_but_written_lines(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for stream in (io.StringIO(), Terminal()):
        items = list(track(range(5), 5, "convert", "sentence", file=stream))
        bar = Progress(3, "propose", file=stream)
        bar.update(3)
        bar.write("kept")
        bar.close()
        assert items == list(range(5)) and stream.getvalue() == "kept\n"


def test_durations():
    assert [format_duration(s) for s in (4.4, 556, 7500)] == ["4s", "9m16s", "2h05m"]
