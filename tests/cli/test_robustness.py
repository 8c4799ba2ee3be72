"""Never lose, never lie (issue #10): every command on hostile input.

Each case runs the real CLI (in-process ``main``, or a subprocess where a
signal is needed) and checks the exit code, that the error is one line
without a traceback, and that no file was lost: an output is replaced only
on success, an input never without --overwrite-input, and nothing is sent to
the (loopback, scripted) LLM server before every path and option was checked.
"""

import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional

import pytest
import spacy
import srsly
import typer
from spacy.tokens import Doc, Span

from hybrid_ner.atomic import atomic_path, check_writable, write_text
from hybrid_ner.cli import app
from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.errors import OutputPathError
from hybrid_ner.layers import LLM_KEY
from hybrid_ner.llm.config import load_config, set_value, use_openai_compatible

from .. import cli_runner
from .fault_server import FaultServer, chat, error

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


@pytest.fixture
def ctx(tmp_path):
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
    config = use_openai_compatible(load_config(None), server.base_url, "scripted", None)
    settings = {
        "max_tries": 2,
        "backoff": 0.01,
        "max_backoff": 2.0,
        "concurrency": 2,
        "timeout": 10.0,
        **model,
    }
    for key, value in settings.items():
        set_value(config, f"components.llm.model.{key}", value)
    set_value(config, "components.llm.task.examples.k", 0)
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
def _case(id_, argv, code, fragment, script=None, setup=None, check=None, model=None):
    return pytest.param(argv, code, fragment, script, setup, check, model or {}, id=id_)


def _ok(payload):
    return chat("PER: Ada Lovelace\nLOC: Paris")


def _keeps(attr: str):
    def setup(ctx):
        ctx.before = (
            sentinel(getattr(ctx, attr)) if attr == "out" else getattr(ctx, attr).read_bytes()
        )

    def check(ctx):
        assert getattr(ctx, attr).read_bytes() == ctx.before

    return setup, check


_keep_out, _out_unchanged = _keeps("out")
_keep_in, _in_unchanged = _keeps("inp")


def _no_request(ctx):
    assert ctx.server.requests == []


def _both(*checks):
    def check(ctx):
        for fn in checks:
            fn(ctx)

    return check


def _null_retried_then_ok():
    answers = iter([chat(None)])
    return lambda payload: next(answers, None) or _ok(payload)


def _nothing_cached(ctx):
    assert cache_rows(ctx.cache) == 0


def _partial_holds_what_it_says(ctx):
    held = int(re.search(r"holds only the (\d+) of 40", ctx.result.err).group(1))
    assert 0 < held < N_DOCS and n_docs(ctx.out) == held


def _oversized_clipped(ctx):
    usage = srsly.read_json(ctx.tmp / "usage.json")
    assert usage["failures"] == {"oversized_answer": 3}
    with sqlite3.connect(str(ctx.cache)) as conn:
        longest = conn.execute("SELECT MAX(LENGTH(response)) FROM answers").fetchone()[0]
    assert longest <= 160 * 32  # max_tokens of the built-in config × the chars-per-token bound
    docs = read_docbin(ctx.out, spacy.blank("en").vocab)
    assert len(docs) == 3 and all(
        {s.label_ for s in doc.spans[LLM_KEY]} == {"PER", "LOC"} for doc in docs
    )


