"""Recorded answers: exported from the prompt cache, replayed as cache hits."""

import gzip
import json

import pytest
import srsly

from hybrid_ner.corpus import read_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.layers import LLM_KEY
from hybrid_ner.llm.cache import CachedAnswer, PromptCache, read_recorded, write_recorded
from scripts.fake_openai_server import propose_options

from .conftest import gold_answers, lines_answerer
from .test_propose_cli import run_cli


def test_roundtrip_and_replay_without_replacing(tmp_path):
    cache = PromptCache(tmp_path / "a.sqlite")
    cache.put(
        "k1",
        "m",
        {"messages": [{"role": "user", "content": "x"}], "params": {}},
        CachedAnswer("PER: Ada", 10, 3),
    )
    cache.put("k2", "m", {"messages": [], "params": {}}, CachedAnswer("None", 7, 1))
    cache.close()
    out = tmp_path / "rec.jsonl.gz"
    source = PromptCache(tmp_path / "a.sqlite")
    assert write_recorded(out, source.rows(["k2", "k1"]), {"model": "m"}) == 2
    first = out.read_bytes()
    write_recorded(out, source.rows(["k1", "k2"]), {"model": "m"})
    assert out.read_bytes() == first  # sorted, no timestamp: reproducible
    recorded = read_recorded(out)
    assert recorded.provenance == {"model": "m"} and recorded.rows[0]["key"] == "k1"
    assert (recorded.rows[0]["response"], recorded.rows[0]["prompt_tokens"]) == ("PER: Ada", 10)
    other = PromptCache(tmp_path / "b.sqlite")
    other.put("k1", "m", {"messages": [], "params": {}}, CachedAnswer("own answer", 1, 1))
    other.close()
    replay = PromptCache(tmp_path / "b.sqlite", recorded=out)
    assert replay.get("k2") == CachedAnswer("None", 7, 1)
    assert replay.get("k1").response == "own answer"  # an answer the cache holds is never replaced
    with pytest.raises(HybridNerError, match="no cached answer"):
        source.rows(["missing"])


def test_a_broken_recording_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write(
            json.dumps(
                {"format": "hybrid-ner-recorded-answers", "version": 1, "provenance": {"m": 1}}
            )
            + "\n"
        )
        handle.write(json.dumps({"key": "k", "response": "x"}) + "\n")
    with pytest.raises(HybridNerError, match=r"bad.jsonl.gz:2: a recorded answer needs"):
        PromptCache(tmp_path / "c.sqlite", recorded=bad).get("k")
    (tmp_path / "plain.jsonl.gz").write_text("not gzip")
    with pytest.raises(HybridNerError, match="plain.jsonl.gz"):
        read_recorded(tmp_path / "plain.jsonl.gz")


def test_a_recorded_run_sends_nothing_and_writes_the_same_output(
    server,
    tmp_path,
    gold_file,  # noqa: F811 (the fixture)
    gold_docs,
    nlp,
):
    server.answer = lines_answerer(gold_answers(gold_docs))
    first = tmp_path / "first.spacy"
    assert (
        run_cli("propose", gold_file, first, *propose_options(server, tmp_path / "cache.sqlite"))
        == 0
    )
    sent = len(server.requests)
    assert sent == len(gold_docs)
    recording = tmp_path / "answers.jsonl.gz"
    args = ["--base-url", server.base_url, "--model", "scripted", "--api-key-env", ""]
    # record-answers has no --base-url: write the config propose used.
    from hybrid_ner.llm.config import configure

    config = configure(
        None,
        {
            "--base-url": server.base_url,
            "--model": "scripted",
            "--api-key-env": "",
            "--cache": tmp_path / "cache.sqlite",
        },
        {},
    )
    config.to_disk(tmp_path / "propose.cfg")
    assert (
        run_cli(
            "record-answers",
            recording,
            gold_file,
            "--config",
            tmp_path / "propose.cfg",
            "--note",
            "test",
        )
        == 0
    )
    header = json.loads(gzip.open(recording, "rt").readline())
    assert (
        header["provenance"]["model"].startswith("openai-compatible:")
        and header["provenance"]["note"] == "test"
    )
    # A fresh cache and the recording: every prompt is a cache hit, nothing is sent.
    replayed = tmp_path / "replayed.spacy"
    assert (
        run_cli(
            "propose",
            gold_file,
            replayed,
            *args,
            "--cache",
            tmp_path / "fresh.sqlite",
            "--recorded",
            recording,
            "--usage-out",
            tmp_path / "usage.json",
        )
        == 0
    )
    assert len(server.requests) == sent
    usage = srsly.read_json(tmp_path / "usage.json")
    assert usage["requests"] == 0 and usage["cache_hits"] == len(gold_docs)
    assert usage["cached_prompt_tokens"] > 0  # a replay still knows what the answers cost

    def spans(path):
        docs = read_docbin(path, nlp.vocab)
        return [[(s.start, s.end, s.label_) for s in d.spans[LLM_KEY]] for d in docs]

    assert spans(replayed) == spans(first)
    assert (
        run_cli(
            "propose",
            gold_file,
            tmp_path / "x.spacy",
            *args,
            "--cache",
            tmp_path / "y.sqlite",
            "--recorded",
            tmp_path / "nope.jsonl.gz",
        )
        == 1
    )
