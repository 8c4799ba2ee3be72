import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.layers import LLM_KEY
from scripts.fake_openai_server import propose_options

from .conftest import gold_answers, lines_answerer, make_doc


def run_cli(*args):
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_propose_against_a_server(server, tmp_path, gold_file, gold_docs, nlp, capsys):
    server.answer = lines_answerer(gold_answers(gold_docs))
    out = tmp_path / "out.spacy"
    code = run_cli(
        "propose",
        gold_file,
        out,
        *propose_options(server, tmp_path / "cache.sqlite"),
        "--concurrency",
        3,
        "--usage-out",
        tmp_path / "usage.json",
    )
    assert code == 0
    docs = read_docbin(out, nlp.vocab)
    assert [[(s.text, s.label_) for s in d.spans[LLM_KEY]] for d in docs] == [
        [(e.text, e.label_) for e in d.ents] for d in gold_docs
    ]
    usage = srsly.read_json(tmp_path / "usage.json")
    assert usage["requests"] == 5 and usage["model"].startswith("openai-compatible:")
    assert "Wrote 5 sentences" in capsys.readouterr().out


def test_dry_run_sends_nothing(server, tmp_path, gold_file, capsys):
    out = tmp_path / "out.spacy"
    code = run_cli(
        "propose",
        gold_file,
        out,
        *propose_options(server, tmp_path / "cache.sqlite"),
        "--dry-run",
        "--query",
        "per-type",
        "--price-in",
        1.0,
        "--price-out",
        2.0,
    )
    assert code == 0 and server.requests == [] and not out.exists()
    printed = capsys.readouterr().out
    assert "Dry run" in printed and "to send" in printed  # the figures: test_task.py


def test_budget_stops_cleanly_and_rerun_resumes(
    server, tmp_path, gold_file, gold_docs, nlp, capsys
):
    server.answer = lines_answerer(gold_answers(gold_docs))
    out = tmp_path / "out.spacy"
    code = run_cli(
        "propose",
        gold_file,
        out,
        *propose_options(server, tmp_path / "cache.sqlite"),
        "--max-requests",
        3,
        "--concurrency",
        1,
        "--batch-size",
        2,
    )
    assert code == 3  # partial: budget reached
    assert len(read_docbin(out, nlp.vocab)) == 2  # the finished batch was saved
    assert len(server.requests) == 3
    assert (
        run_cli("propose", gold_file, out, *propose_options(server, tmp_path / "cache.sqlite")) == 0
    )
    assert len(server.requests) == 5 and len(read_docbin(out, nlp.vocab)) == 5


def cli_output(*args) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess: what a user sees, exit code and all."""
    return subprocess.run(
        [sys.executable, "-m", "hybrid_ner", *map(str, args)], capture_output=True, text=True
    )


def test_errors_are_one_clear_line(tmp_path, server, gold_file):
    (tmp_path / "bad.spacy").write_text("not a docbin")
    checks = [
        (
            [
                "propose",
                tmp_path / "missing.spacy",
                tmp_path / "o.spacy",
                "--base-url",
                server.base_url,
            ],
            "--base-url and --model go together",
        ),
        (
            [
                "propose",
                tmp_path / "bad.spacy",
                tmp_path / "o.spacy",
                "--base-url",
                server.base_url,
                "--model",
                "m",
            ],
            "bad.spacy: not a spaCy DocBin",
        ),
        (
            [
                "propose",
                gold_file,
                tmp_path / "o.spacy",
                *propose_options(server, tmp_path / "cache.sqlite"),
                "--max-requests",
                1,
            ],
            "Budget reached",
        ),
    ]
    for args, expected in checks:
        result = cli_output(*args)
        assert result.returncode == (3 if expected == "Budget reached" else 1), result.stderr
        shown = result.stdout + result.stderr
        assert expected in shown and "Traceback" not in shown


SLOW_SERVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from scripts.fake_openai_server import FaultServer
server = FaultServer(answer=lambda p: "None", latency=0.3).start()
print(server.base_url, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_kill_9_loses_only_requests_in_flight(tmp_path, nlp):
    """A propose run killed with SIGKILL keeps every answer it received; the
    re-run sends only the rest."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    docs = [make_doc(nlp, f"Sentence number {i} is here .", []) for i in range(30)]
    write_docbin(tmp_path / "in.spacy", docs)
    server = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, root], stdout=subprocess.PIPE, text=True
    )
    try:
        base_url = server.stdout.readline().strip()
        cache = tmp_path / "cache.sqlite"
        args = [
            sys.executable,
            "-m",
            "hybrid_ner",
            "propose",
            str(tmp_path / "in.spacy"),
            str(tmp_path / "out.spacy"),
            "--base-url",
            base_url,
            "--model",
            "m",
            "--api-key-env",
            "",
            "--cache",
            str(cache),
            "--concurrency",
            "2",
            "--usage-out",
            str(tmp_path / "usage.json"),
            "--allow-empty",  # the server answers "None": no proposals, on purpose
        ]
        run = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and _rows(cache) < 6:
            time.sleep(0.1)
        run.send_signal(signal.SIGKILL)
        run.wait()
        saved = _rows(cache)
        assert 6 <= saved < 30
        assert not (tmp_path / "out.spacy").exists()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        usage = srsly.read_json(tmp_path / "usage.json")
        assert usage["cache_hits"] >= saved and usage["requests"] == 30 - usage["cache_hits"]
        assert len(read_docbin(tmp_path / "out.spacy", nlp.vocab)) == 30
    finally:
        server.kill()
        server.wait()


def _rows(path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(str(path), timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0
