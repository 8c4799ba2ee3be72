"""Never silently do nothing (issue 23), ``propose`` in a hostile run: a full
disk in the prompt cache, secrets in messages, exceptions that stranded a
worker, a trickling server, Ctrl+C twice, a cost bound the server's token
counts broke, labels the parser can never match, blank recorded answers,
uncounted HTTP 400s, a dry run that created the cache, malformed base URLs.

Every server is the loopback FaultServer (127.0.0.1, started and stopped by
the test); cases that hung on the old code run in a subprocess with a
timeout, so a regression fails instead of hanging the suite."""

import gzip
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import spacy
import srsly

from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.layers import LLM_KEY
from hybrid_ner.llm.cache import FORMAT, VERSION, PromptCache, read_recorded
from scripts.fake_openai_server import FaultServer, chat, error

from .robustness_helpers import (
    ROOT,
    assert_outcome,
    cache_rows,
    make_ctx,
    make_docs,
    n_docs,
    propose,
    run_cli,
    write_llm_config,
)


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


def ok(payload):
    return chat("PER: Ada Lovelace\nLOC: Paris")


# ---------------------------------------------------------------- full disk in the cache
class _FullDisk:
    """A SQLite connection whose disk fills up after ``room`` answers."""

    def __init__(self, conn: sqlite3.Connection, room: int) -> None:
        self._conn = conn
        self._room = room

    def execute(self, sql, *args):
        full = self._room <= 0
        if sql.startswith("INSERT OR REPLACE INTO answers"):
            self._room -= 1
            full = self._room < 0
        if full and sql.startswith(("INSERT", "DELETE", "UPDATE")):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_full_disk_in_the_prompt_cache_says_what_is_safe_and_what_was_paid(
    ctx, capsys, monkeypatch
):
    """It said "move it away to start a new one" about a valid cache holding
    13 paid answers, and printed no usage (the error came from close())."""
    real_open = PromptCache._open
    monkeypatch.setattr(PromptCache, "_open", lambda self: _FullDisk(real_open(self), 3))
    with FaultServer(ok) as server:
        write_llm_config(ctx, server)
        result = run_cli(capsys, propose(ctx))
    assert_outcome(result, 1, "the prompt cache cannot store more answers")
    line = result.err.strip()
    assert "move it away" not in line and "keep it" in line
    assert "could not be stored" in line and "paid for" in line
    assert "requests" in result.out, "the usage report was not printed"
    kept = re.search(r"(\d+) are kept in the prompt cache", line)
    assert kept and int(kept.group(1)) == cache_rows(ctx.cache) > 0, line
    assert not ctx.out.exists()


# ---------------------------------------------------------------- secrets
def test_credentials_in_the_base_url_are_masked(ctx, capsys):
    with FaultServer(lambda p: error(400, "no such model")) as server:
        write_llm_config(ctx, server)
        url = server.base_url.replace("http://", "http://alice:s3cr3t-pass@")
        result = run_cli(
            capsys,
            [
                "propose",
                ctx.inp,
                ctx.out,
                "--base-url",
                url,
                "--model",
                "m",
                "--api-key-env",
                "",
                "--cache",
                ctx.cache,
                "--k",
                0,
            ],
        )
    assert result.code == 4, result.err
    assert "s3cr3t-pass" not in result.out + result.err
    assert "***@127.0.0.1" in result.err


def test_an_echoed_api_key_is_masked(ctx, capsys, monkeypatch):
    monkeypatch.setenv("HN_TEST_KEY", "sk-test-0123456789abcdef")
    servers = []

    def echo(payload):
        return error(401, f"invalid key in header: {servers[0].headers[-1]['Authorization']}")

    with FaultServer(echo) as server:
        servers.append(server)
        write_llm_config(ctx, server, api_key_env="HN_TEST_KEY")
        result = run_cli(capsys, propose(ctx))
    assert result.code == 4, result.err
    assert "0123456789abcdef" not in result.out + result.err
    assert "invalid key in header: Bearer ***" in result.err


# ---------------------------------------------------------------- no stranded worker
def _run_subprocess(argv, prelude="", timeout=120):
    """``hybrid-ner ARGV`` in a child process (a hang fails the test instead of
    hanging the suite)."""
    code = (
        "import sys\n"
        f"{prelude}\n"
        "from hybrid_ner.cli import main\n"
        f"main({[str(a) for a in argv]!r})\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hybrid-ner {' '.join(map(str, argv))} hung (a stranded worker thread)")
    return SimpleNamespace(code=done.returncode, out=done.stdout, err=done.stderr)


