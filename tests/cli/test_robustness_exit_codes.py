"""Never lose, never lie (issue #10): exit codes reach the shell, and Ctrl+C
mid-run keeps OUT, says what is saved and resumes from the cache."""

import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import srsly
import typer

from hybrid_ner.cli import app

from .robustness_helpers import (
    N_DOCS,
    ROOT,
    cache_rows,
    make_ctx,
    n_docs,
    propose,
    run_cli,
    sentinel,
    write_llm_config,
)


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


def test_typer_exit_codes_reach_the_shell(capsys):
    """_app.main() used to drop the code of typer.Exit (Ctrl+C is Exit(130))."""

    @app.command("exit-test", hidden=True)
    def exit_test(code: int) -> None:
        raise typer.Exit(code)

    try:
        assert run_cli(capsys, ["exit-test", 5]).code == 5
        result = run_cli(capsys, ["exit-test", 130])
        assert result.code == 130 and "Interrupted (Ctrl+C)" in result.err
        assert run_cli(capsys, ["exit-test", 0]).code == 0
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "exit-test"]


def test_usage_error_is_exit_2_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "hybrid_ner", "propose", "a", "b", "--bogus"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "No such option: --bogus" in result.stderr
    assert "Traceback" not in result.stderr


SERVE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from scripts.fake_openai_server import FaultServer, chat
# Slow enough (40 prompts, 2 in flight: ~20 s) that the signal lands mid-run also on a
# loaded machine.
with FaultServer(lambda p: chat("PER: Ada Lovelace"), latency=1.0) as server:
    print(server.base_url, flush=True)
    time.sleep(600)
"""


def test_ctrl_c_is_exit_130_keeps_out_and_says_what_is_saved(ctx):
    """SIGINT mid-run: exit 130, one line saying where the answers are, the
    earlier OUT untouched; the same command then resumes from the cache."""
    before = sentinel(ctx.out)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    try:
        base_url = server.stdout.readline().strip()
        ctx.server = SimpleNamespace(base_url=base_url)
        write_llm_config(ctx, ctx.server)
        args = [sys.executable, "-m", "hybrid_ner", *map(str, propose(ctx))]
        # Python only turns SIGINT into KeyboardInterrupt when it is not inherited as
        # ignored, as it is under a background job (`pytest &`): give the child the default.
        run = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.time() + 120
        while time.time() < deadline and cache_rows(ctx.cache) < 4 and run.poll() is None:
            time.sleep(0.1)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=120)
        assert run.returncode == 130, out + err
        assert "Traceback" not in out + err
        lines = err.strip().splitlines()
        assert (
            len(lines) == 1 and "Interrupted (Ctrl+C)" in lines[0] and "left unchanged" in lines[0]
        )
        assert str(ctx.cache) in lines[0]
        assert ctx.out.read_bytes() == before
        saved = cache_rows(ctx.cache)
        assert 4 <= saved < N_DOCS
        done = subprocess.run(
            args + ["--usage-out", str(ctx.tmp / "usage.json")],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        assert srsly.read_json(ctx.tmp / "usage.json")["cache_hits"] >= saved
        assert n_docs(ctx.out) == N_DOCS
    finally:
        server.kill()
        server.wait()
