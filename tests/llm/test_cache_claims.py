"""Processes sharing one prompt cache send each prompt once (claims)."""

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import spacy

from hybrid_ner.corpus import write_docbin
from hybrid_ner.corpus.conll import read_conll
from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm.cache import (
    CLAIM_ANSWERED,
    CLAIM_BUSY,
    CLAIM_CLAIMED,
    CachedAnswer,
    PromptCache,
)
from hybrid_ner.llm.model import create_openai_compatible_model
from scripts.fake_openai_server import propose_options

ROOT = Path(__file__).resolve().parents[2]

# One proposer process: waits until its partner is ready too, so both run at once. The two
# walk the prompts from opposite ends, so each claims its first batch before the other can
# (in one order the later starter only ever finds claimed prompts: timing-dependent).
CHILD = """
import json, os, sys, time
from pathlib import Path
from hybrid_ner.llm.cache import PromptCache
from hybrid_ner.llm.model import create_openai_compatible_model

base_url, cache_path, ready, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
order = list(range(n))[::-1] if sys.argv[5] == "backward" else list(range(n))
prompts = [f"Input: sentence {i} .\\nOutput:" for i in order]
model = create_openai_compatible_model(
    base_url=base_url, model="scripted", api_key_env=None, concurrency=4, backoff=0.01, max_tries=2,
    timeout=10.0, cache=PromptCache(cache_path),
)
(ready / str(os.getpid())).touch()
deadline = time.monotonic() + 60
while len(list(ready.iterdir())) < 2 and time.monotonic() < deadline:
    time.sleep(0.01)
answers = [a for i in range(0, n, 8) for a in model([[p] for p in prompts[i:i + 8]])]
answers = [answers[order.index(i)] for i in range(n)]
model.close()
print(json.dumps({"answers": answers, "usage": model.usage.report()}))
"""

PROMPTS = [f"Input: sentence {i} .\nOutput:" for i in range(40)]


def open_at(path: str, start: float) -> str:
    """Open a cache at a given moment (for a pool of processes); the error, if any."""
    while time.time() < start:
        pass
    try:
        PromptCache(path).present(["any"])
    except HybridNerError as err:
        return str(err)
    return ""


def test_processes_opening_a_new_cache_together_all_succeed(tmp_path):
    # Switching a new file to WAL and creating its tables raced: SQLite answers
    # "database is locked" at once (no busy wait) to one of two openers ~40% of the time.
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        for trial in range(8):
            path = str(tmp_path / f"cache{trial}.sqlite")
            start = time.time() + 0.2
            assert pool.starmap(open_at, [(path, start)] * 4) == [""] * 4


def echo(prompt: str) -> str:
    return "answer to " + prompt.split("\n")[0]


def sent_prompts(server):
    return [r["messages"][-1]["content"] for r in server.requests]


def test_two_processes_on_one_cache_send_each_prompt_once(server, tmp_path):
    server.answer = echo
    server.latency = 0.5  # alone, one process needs ~5 s: the two overlap, even under load
    ready = tmp_path / "ready"
    ready.mkdir()
    args = [
        sys.executable,
        "-c",
        CHILD,
        server.base_url,
        str(tmp_path / "cache.sqlite"),
        str(ready),
        str(len(PROMPTS)),
    ]
    children = [
        subprocess.Popen(
            args + [order], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        for order in ("forward", "backward")
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(sent_prompts(server)) == sorted(PROMPTS)  # each prompt sent once, by one of them
    for result in results:
        assert result["answers"] == [[echo(p)] for p in PROMPTS]
        usage = result["usage"]
        # What a process did not send, it took from the cache (also while the other was sending).
        assert usage["requests"] + usage["cache_hits"] == len(PROMPTS)
    assert sum(r["usage"]["requests"] for r in results) == len(PROMPTS)
    assert all(r["usage"]["requests"] > 0 for r in results)  # they really ran at once
    assert PromptCache(tmp_path / "cache.sqlite").claims() == 0  # every claim was dropped


@pytest.mark.slow  # two CLI processes, ~10 s
def test_two_propose_runs_on_one_cache_send_each_prompt_once(server, tmp_path):
    server.answer = lambda prompt: "None"
    server.latency = 0.1
    # The bundled corpus, not a generated file: CI starts from a clean checkout.
    docs = read_conll(
        ROOT / "corpus" / "wikigold" / "wikigold.conll.txt", spacy.blank("en").vocab
    ).docs[:60]
    gold = tmp_path / "gold.spacy"
    write_docbin(gold, docs)
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hybrid_ner",
                "propose",
                str(gold),
                str(tmp_path / f"out{i}.spacy"),
                *propose_options(server, tmp_path / "cache.sqlite"),
                "--k",
                "0",
                "--concurrency",
                "4",
                "--allow-empty",  # the server answers "None": no proposals, on purpose
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "TQDM_DISABLE": "1"},
        )
        for i in range(2)
    ]
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, out + err
    prompts = sent_prompts(server)
    assert len(prompts) == len(set(prompts)) == len(docs)