def test_missing_llama_cpp_is_one_line_never_a_hang(ctx):
    """The embedded path without llama-cpp-python: a worker-thread traceback,
    then a wait forever."""
    result = _run_subprocess(
        ["propose", ctx.inp, ctx.out, "--cache", ctx.cache, "--k", 0, "--limit", 2],
        prelude="sys.modules['llama_cpp'] = None  # import llama_cpp raises ImportError",
    )
    assert_outcome(result, 4, "needs llama-cpp-python")
    assert not ctx.out.exists()


def test_a_non_numeric_max_tokens_override_is_one_line(ctx):
    with FaultServer(ok) as server:
        write_llm_config(ctx, server)
        result = _run_subprocess(
            propose(ctx, "--components.llm.model.generation.max_tokens", "lots")
        )
        assert server.requests == []
    assert_outcome(result, 1, "max_tokens must be a whole number >= 1, got 'lots'")


# ---------------------------------------------------------------- deadline, Ctrl+C
def test_a_trickling_server_cannot_stretch_a_request(ctx, capsys):
    """One byte every 20 ms keeps every read under the timeout: the whole
    answer (~260 bytes, ~5 s) must still arrive within `timeout` (0.5 s)."""
    with FaultServer(ok, trickle=0.02) as server:
        write_llm_config(ctx, server, timeout=0.5, max_tries=1)
        result = run_cli(capsys, propose(ctx, "--limit", 2))
    assert_outcome(result, 4, "not complete within 0.5s in all")
    assert not ctx.out.exists()


SERVE_SLOW_AFTER_4 = """
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from scripts.fake_openai_server import FaultServer, chat
lock, served = threading.Lock(), [0]
def script(payload):
    with lock:
        served[0] += 1
        n = served[0]
    if n > 4:
        time.sleep(300)  # answers in flight that would never end
    return chat("PER: Ada Lovelace")
with FaultServer(script) as server:
    print(server.base_url, flush=True)
    time.sleep(600)
"""


