"""ChatModel.prefetch: requests stay in flight across spacy-llm batches."""

import signal
import threading
import time

import pytest

from hybrid_ner.cli import main
from hybrid_ner.corpus import write_docbin
from hybrid_ner.llm.cache import PromptCache
from hybrid_ner.llm.model import create_openai_compatible_model
from hybrid_ner.llm.usage import Budget, BudgetExceeded, LLMRequestError

from .conftest import gold_answers, lines_answerer

PROMPTS = [f"Input: sentence {i} .\nOutput:" for i in range(16)]


def make_model(server, tmp_path, concurrency=8, cache=True, budget=None):
    return create_openai_compatible_model(
        base_url=server.base_url,
        model="scripted",
        api_key_env=None,
        concurrency=concurrency,
        backoff=0.01,
        max_tries=2,
        timeout=5.0,
        cache=PromptCache(tmp_path / "cache.sqlite") if cache else None,
        budget=budget,
    )


def threads_of(model) -> int:
    """The model's live worker and watcher threads."""
    threads = list(model._workers) + ([model._watcher] if model._watcher is not None else [])
    return sum(t.is_alive() for t in threads)


def echo(prompt: str) -> str:
    return "answer to " + prompt.split("\n")[0]


def batches(prompts, size):
    """spacy-llm's shape: per batch, one list of prompts per Doc."""
    return [[[p] for p in prompts[i : i + size]] for i in range(0, len(prompts), size)]


def test_prefetched_requests_run_across_batches(server, tmp_path):
    server.answer = echo
    server.latency = 0.3
    # (At most 4 in flight: the test server's listen backlog is 5.)
    model = make_model(server, tmp_path, concurrency=4)
    assert model.prefetch(PROMPTS) == 16
    answers = [model(batch) for batch in batches(PROMPTS, 2)]
    # Batches of 2 alone never have more than 2 requests open; prefetched, 4 are.
    assert server.max_concurrent == 4
    assert answers == [[[echo(p)] for p in PROMPTS[i : i + 2]] for i in range(0, 16, 2)]
    assert len(server.requests) == 16 and model.usage.requests == 16
    model.close()


def test_without_prefetch_each_batch_drains(server, tmp_path):
    server.answer = echo
    server.latency = 0.2
    model = make_model(server, tmp_path, concurrency=4)
    for batch in batches(PROMPTS, 2):
        model(batch)
    assert server.max_concurrent == 2
    model.close()


def test_prefetch_dedups_skips_cached_and_counts_progress(server, tmp_path):
    server.answer = echo
    first = make_model(server, tmp_path)
    first([[p] for p in PROMPTS[:4]])
    first.close()
    model = make_model(server, tmp_path)
    ticks = []
    model.progress = ticks.append
    prompts = PROMPTS[:8] + PROMPTS[4:8]  # 4 cached, 4 new, the new ones twice
    assert model.prefetch(prompts) == 4
    answers = [model(batch) for batch in batches(prompts, 4)]
    assert answers == [[[echo(p)] for p in prompts[i : i + 4]] for i in range(0, 12, 4)]
    assert len(server.requests) == 8  # 4 by the first model, 4 now: each once
    assert model.usage.requests == 4 and model.usage.cache_hits == 4
    assert sum(ticks) == len(prompts)  # one tick per prompt of a call
    model.close()


def test_a_call_may_ask_for_prompts_not_prefetched(server, tmp_path):
    server.answer = echo
    model = make_model(server, tmp_path, cache=False)
    model.prefetch(PROMPTS[:4])
    assert model([["Input: other\nOutput:", PROMPTS[0]]]) == [
        ["answer to Input: other", echo(PROMPTS[0])]
    ]
    assert model([[p] for p in PROMPTS[1:4]]) == [[echo(p)] for p in PROMPTS[1:4]]
    assert len(server.requests) == 5
    model.close()


def test_budget_is_spent_in_prefetch_order(server, tmp_path):
    server.answer = echo
    model = make_model(server, tmp_path, concurrency=4, budget=Budget(max_requests=6))
    model.prefetch(PROMPTS[:12])
    assert model([[p] for p in PROMPTS[:4]]) == [[echo(p)] for p in PROMPTS[:4]]
    with pytest.raises(BudgetExceeded):
        model([[p] for p in PROMPTS[4:8]])
    assert len(server.requests) == 6
    assert {r["messages"][-1]["content"] for r in server.requests} == set(PROMPTS[:6])
    assert len(PromptCache(tmp_path / "cache.sqlite")) == 6
    model.close()


