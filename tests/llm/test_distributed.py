"""`hybrid-ner propose --ray`: a real local Ray cluster against the fake OpenAI server."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.corpus import write_docbin
from hybrid_ner.llm.cache import PromptCache, write_recorded
from hybrid_ner.llm.distributed import shard_dir
from scripts.fake_openai_server import FaultServer, propose_options

from ..cli_runner import run_cli
from ..conftest import ROOT
from .conftest import make_doc

N = 24


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'hybrid-ner[ray]')")
    info = ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield info.address_info["gcs_address"]  # joined by address: never another cluster here
    ray.shutdown()


@pytest.fixture
def corpus(tmp_path, nlp):
    docs = [make_doc(nlp, f"Ada Lovelace wrote note {i} in London .", []) for i in range(N)]
    write_docbin(tmp_path / "in.spacy", docs)
    return tmp_path / "in.spacy"


def answer(prompt: str) -> str:
    return "PER: Ada Lovelace\nLOC: London" if "note 1" in prompt else "PER: Ada Lovelace"


def propose(server, corpus, out, cache, *extra, code=0):
    """Run propose in this process: its usage report (the exit code is ``code``)."""
    options = [*propose_options(server, cache), "--concurrency", 3, "--usage-out", f"{out}.json"]
    try:
        main([str(a) for a in ["propose", corpus, out, *options, *extra]])
    except SystemExit as exit_:
        assert exit_.code == code
    return srsly.read_json(f"{out}.json") if not code else None


def test_without_ray_one_line_says_what_to_install(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails
    with FaultServer(answer=answer) as server:
        options = propose_options(server, tmp_path / "c.sqlite")
        code, out, err = run_cli(
            capsys, "propose", corpus, tmp_path / "o.spacy", *options, "--ray", "local"
        )
        assert code == 1 and not server.requests and not (tmp_path / "o.spacy").exists()
        assert "--ray needs Ray: pip install 'hybrid-ner[ray]'" in out + err
        assert "Traceback" not in out + err


def test_ray_run_is_a_local_run(cluster, corpus, tmp_path):
    """Same OUT and usage as a local run; then nothing is sent again, with or without Ray."""
    with FaultServer(answer=answer, latency=0.2) as server:
        local = propose(server, corpus, tmp_path / "local.spacy", tmp_path / "local.sqlite")
        assert len(server.requests) == N and local["requests"] == N
        usage = propose(
            server, corpus, tmp_path / "ray.spacy", tmp_path / "c.sqlite", "--ray", "local"
        )
        assert len(server.requests) == 2 * N and server.max_concurrent == 3
        assert (tmp_path / "ray.spacy").read_bytes() == (tmp_path / "local.spacy").read_bytes()
        assert {k: usage[k] for k in ("requests", "cache_hits", "prompt_tokens")} == {
            k: local[k] for k in ("requests", "cache_hits", "prompt_tokens")
        }
        assert not list(shard_dir(PromptCache(tmp_path / "c.sqlite")).iterdir())
        again = propose(
            server, corpus, tmp_path / "again.spacy", tmp_path / "c.sqlite", "--ray", "local"
        )
        replay = propose(server, corpus, tmp_path / "replay.spacy", tmp_path / "c.sqlite")
        assert len(server.requests) == 2 * N
        assert again["requests"] == replay["requests"] == 0 and replay["cache_hits"] == N
        assert (tmp_path / "replay.spacy").read_bytes() == (tmp_path / "ray.spacy").read_bytes()


def test_left_over_shard_is_folded_and_budget_counts(cluster, corpus, tmp_path):
    """A shard a killed run left is folded, not requested again; --max-requests
    holds over the cluster's requests and the local run stops at it (exit 3)."""
    with FaultServer(answer=answer) as server:
        propose(server, corpus, tmp_path / "local.spacy", tmp_path / "local.sqlite")
        rows = PromptCache(tmp_path / "local.sqlite").rows(_keys(tmp_path / "local.sqlite")[:5])
        cache = PromptCache(tmp_path / "c.sqlite")
        write_recorded(shard_dir(cache) / "left.jsonl.gz", rows, {"model": "scripted"})
        budget = ["--ray", "local", "--max-requests", 7]
        propose(server, corpus, tmp_path / "o.spacy", cache.path, *budget, code=3)
        assert len(server.requests) == N + 7
        assert len(cache) == 12 and not list(shard_dir(cache).iterdir())


KILLED = "from hybrid_ner.cli import main; import sys; main(sys.argv[1:])"


@pytest.mark.slow
def test_killed_run_resumes(cluster, corpus, tmp_path):
    """kill -9 of a driver joined to the cluster by address loses only the requests in flight."""
    with FaultServer(answer=answer, latency=0.5) as server:
        cache = tmp_path / "c.sqlite"
        args = ["propose", corpus, tmp_path / "o.spacy", *propose_options(server, cache)]
        args += ["--concurrency", 2, "--ray", cluster]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        run = subprocess.Popen([sys.executable, "-c", KILLED, *map(str, args)], env=env)
        deadline = time.time() + 300
        while time.time() < deadline and len(_keys(cache)) < 8:
            time.sleep(0.2)
        run.send_signal(signal.SIGKILL)
        run.wait()
        saved = len(_keys(cache))
        assert 8 <= saved < N
        usage = propose(server, corpus, tmp_path / "o.spacy", cache, "--ray", "local")
        # (A shard written but not yet folded at the kill is folded now: a cache hit.)
        assert usage["requests"] + usage["cache_hits"] == N and usage["requests"] <= N - saved
        assert len(_keys(cache)) == N


def _keys(path):
    if not path.exists():
        return []
    with sqlite3.connect(str(path), timeout=5) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT key FROM answers ORDER BY key")]
        except sqlite3.OperationalError:  # not created yet
            return []
