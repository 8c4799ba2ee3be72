import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hybrid_ner.llm.cache import PromptCache
from hybrid_ner.llm.model import create_openai_compatible_model
from hybrid_ner.llm.usage import Budget, BudgetExceeded, LLMRequestError

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = [[f"Input: sentence {i} .\nOutput:"] for i in range(10)]


def make_model(server, tmp_path, budget=None, concurrency=4, cache=True, **settings):
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
        **settings,
    )


def echo(prompt: str) -> str:
    return "answer to " + prompt.split("\n")[0]


def test_answers_keep_shape_and_order(server, tmp_path):
    server.answer = echo
    prompts = [["Input: a\nOutput:", "Input: b\nOutput:"], [], ["Input: c\nOutput:"]]
    answers = make_model(server, tmp_path)(prompts)
    assert answers == [["answer to Input: a", "answer to Input: b"], [], ["answer to Input: c"]]


def test_cache_makes_reruns_free(server, tmp_path):
    server.answer = echo
    first = make_model(server, tmp_path)
    expected = first(PROMPTS)
    assert first.usage.requests == 10 and len(server.requests) == 10
    second = make_model(server, tmp_path)  # a new process would see the same file
    assert second(PROMPTS) == expected
    assert second.usage.requests == 0 and second.usage.cache_hits == 10
    assert len(server.requests) == 10


def test_cache_key_covers_model_prompt_and_parameters(server, tmp_path):
    server.answer = echo
    model = make_model(server, tmp_path)
    model([["Input: a\nOutput:"]])
    model.generation = {**model.generation, "temperature": 0.7}
    model([["Input: a\nOutput:"]])
    model.backend.model_id = "openai-compatible:other"
    model([["Input: a\nOutput:"]])
    assert len(server.requests) == 3


def test_identical_prompts_are_sent_once(server, tmp_path):
    server.answer = echo
    model = make_model(server, tmp_path, cache=False)
    answers = model([["Input: a\nOutput:"]] * 5)
    assert answers == [["answer to Input: a"]] * 5 and len(server.requests) == 1


def test_requests_run_concurrently(server, tmp_path):
    server.answer = echo
    server.latency = 0.5
    model = make_model(server, tmp_path, concurrency=8, cache=False)
    start = time.perf_counter()
    model([[f"Input: {i}\nOutput:"] for i in range(16)])
    elapsed = time.perf_counter() - start
    assert server.max_concurrent == 8
    assert elapsed < 16 * 0.5 / 2  # sequential would take 8 s, 8 in flight 1 s


def test_budget_stops_before_exceeding_and_keeps_answers(server, tmp_path):
    server.answer = echo
    model = make_model(server, tmp_path, budget=Budget(max_requests=3), concurrency=1)
    with pytest.raises(BudgetExceeded):
        model(PROMPTS)
    assert len(server.requests) == 3
    assert len(PromptCache(tmp_path / "cache.sqlite")) == 3
    # A new run with more budget resumes: only the 7 missing prompts are sent.
    resumed = make_model(server, tmp_path, budget=Budget(max_requests=7))
    resumed(PROMPTS)
    assert resumed.usage.cache_hits == 3 and len(server.requests) == 10


def test_cost_budget_reserves_the_worst_case(server, tmp_path):
    server.answer = echo
    # Worst case per request: (an upper bound of the prompt tokens, one per byte plus
    # the chat template, + 256 max_tokens) / 1000 = W; each really costs
    # (6 + 7) / 1000 = 0.013 (the server's usage figures). A limit of W + 0.03 lets
    # 3 requests through (2 * 0.013 + W fits, 3 * 0.013 + W does not).
    generation = {"temperature": 0.0, "max_tokens": 256}
    probe = make_model(server, tmp_path, generation=generation)
    bound = max(probe.backend.max_prompt_tokens(probe.messages(p[0])) for p in PROMPTS)
    worst = (bound + 256) / 1000
    assert bound >= len(PROMPTS[0][0].encode("utf-8"))  # never below one token per byte
    budget = Budget(max_cost=worst + 0.03, price_per_1k_input=1.0, price_per_1k_output=1.0)
    model = make_model(server, tmp_path, budget=budget, concurrency=4, generation=generation)
    with pytest.raises(BudgetExceeded):
        model(PROMPTS)
    assert server.max_concurrent == 1  # two worst cases never fit at once
    assert len(server.requests) == 3
    assert model.usage.cost == pytest.approx(0.039) and model.usage.cost <= worst + 0.03


def test_a_failed_request_stops_the_batch_after_in_flight_ones(server, tmp_path):
    server.answer = echo
    server.faults.extend(["400"])
    model = make_model(server, tmp_path, concurrency=1)
    with pytest.raises(LLMRequestError):
        model(PROMPTS)
    assert len(server.requests) == 1
    assert model.usage.report()["requests"] == 0


def test_usage_report(server, tmp_path):
    server.answer = echo
    server.faults.extend(["500"])
    model = make_model(server, tmp_path, concurrency=1)
    model(PROMPTS[:4])
    model(PROMPTS[:4])
    report = model.usage.report()
    assert report["requests"] == 4 and report["cache_hits"] == 4
    assert report["failures"] == {"http_500": 1}
    assert report["prompt_tokens"] > 0 and report["completion_tokens"] > 0
    # The hits are the same four answers: their recorded tokens, as paid for once.
    assert report["cached_prompt_tokens"] == report["prompt_tokens"]
    assert report["cached_completion_tokens"] == report["completion_tokens"]


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
    prompts = [f"Input: sentence {i} .\nOutput:" for i in range(8)]
    main = threading.main_thread().ident
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))  # while it waits
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model([[p] for p in prompts])
    # Raised once the 4 in flight were answered: counted and cached, nothing more sent.
    assert model.usage.requests == 4 and len(server.requests) == 4
    assert len(PromptCache(tmp_path / "cache.sqlite")) == 4
    assert model([[prompts[0]]]) == [[echo(prompts[0])]]  # and the model starts afresh
    model.close()


def test_the_embedded_config_builds_without_llama_cpp():
    """llama-cpp-python is imported at the first request, not by the package
    or by building a config (so `hybrid-ner[llama]` can be an extra)."""
    code = (
        "import sys; sys.modules['llama_cpp'] = None\n"
        "from hybrid_ner.llm.config import build_proposer, load_config\n"
        "proposer = build_proposer(load_config())\n"
        "print(type(proposer.model.backend).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "LlamaCppBackend"  # an import of llama_cpp would have failed