def test_a_second_ctrl_c_always_ends_the_run_and_counts_what_is_cached(ctx):
    """Ctrl+C waited for the requests in flight, and a second Ctrl+C too;
    the message then said "no answer was received" while 4 were cached."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE_SLOW_AFTER_4, str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    try:
        ctx.server = SimpleNamespace(base_url=server.stdout.readline().strip())
        write_llm_config(ctx, ctx.server, timeout=120.0)
        args = [sys.executable, "-m", "hybrid_ner", *map(str, propose(ctx))]
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
        time.sleep(0.5)  # the next requests are in flight
        run.send_signal(signal.SIGINT)
        time.sleep(1.0)
        run.send_signal(signal.SIGINT)
        try:
            out, err = run.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.communicate()
            pytest.fail("a second Ctrl+C did not end the run")
        assert run.returncode == 130, out + err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out + err, err
        saved = cache_rows(ctx.cache)
        assert saved == 4
        assert f"the {saved} answers received are kept in the prompt cache" in lines[0]
        assert "in flight were abandoned" in lines[0]
    finally:
        server.kill()
        server.wait()


# ---------------------------------------------------------------- the cost bound
def test_max_cost_holds_when_the_server_counts_more_prompt_tokens(ctx, capsys):
    """The server reports one prompt token per byte (4x our estimate):
    --max-cost 5 ended at 10.84."""

    def per_byte(payload):
        n = sum(len(m["content"].encode("utf-8")) for m in payload["messages"])
        return chat("PER: Ada Lovelace", completion_tokens=5, prompt_tokens=n)

    usage = ctx.tmp / "usage.json"
    with FaultServer(per_byte) as server:
        write_llm_config(ctx, server)
        result = run_cli(
            capsys,
            propose(
                ctx, "--max-cost", 5, "--price-in", 1.0, "--price-out", 1.0, "--usage-out", usage
            ),
        )
    assert result.code == 3, result.out + result.err
    cost = float(re.search(r"^cost\s+([0-9.]+)", result.out, re.M).group(1))
    assert 0 < cost <= 5.0, result.out


# ---------------------------------------------------------------- labels
def _labels_case(ctx, capsys, *extra, answer="PER: Ada Lovelace"):
    with FaultServer(lambda p: chat(answer)) as server:
        write_llm_config(ctx, server)
        result = run_cli(capsys, propose(ctx, "--limit", 3, *extra))
        return result, server.requests


@pytest.mark.parametrize(
    "labels,fragment",
    [
        ("persön,LOC", "label 'persön' can never be read back"),
        ("PER2,LOC", "label 'PER2' can never be read back"),
        ("a_label_that_is_much_longer_than_31,LOC", "can never be read back"),
        ("person,PERSON", "labels 'person' and 'PERSON' differ only in case"),
    ],
)
def test_labels_the_parser_can_never_match_are_refused(ctx, capsys, labels, fragment):
    result, sent = _labels_case(ctx, capsys, "--labels", labels)
    assert_outcome(result, 1, fragment)
    assert sent == [] and not ctx.out.exists()


def test_a_label_with_a_space_is_matchable(ctx, capsys):
    result, _ = _labels_case(
        ctx, capsys, "--labels", "product type,LOC", answer="product type: Ada Lovelace"
    )
    assert result.code == 0, result.err
    docs = read_docbin(ctx.out, spacy.blank("en").vocab)
    assert {span.label_ for doc in docs for span in doc.spans[LLM_KEY]} == {"product type"}


def test_a_label_string_override_is_one_label(ctx, capsys):
    result, _ = _labels_case(ctx, capsys, "--components.llm.task.labels", '"PER"')
    assert result.code == 0, result.err
    assert "Labels: PER (from --components.llm.task.labels)" in result.out


# ---------------------------------------------------------------- recorded, usage, dry run
def test_blank_recorded_answers_are_not_cached(tmp_path):
    path = tmp_path / "answers.jsonl.gz"
    rows = [
        {"format": FORMAT, "version": VERSION, "provenance": {"model": "x"}},
        {
            "key": "a",
            "model": "x",
            "request": {},
            "response": "PER: Ada",
            "prompt_tokens": 1,
            "completion_tokens": 1,
        },
        {
            "key": "b",
            "model": "x",
            "request": {},
            "response": "  \n",
            "prompt_tokens": 1,
            "completion_tokens": 1,
        },
    ]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(row) + "\n" for row in rows))
    assert [row["key"] for row in read_recorded(path).rows] == ["a"]
    cache = PromptCache(tmp_path / "cache.sqlite", recorded=path)
    try:
        assert len(cache) == 1 and cache.get("b") is None
    finally:
        cache.close()


def test_http_400_is_counted_in_the_usage_report(ctx, capsys):
    usage_rows = []
    with FaultServer(lambda p: error(400, "context length exceeded")) as server:
        write_llm_config(ctx, server)
        result = run_cli(capsys, propose(ctx, "--limit", 1))
        usage_rows = [
            line for line in result.out.splitlines() if line.startswith("failed attempts")
        ]
    assert_outcome(result, 4, "HTTP 400")
    assert usage_rows and "http_400 1" in usage_rows[0], result.out


def test_a_dry_run_creates_no_cache(ctx, capsys):
    cache = ctx.tmp / "new" / "folder" / "cache.sqlite"
    with FaultServer(ok) as server:
        write_llm_config(ctx, server)
        result = run_cli(
            capsys,
            ["propose", ctx.inp, ctx.out, "--config", ctx.cfg, "--cache", cache, "--dry-run"],
        )
        assert server.requests == []
    assert result.code == 0, result.err
    assert not (ctx.tmp / "new").exists()


def test_dry_run_and_usage_report_agree_on_repeated_prompts(ctx, capsys):
    """The dry run counted "repeated (free)" prompts that the usage report
    never mentioned: 40 sentences, 11 distinct (the same text repeats)."""
    distinct = make_docs(11)
    write_docbin(ctx.inp, [distinct[i % 11] for i in range(40)])
    usage = ctx.tmp / "usage.json"
    with FaultServer(ok) as server:
        write_llm_config(ctx, server)
        dry = run_cli(capsys, propose(ctx, "--dry-run"))
        done = run_cli(capsys, propose(ctx, "--usage-out", usage))
    assert dry.code == 0 and done.code == 0, dry.err + done.err
    repeated = [line for line in dry.out.splitlines() if line.startswith("repeated in this run")]
    assert repeated and repeated[0].split()[-1] == "29", dry.out
    report = srsly.read_json(usage)
    assert report["requests"] == 11 and report["repeated"] == 29
    assert n_docs(ctx.out) == 40


# ---------------------------------------------------------------- base URLs
@pytest.mark.parametrize(
    "url,fragment",
    [
        ("htp://127.0.0.1:9/v1", "must start with http:// or https://"),
        ("127.0.0.1:9/v1", "--base-url '127.0.0.1:9/v1'"),
        ("", "--base-url is empty"),
        ("http://[::1:9/v1", "is not a valid URL"),
    ],
)
def test_a_malformed_base_url_is_one_line_before_anything_is_sent(ctx, capsys, url, fragment):
    result = run_cli(
        capsys,
        [
            "propose",
            ctx.inp,
            ctx.out,
            "--base-url",
            url,
            "--model",
            "m",
            "--api-key-env",
            "",
            "--cache",
            ctx.cache,
            "--k",
            0,
        ],
    )
    assert_outcome(result, 1, fragment)
    assert not ctx.cache.exists() and not ctx.out.exists()
