import random
import threading
import time

import pytest

from hybrid_ner.llm.model import create_openai_compatible_model
from hybrid_ner.llm.openai_client import OpenAICompatibleClient, parse_retry_after
from hybrid_ner.llm.usage import LLMRequestError, Usage

MESSAGES = [{"role": "user", "content": "Input: Paris .\nOutput:"}]
PARAMS = {"temperature": 0.0, "max_tokens": 16}


def client_for(server, **kwargs) -> OpenAICompatibleClient:
    options = dict(api_key_env=None, timeout=2.0, max_tries=3, backoff=0.01, max_backoff=2.0)
    options.update(kwargs)
    return OpenAICompatibleClient(server.base_url, "scripted", **options)


def test_construction_sends_nothing(server):
    create_openai_compatible_model(base_url=server.base_url, model="scripted")
    # Not even a closed local port is touched when building.
    create_openai_compatible_model(base_url="http://127.0.0.1:9/v1", model="x")
    assert server.requests == []


def test_answer_usage_and_payload(server, monkeypatch):
    monkeypatch.setenv("HYBRID_NER_TEST_KEY", "sk-test")
    server.answer = lambda prompt: "LOC: Paris"
    client = client_for(server, api_key_env="HYBRID_NER_TEST_KEY")
    completion = client.complete(MESSAGES, PARAMS, Usage())
    assert completion.response == "LOC: Paris"
    assert completion.prompt_tokens == len(MESSAGES[0]["content"]) // 4
    sent = server.requests[0]
    assert sent["model"] == "scripted" and sent["messages"] == MESSAGES and sent["max_tokens"] == 16


@pytest.mark.parametrize(
    "fault,kind",
    [
        ("500", "http_500"),
        ("503", "http_503"),
        ("429:0", "http_429"),
        ("drop", "dropped_connection"),
        ("truncate", "truncated_body"),
        ("garbage", "invalid_body"),
        ("slow:1.5", "timeout"),
    ],
)
def test_transient_faults_are_retried(server, fault, kind):
    server.answer = lambda prompt: "ok"
    server.faults.extend([fault])
    usage = Usage()
    completion = client_for(server, timeout=0.5).complete(MESSAGES, PARAMS, usage)
    assert completion.response == "ok"
    assert usage.failures == {kind: 1}
    assert len(server.requests) == 2


def test_retry_after_is_honoured(server):
    server.faults.extend(["429:1"])
    start = time.perf_counter()
    client_for(server, backoff=0.001).complete(MESSAGES, PARAMS, Usage())
    assert time.perf_counter() - start >= 1.0


def test_gives_up_after_max_tries(server):
    server.faults.extend(["500", "500", "500"])
    usage = Usage()
    with pytest.raises(LLMRequestError) as err:
        client_for(server, max_tries=3).complete(MESSAGES, PARAMS, usage)
    assert err.value.kind == "http_500" and "after 3 attempts" in str(err.value)
    assert usage.failures == {"http_500": 3} and len(server.requests) == 3


def test_client_errors_are_not_retried(server):
    server.faults.extend(["400"])
    with pytest.raises(LLMRequestError) as err:
        client_for(server).complete(MESSAGES, PARAMS, Usage())
    assert "bad request: unknown parameter" in str(err.value)
    assert len(server.requests) == 1


def test_connection_refused_is_a_clear_error():
    client = OpenAICompatibleClient(
        "http://127.0.0.1:9/v1", "x", api_key_env=None, max_tries=2, backoff=0.01
    )
    with pytest.raises(LLMRequestError) as err:
        client.complete(MESSAGES, PARAMS, Usage())
    assert err.value.kind == "connection" and "127.0.0.1:9" in str(err.value)


def test_backoff_grows_with_jitter_and_cap():
    client = OpenAICompatibleClient("http://127.0.0.1:9/v1", "x", backoff=1.0, max_backoff=5.0)
    client._rng = random.Random(1)
    delays = [[client._delay(attempt, None) for _ in range(50)] for attempt in (1, 2, 3, 6)]
    for values, ceiling in zip(delays, (1.0, 2.0, 4.0, 5.0)):
        assert all(ceiling / 2 <= value <= ceiling for value in values)
        assert len(set(values)) > 1  # jitter
    assert client._delay(1, 3.0) >= 3.0
    assert client._delay(1, 100.0) <= 5.0 + 0.1  # Retry-After is capped too


def test_parse_retry_after():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_no_retry_starts_after_ctrl_c(server):
    """Issue 23: Ctrl+C must end the run: the request in flight finishes its
    attempt, and no retry (after a back-off of up to a minute) starts."""
    server.faults.extend(["503"] * 10)
    client = client_for(server, max_tries=6, backoff=30.0, max_backoff=60.0)
    errors = []

    def send():
        try:
            client.complete([{"role": "user", "content": "hi"}], {}, Usage())
        except LLMRequestError as err:
            errors.append(err)

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    while not server.requests:
        time.sleep(0.01)
    client.stop_retries()
    worker.join(timeout=20)
    assert not worker.is_alive(), "a retry waited out its back-off after Ctrl+C"
    assert len(server.requests) == 1 and "not retried after Ctrl+C" in str(errors[0])
    client.close()