def test_a_failure_stops_later_requests_and_is_raised_by_the_call_that_needs_it(server, tmp_path):
    server.answer = echo
    server.latency = 0.05  # (a 400 is answered at once: the other request is still open)
    # The 7th request fails for good (400); with 2 in flight it is one of prompts 5-7.
    server.faults.extend([""] * 6 + ["400"])
    model = make_model(server, tmp_path, concurrency=2)
    model.prefetch(PROMPTS)
    assert model([[p] for p in PROMPTS[:4]]) == [[echo(p)] for p in PROMPTS[:4]]
    with pytest.raises(LLMRequestError):
        model([[p] for p in PROMPTS[4:8]])
    assert len(server.requests) <= 8  # nothing new started after the failure
    # The model starts afresh: answers come from the cache or are sent again.
    assert model([[PROMPTS[8]]]) == [[echo(PROMPTS[8])]]
    model.close()


def test_serial_backend_is_not_prefetched_and_sends_in_sorted_order(server, tmp_path):
    server.answer = echo
    model = make_model(server, tmp_path, concurrency=1, cache=False)
    assert model.prefetch(PROMPTS) == 0 and server.requests == []
    prompts = ["Input: c\nOutput:", "Input: a\nOutput:", "Input: b\nOutput:"]
    assert model([[p] for p in prompts]) == [[echo(p)] for p in prompts]
    assert [r["messages"][-1]["content"] for r in server.requests] == sorted(prompts)
    model.close()


def test_close_drops_queued_requests_and_keeps_answers_in_flight(server, tmp_path):
    server.answer = echo
    server.latency = 0.3
    model = make_model(server, tmp_path, concurrency=2)
    model.prefetch(PROMPTS)
    time.sleep(0.1)
    model.close()  # waits for the 2 in flight
    sent = len(server.requests)
    assert 2 <= sent <= 4
    time.sleep(0.4)
    assert len(server.requests) == sent  # nothing after close
    assert len(PromptCache(tmp_path / "cache.sqlite")) == sent  # every paid answer kept
    assert threads_of(model) == 0  # workers and watcher joined


def test_idle_workers_exit(server, tmp_path):
    server.answer = echo
    model = make_model(server, tmp_path, concurrency=8)
    model([[p] for p in PROMPTS[:2]])
    assert threads_of(model) == 8 + 1  # workers and the claims watcher
    deadline = time.monotonic() + 15
    while threads_of(model) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert threads_of(model) == 0  # a model never closed leaks no thread
    assert model([[PROMPTS[2]]]) == [[echo(PROMPTS[2])]]  # and come back when needed
    model.close()


def test_propose_cli_prefetches_across_batches(server, tmp_path, gold_docs):
    server.answer = lines_answerer(gold_answers(gold_docs))
    server.latency = 0.3
    gold = tmp_path / "gold.spacy"
    write_docbin(gold, gold_docs)
    args = [
        "propose",
        gold,
        tmp_path / "out.spacy",
        "--base-url",
        server.base_url,
        "--model",
        "scripted",
        "--api-key-env",
        "",
        "--cache",
        tmp_path / "cache.sqlite",
        "--concurrency",
        4,
        "--batch-size",
        2,
    ]
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert len(server.requests) == 5
    assert server.max_concurrent == 4  # batches of 2 alone: at most 2


@pytest.fixture
def default_sigint():
    """Ctrl+C raises KeyboardInterrupt as at a terminal, also where SIGINT was
    inherited as ignored (a background job: `pytest &`)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_lets_the_requests_in_flight_finish(server, tmp_path, default_sigint):
    server.answer = echo
    server.latency = 1.0
    model = make_model(server, tmp_path, concurrency=4)
    model.prefetch(PROMPTS)
    main = threading.main_thread().ident
    timer = threading.Timer(
        0.3, signal.pthread_kill, (main, signal.SIGINT)
    )  # Ctrl+C while the call waits
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model([[p] for p in PROMPTS[:8]])
    # Raised once the 4 in flight were answered: counted and cached, nothing more sent.
    assert model.usage.requests == 4 and len(server.requests) == 4
    assert len(PromptCache(tmp_path / "cache.sqlite")) == 4
    assert model([[PROMPTS[0]]]) == [[echo(PROMPTS[0])]]  # and the model starts afresh
    model.close()
