"""Shared helpers of the robustness tests (issue #10, tests/cli/test_robustness_*.py).

Each case runs the real CLI (in-process ``main``, or a subprocess where a
signal is needed) and checks the exit code, that the error is one line
without a traceback, and that no file was lost: an output is replaced only
on success, an input never without --overwrite-input, and nothing is sent to
the (loopback, scripted) LLM server before every path and option was checked.
"""

import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional

import pytest
import spacy
from spacy.tokens import Doc, Span

from hybrid_ner.corpus import read_docbin, write_docbin
from scripts.fake_openai_server import FaultServer, chat, openai_config

from .. import cli_runner

N_DOCS = 40
ROOT = Path(__file__).resolve().parents[2]


def make_docs(n: int = N_DOCS) -> List[Doc]:
    vocab = spacy.blank("en").vocab
    docs = []
    for i in range(n):
        doc = Doc(vocab, words=f"Ada Lovelace met Bob number {i} in Paris .".split())
        doc.set_ents([Span(doc, 0, 2, "PER"), Span(doc, 7, 8, "LOC")])
        docs.append(doc)
    return docs


def n_docs(path: Path) -> int:
    return len(read_docbin(path, spacy.blank("en").vocab))


def cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(str(path), timeout=5) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def make_ctx(tmp_path) -> SimpleNamespace:
    """Files every case may use: a 40-sentence corpus, a CoNLL file, a file
    that is in the way of a folder, and a config for the loopback server."""
    inp = tmp_path / "in.spacy"
    write_docbin(inp, make_docs())
    conll = tmp_path / "same.conll"
    conll.write_text("-DOCSTART- O\n\nAda B-PER\nLovelace I-PER\nwrote O\n\n", encoding="utf-8")
    (tmp_path / "a_file").write_text("I am a file")
    (tmp_path / "a_dir").mkdir()
    return SimpleNamespace(
        tmp=tmp_path,
        inp=inp,
        out=tmp_path / "out.spacy",
        conll=conll,
        cache=tmp_path / "cache.sqlite",
        cfg=tmp_path / "llm.cfg",
        server=None,
    )


def write_llm_config(ctx, server: FaultServer, **model) -> Path:
    """The built-in config pointed at the server: 2 tries, short back-off, no few-shot."""
    settings = {
        "max_tries": 2,
        "backoff": 0.01,
        "max_backoff": 2.0,
        "concurrency": 2,
        "timeout": 10.0,
        **model,
    }
    overrides = {f"components.llm.model.{key}": value for key, value in settings.items()}
    config = openai_config(server.base_url, {**overrides, "components.llm.task.examples.k": 0})
    config.to_disk(ctx.cfg)
    return ctx.cfg


def run_cli(capsys, argv) -> SimpleNamespace:
    """Run the CLI in-process: exit code, stdout, stderr."""
    code, out, err = cli_runner.run_cli(capsys, *argv)
    return SimpleNamespace(code=code, out=out, err=err)


def propose(ctx, *extra, out: Optional[Path] = None, inp: Optional[Path] = None) -> list:
    return [
        "propose",
        inp or ctx.inp,
        out or ctx.out,
        "--config",
        ctx.cfg,
        "--cache",
        ctx.cache,
        *extra,
    ]


def sentinel(path: Path) -> bytes:
    """Put a complete earlier result at ``path``; returns its bytes."""
    write_docbin(path, make_docs(7))
    return path.read_bytes()


# ---------------------------------------------------------------- the table
# id, script of the server (None: default answer), setup, argv, exit code,
# fragment of the one-line message, check afterwards.
def case(id_, argv, code, fragment, script=None, setup=None, check=None, model=None):
    return pytest.param(argv, code, fragment, script, setup, check, model or {}, id=id_)


def ok(payload):
    return chat("PER: Ada Lovelace\nLOC: Paris")


def _keeps(attr: str):
    def setup(ctx):
        ctx.before = (
            sentinel(getattr(ctx, attr)) if attr == "out" else getattr(ctx, attr).read_bytes()
        )

    def check(ctx):
        assert getattr(ctx, attr).read_bytes() == ctx.before

    return setup, check


keep_out, out_unchanged = _keeps("out")
keep_in, in_unchanged = _keeps("inp")


def no_request(ctx):
    assert ctx.server.requests == []


def both(*checks):
    def check(ctx):
        for fn in checks:
            fn(ctx)

    return check


def run_propose_case(ctx, capsys, argv, code, fragment, script, setup, check, model) -> None:
    """The body of each ``test_propose`` case: run it against a scripted server."""
    with FaultServer(script or ok) as server:
        ctx.server = server
        write_llm_config(ctx, server, **model)
        if setup:
            setup(ctx)
        start = time.perf_counter()
        ctx.result = run_cli(capsys, argv(ctx))
        elapsed = time.perf_counter() - start
    assert_outcome(ctx.result, code, fragment)
    assert elapsed < 60, "a fault must not make the run wait (Retry-After 2099)"
    if check:
        check(ctx)
    assert not list(ctx.tmp.glob(".*.tmp")) + list(ctx.tmp.glob(".*.probe")), (
        "a temporary file was left behind"
    )


def assert_outcome(result, code: int, fragment: str) -> None:
    shown = result.out + result.err
    assert result.code == code, shown
    assert "Traceback" not in shown
    if code != 0:
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, result.err  # one line: what, where, what to do
        assert fragment in lines[0], lines[0]