def test_a_live_claim_is_waited_for_not_sent(server, tmp_path):
    server.answer = echo
    path = tmp_path / "cache.sqlite"
    model = create_openai_compatible_model(
        base_url=server.base_url,
        model="scripted",
        api_key_env=None,
        concurrency=2,
        cache=PromptCache(path),
    )
    other = PromptCache(path)  # another owner: in real use another process
    key = model.key(PROMPTS[0])
    assert other.claim(key) == (CLAIM_CLAIMED, None)
    result = {}
    call = threading.Thread(
        target=lambda: result.update(answers=model([[PROMPTS[0]], [PROMPTS[1]]]))
    )
    call.start()
    deadline = time.monotonic() + 10
    while not server.requests and time.monotonic() < deadline:  # a loaded machine is slow
        time.sleep(0.05)
    time.sleep(0.3)
    assert sent_prompts(server) == [PROMPTS[1]]  # the claimed one waits
    other.put(key, "m", {}, CachedAnswer("from the other process", 3, 4))
    call.join(10)
    assert result["answers"] == [["from the other process"], [echo(PROMPTS[1])]]
    assert sent_prompts(server) == [PROMPTS[1]]
    assert model.usage.requests == 1 and model.usage.cache_hits == 1
    model.close()


def test_a_released_claim_is_taken_over(server, tmp_path):
    server.answer = echo
    path = tmp_path / "cache.sqlite"
    model = create_openai_compatible_model(
        base_url=server.base_url,
        model="scripted",
        api_key_env=None,
        concurrency=2,
        cache=PromptCache(path),
    )
    other = PromptCache(path)
    key = model.key(PROMPTS[0])
    other.claim(key)
    result = {}
    call = threading.Thread(target=lambda: result.update(answers=model([[PROMPTS[0]]])))
    call.start()
    time.sleep(0.3)
    assert server.requests == []
    other.release(key)  # e.g. its request failed for good
    call.join(10)
    assert result["answers"] == [[echo(PROMPTS[0])]] and sent_prompts(server) == [PROMPTS[0]]
    model.close()


def test_claims_of_a_killed_process_are_taken_over_at_once(tmp_path):
    path = tmp_path / "cache.sqlite"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys\nfrom hybrid_ner.llm.cache import PromptCache\n"
            "PromptCache(sys.argv[1]).claim('k')\nos.kill(os.getpid(), signal.SIGKILL)",
            str(path),
        ],
        cwd=ROOT,
    )
    assert killed.returncode == -9
    cache = PromptCache(path)
    assert cache.claims() == 1
    assert cache.claim("k") == (CLAIM_CLAIMED, None)


def test_a_claim_is_dropped_by_the_answer_and_busy_until_then(tmp_path):
    path = tmp_path / "cache.sqlite"
    mine, theirs = PromptCache(path), PromptCache(path)
    assert theirs.claim("k") == (CLAIM_CLAIMED, None)
    assert mine.claim("k") == (CLAIM_BUSY, None)
    theirs.put("k", "m", {}, CachedAnswer("a", 1, 1))
    assert mine.claim("k") == (CLAIM_ANSWERED, CachedAnswer("a", 1, 1))
    assert mine.claims() == 0