PROPOSE_CASES = [
    # 1. A failed run never replaces OUT, even over a complete result or the input.
    _case(
        "400-keeps-complete-out",
        lambda c: propose(c),
        4,
        "left unchanged",
        script=lambda p: error(400),
        setup=_keep_out,
        check=_out_unchanged,
    ),
    _case(
        "400-names-the-cache", lambda c: propose(c), 4, "cache.sqlite", script=lambda p: error(400)
    ),
    _case(
        "out-is-in-refused",
        lambda c: propose(c, out=c.inp),
        1,
        "--overwrite-input",
        setup=_keep_in,
        check=_both(_in_unchanged, _no_request),
    ),
    _case(
        "out-is-in-400-keeps-in",
        lambda c: propose(c, "--overwrite-input", out=c.inp),
        4,
        "left unchanged",
        script=lambda p: error(400),
        setup=_keep_in,
        check=_in_unchanged,
    ),
    _case(
        "out-is-in-budget-keeps-in",
        lambda c: propose(
            c, "--overwrite-input", "--max-requests", 3, "--batch-size", 2, out=c.inp
        ),
        3,
        "it is the input",
        setup=_keep_in,
        check=_in_unchanged,
    ),
    # 2. Unwritable outputs are found before any request.
    _case(
        "out-in-proc",
        lambda c: propose(c, out=Path("/proc/x.spacy")),
        1,
        "cannot write",
        check=_no_request,
    ),
    _case(
        "out-is-a-dir",
        lambda c: propose(c, out=c.tmp / "a_dir"),
        1,
        "is a directory",
        check=_no_request,
    ),
    _case(
        "out-parent-is-a-file",
        lambda c: propose(c, out=c.tmp / "a_file" / "o.spacy"),
        1,
        "is a file",
        check=_no_request,
    ),
    _case(
        "usage-out-unwritable",
        lambda c: propose(c, "--usage-out", "/proc/u.json"),
        1,
        "/proc/u.json",
        setup=_keep_out,
        check=_both(_no_request, _out_unchanged),
    ),
    _case(
        "usage-out-is-out",
        lambda c: propose(c, "--usage-out", c.out),
        1,
        "same file",
        check=_no_request,
    ),
    _case(
        "cache-is-a-dir",
        lambda c: ["propose", c.inp, c.out, "--config", c.cfg, "--cache", c.tmp / "a_dir"],
        1,
        "is a directory",
        check=_no_request,
    ),
    _case(
        "cache-is-the-input",
        lambda c: [
            "propose",
            c.inp,
            c.out,
            "--config",
            c.cfg,
            "--cache",
            c.inp,
            "--overwrite-input",
        ],
        1,
        "give it a file of its own",
        check=_no_request,
    ),
    _case(
        "usage-out-is-the-input",
        lambda c: propose(c, "--usage-out", c.inp, "--overwrite-input"),
        1,
        "give it a file of its own",
        setup=_keep_in,
        check=_both(_in_unchanged, _no_request),
    ),
    # 3. A cost limit without prices is no limit: refused.
    _case(
        "max-cost-without-prices",
        lambda c: propose(c, "--max-cost", 1),
        1,
        "needs --price-in",
        check=_no_request,
    ),
    _case(
        "token-limit-without-max-tokens",
        lambda c: propose(c, "--max-tokens", 10_000),
        1,
        "need generation.max_tokens",
        model={"generation": {"temperature": 0.0}},
        check=_no_request,
    ),
    _case(
        "max-cost-nan",
        lambda c: propose(c, "--max-cost", "nan", "--price-in", 1, "--price-out", 1),
        1,
        "--max-cost must be >= 0",
        check=_no_request,
    ),
    # 5. No silent loss with exit 0.
    _case(
        "batch-size-0",
        lambda c: propose(c, "--batch-size", 0),
        1,
        "--batch-size must be >= 1",
        check=_no_request,
    ),
    _case(
        "limit-negative",
        lambda c: propose(c, "--limit", -5),
        1,
        "--limit must be >= 0",
        check=_no_request,
    ),
    _case(
        "concurrency-0",
        lambda c: propose(c, "--concurrency", 0),
        1,
        "--concurrency must be >= 1",
        check=_no_request,
    ),
    _case(
        "content-null-is-a-failure",
        lambda c: propose(c),
        4,
        "(empty: the answer has no content (null))",
        script=lambda p: chat(None),
        setup=_keep_out,
        check=_both(_out_unchanged, _nothing_cached),
    ),
    _case(
        "blank-answer-is-a-failure", lambda c: propose(c), 4, "blank", script=lambda p: chat("  \n")
    ),
    _case(
        "null-retried-counted-not-cached",
        lambda c: propose(c, "--usage-out", c.tmp / "usage.json"),
        0,
        "",
        script=None,
        setup=lambda c: setattr(c.server, "script", _null_retried_then_ok()),
        check=lambda c: (
            (
                srsly.read_json(c.tmp / "usage.json")["failures"] == {"empty": 1}
                and cache_rows(c.cache) == N_DOCS
            )
            or pytest.fail("not counted or not cached")
        ),
    ),
    _case(
        "garbage-answers",
        lambda c: propose(c),
        0,
        "",
        script=lambda p: chat("<html>proxy error</html>"),
        check=lambda c: (
            ("of 0" not in c.result.out and "No answer held a usable entity item" in c.result.out)
            or pytest.fail(c.result.out)
        ),
    ),
    # 7. Retry-After in 2099: not silently shortened to max_backoff; a 1.6 MB answer is cut
    # to max_tokens.
    _case(
        "retry-after-2099",
        lambda c: propose(c),
        4,
        "asks to retry after",
        script=lambda p: error(429, "slow down", {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
    ),
    _case(
        "oversized-answer-clipped",
        lambda c: propose(c, "--usage-out", c.tmp / "usage.json", "--limit", 3),
        0,
        "",
        script=lambda p: chat("PER: Ada Lovelace\n" + "LOC: Paris\n" * 150_000),
        check=_oversized_clipped,
    ),
    _case(
        "corrupt-cache",
        lambda c: propose(c),
        1,
        "cache.sqlite: cannot open the prompt cache",
        setup=lambda c: c.cache.write_bytes(b"not a database" * 400),
        check=_no_request,
    ),
    # The budget stop writes what it finished, atomically, and says how much.
    _case(
        "budget-partial",
        lambda c: propose(c, "--max-requests", 3, "--batch-size", 2),
        3,
        "PARTIAL",
        check=_partial_holds_what_it_says,
    ),
    _case(
        "complete-run",
        lambda c: propose(c, "--usage-out", c.tmp / "usage.json"),
        0,
        "",
        setup=_keep_out,
        check=lambda c: n_docs(c.out) == N_DOCS or pytest.fail("incomplete"),
    ),
]


@pytest.mark.parametrize("argv,code,fragment,script,setup,check,model", PROPOSE_CASES)
def test_propose(ctx, capsys, argv, code, fragment, script, setup, check, model):
    with FaultServer(script or _ok) as server:
        ctx.server = server
        write_llm_config(ctx, server, **model)
        if setup:
            setup(ctx)
        start = time.perf_counter()
        ctx.result = run_cli(capsys, argv(ctx))
        elapsed = time.perf_counter() - start
    _assert_outcome(ctx.result, code, fragment)
    assert elapsed < 60, "a fault must not make the run wait (Retry-After 2099)"
    if check:
        check(ctx)
    assert not list(ctx.tmp.glob(".*.tmp")) + list(ctx.tmp.glob(".*.probe")), (
        "a temporary file was left behind"
    )


def _convert(c, out):
    return ["convert", c.conll, out]


OTHER_CASES = [
    # 6. An input is never replaced by a derived file without --overwrite-input.
    _case(
        "convert-onto-its-source",
        lambda c: ["convert", c.conll, c.conll],
        1,
        "--overwrite-input",
        setup=lambda c: setattr(c, "before", c.conll.read_bytes()),
        check=lambda c: c.conll.read_bytes() == c.before or pytest.fail("source replaced"),
    ),
    _case(
        "noise-onto-the-gold",
        lambda c: ["noise", c.inp, c.inp, "--omit-rate", 0.5],
        1,
        "is the input",
        setup=_keep_in,
        check=_in_unchanged,
    ),
    _case(
        "budget-onto-the-input",
        lambda c: ["budget", c.inp, c.inp, "--fraction", 0.5],
        1,
        "is the input",
        setup=_keep_in,
        check=_in_unchanged,
    ),
    _case(
        "merge-onto-the-input",
        lambda c: ["merge", c.inp, c.inp],
        1,
        "is the input",
        setup=_keep_in,
        check=_in_unchanged,
    ),
    _case(
        "split-onto-the-input",
        lambda c: ["split", c.tmp / "train.spacy", c.tmp],
        1,
        "is the input",
        setup=lambda c: write_docbin(c.tmp / "train.spacy", make_docs(3)),
    ),
    _case(
        "simulate-annotator-onto-the-input",
        lambda c: ["simulate-annotator", c.inp, c.inp],
        1,
        "is the input",
        setup=_keep_in,
        check=_in_unchanged,
    ),
    _case(
        "noise-overwrite-input-allowed",
        lambda c: ["noise", c.inp, c.inp, "--omit-rate", 1, "--overwrite-input"],
        0,
        "",
        check=lambda c: (
            sum(len(d.ents) for d in read_docbin(c.inp, spacy.blank("en").vocab)) == 0
            or pytest.fail("not written")
        ),
    ),
    # 2. Unwritable outputs: one line, before any work.
    _case(
        "convert-to-proc", lambda c: _convert(c, "/proc/x.spacy"), 1, "/proc/x.spacy: cannot write"
    ),
    _case("convert-to-a-dir", lambda c: _convert(c, c.tmp / "a_dir"), 1, "is a directory"),
    _case(
        "convert-jsonl-parent-is-a-file",
        lambda c: _convert(c, c.tmp / "a_file" / "x.jsonl"),
        1,
        "is a file",
    ),
    _case(
        "noise-to-proc",
        lambda c: ["noise", c.inp, "/proc/n.spacy", "--omit-rate", 0.5],
        1,
        "cannot write",
    ),
    _case(
        "merge-to-parent-file",
        lambda c: ["merge", c.inp, c.tmp / "a_file" / "m.spacy"],
        1,
        "is a file",
    ),
    _case(
        "stats-json-to-proc",
        lambda c: ["stats", c.inp, "--json", "/proc/s.json"],
        1,
        "/proc/s.json: cannot write",
    ),
    _case(
        "stats-json-onto-input",
        lambda c: ["stats", c.inp, "--json", c.inp],
        1,
        "is the input",
        setup=_keep_in,
        check=_in_unchanged,
    ),
    _case(
        "report-to-a-dir",
        lambda c: ["report", c.tmp, "--output", c.tmp / "a_dir"],
        1,
        "is a directory",
    ),
    # Ranges.
    _case(
        "merge-min-precision-7",
        lambda c: ["merge", c.inp, c.out, "--accept", "reliable", "--min-precision", 7],
        1,
        "--min-precision must be in [0, 1], got 7.0",
    ),
    _case(
        "noise-rate-nan",
        lambda c: ["noise", c.inp, c.out, "--omit-rate", "nan"],
        1,
        "--omit-rate must be in [0, 1]",
    ),
    _case(
        "split-fraction-negative",
        lambda c: ["split", c.inp, c.tmp / "s", "--dev", -0.1],
        1,
        "--dev must be in",
    ),
    _case(
        "grid-steps-0",
        lambda c: ["grid", "toy", c.inp, c.inp, c.inp, "--steps", 0],
        1,
        "--steps must be >= 1",
    ),
    _case(
        "grid-usage-not-json",
        lambda c: [
            "grid",
            "toy",
            c.inp,
            c.inp,
            c.inp,
            "--config",
            c.conll,
            "--usage",
            c.tmp / "a_file",
            "--output",
            c.tmp / "g",
            "--work-dir",
            c.tmp / "w",
        ],
        1,
        "not a usage report",
    ),
    _case(
        "convert-unknown-lang",
        lambda c: ["convert", c.tmp / "x.jsonl", c.out, "--lang", "zz"],
        1,
        "--lang 'zz'",
        setup=lambda c: (c.tmp / "x.jsonl").write_text('{"text": "Ada"}\n'),
    ),
]


@pytest.mark.parametrize("argv,code,fragment,script,setup,check,model", OTHER_CASES)
def test_other_commands(ctx, capsys, argv, code, fragment, script, setup, check, model):
    if setup:
        setup(ctx)
    ctx.result = run_cli(capsys, argv(ctx))
    _assert_outcome(ctx.result, code, fragment)
    if check:
        check(ctx)


# 7. JSONL values are never coerced: each is an error naming file and line.
JSONL_CASES = [
    ('{"text": "Ada", "meta": [1, 2]}', '"meta" must be an object'),
    ('{"text": "Ada", "meta": {"sent_index": "x"}}', '"meta.sent_index" must be an integer'),
    ('{"text": "Ada", "meta": {"sent_index": 1.5}}', '"meta.sent_index" must be an integer'),
    ('{"text": "Ada", "meta": {"doc_id": {"a": 1}}}', '"meta.doc_id" must be a string or integer'),
    (
        '{"text": "Ada is", "tokens": [{"start": "a", "end": 3}, {"start": 4, "end": 6}]}',
        "token 0 needs integer",
    ),
    (
        '{"text": "Ada is", "tokens": [{"start": 0, "end": 3}, {"start": "4", "end": 6}]}',
        "token 1 needs integer",
    ),
    (
        '{"text": "Ada is", "tokens": [{"start": 0, "end": 3}, {"start": 4, "end": 60}]}',
        "outside the text",
    ),
    (
        '{"text": "Ada is", "spans": [{"start": "0", "end": 3, "label": "PER"}]}',
        "span 0 needs integer",
    ),
    (
        '{"text": "Ada is", "spans": [{"start": 0, "end": 4.5, "label": "PER"}]}',
        "span 0 needs integer",
    ),
    (
        '{"text": "Ada is", "spans": [{"start": 0, "end": 3, "label": 5}]}',
        'non-empty string "label"',
    ),
    ('{"text": "Ada is", "spans": {"start": 0}}', '"spans" must be a list'),
    ('{"text": "Ada is", "spans": ["PER"]}', "span 0 needs integer"),
]


@pytest.mark.parametrize("line,fragment", JSONL_CASES)
def test_jsonl_is_never_coerced(ctx, capsys, line, fragment):
    path = ctx.tmp / "in.jsonl"
    path.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    result = run_cli(capsys, ["convert", path, ctx.out])
    _assert_outcome(result, 1, f"{path}:2: ")
    assert fragment in result.err and not ctx.out.exists()


def _assert_outcome(result, code: int, fragment: str) -> None:
    shown = result.out + result.err
    assert result.code == code, shown
    assert "Traceback" not in shown
    if code != 0:
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, result.err  # one line: what, where, what to do
        assert fragment in lines[0], lines[0]


# ------------------------------------------------------------- exit codes
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
from tests.cli.fault_server import FaultServer, chat
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


# --------------------------------------------------------------- atomic I/O
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o640)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.json"]
    write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640


def test_writes_follow_a_symlink(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.parametrize(
    "path,reason",
    [
        ("/proc/x.spacy", "cannot create files in /proc"),
        ("{tmp}", "is a directory"),
        ("{tmp}/file/x.spacy", "is a file, not a directory"),
    ],
)
def test_check_writable(tmp_path, path, reason):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError) as err:
        check_writable(path.format(tmp=tmp_path))
    assert reason in str(err.value)
    assert (
        check_writable(tmp_path / "new" / "deeper" / "x.spacy") and not (tmp_path / "new").exists()
    )
