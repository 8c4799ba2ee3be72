"""Benchmark: our concurrent OpenAI-compatible client vs spacy-llm's built-in
(sequential) OpenAI model, against the same local server.

A local OpenAI-compatible server (127.0.0.1, tests/llm/llm_test_server.py)
answers every request after a fixed latency (default 200 ms) with the gold
entities of the sentence. Both pipelines use the same task (same prompts);
only the model differs:

- ours: ``hybrid_ner.OpenAICompatible.v1`` with N requests in flight, no cache;
- baseline: spacy-llm's ``OpenAI`` REST model, subclassed only so that its
  constructor's auth check asks the local server instead of api.openai.com.

It checks that both give identical proposals and prints docs/s and the ratio.

    python scripts/bench_llm_client.py [--docs corpus/wikigold/dev.spacy] [-n 160] [--latency 0.2] [--concurrency 16]
"""
import argparse
import sys
import time
from pathlib import Path
from typing import List

import requests
import spacy
from spacy.tokens import Doc
from spacy_llm.models.rest.openai.model import OpenAI
from spacy_llm.registry import registry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hybrid_ner.annotation_layers import LLM_KEY  # noqa: E402
from hybrid_ner.corpus import read_docbin  # noqa: E402
from hybrid_ner.llm.config import build_pipeline, load_config, set_value, use_openai_compatible  # noqa: E402
from tests.llm.llm_test_server import ScriptedOpenAIServer, query_sentence  # noqa: E402


class LocalSpacyLlmOpenAI(OpenAI):
    """spacy-llm's OpenAI model; only the auth check is pointed at the local
    server (the original GETs api.openai.com/v1/models and fails offline)."""

    def _verify_auth(self) -> None:
        models_url = self._endpoint.rsplit("/chat/completions", 1)[0] + "/models"
        requests.get(models_url, timeout=self._max_request_time).raise_for_status()


@registry.llm_models("bench.SpacyLlmOpenAILocal.v1")
def spacy_llm_openai_local(base_url: str, name: str) -> LocalSpacyLlmOpenAI:
    return LocalSpacyLlmOpenAI(
        name=name, endpoint=f"{base_url}/chat/completions", config={"temperature": 0.0}, strict=True,
        max_tries=5, interval=1.0, max_request_time=30, context_length=4096,
    )


def gold_lines(docs: List[Doc]):
    gold = {doc.text: "\n".join(f"{e.label_}: {e.text}" for e in doc.ents) or "None" for doc in docs}
    return lambda prompt: gold.get(query_sentence(prompt), "None")


def run(nlp, docs: List[Doc]):
    start = time.perf_counter()
    out = list(nlp.pipe([doc.copy() for doc in docs], batch_size=64))
    return time.perf_counter() - start, [[(s.start, s.end, s.label_) for s in d.spans[LLM_KEY]] for d in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", default=str(ROOT / "corpus" / "wikigold" / "dev.spacy"))
    parser.add_argument("-n", type=int, default=160, help="sentences")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per request (s)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    docs = read_docbin(args.docs, spacy.blank("en").vocab)[: args.n]
    with ScriptedOpenAIServer(answer=gold_lines(docs), latency=args.latency) as server:
        config = use_openai_compatible(load_config(), server.base_url, server.model, None)
        set_value(config, "components.llm.task.examples.k", 0)
        set_value(config, "components.llm.model.concurrency", args.concurrency)
        set_value(config, "components.llm.model.cache", None)
        ours_time, ours = run(build_pipeline(config), docs)
        n_ours = len(server.requests)
        set_value(config, "components.llm.model",
                  {"@llm_models": "bench.SpacyLlmOpenAILocal.v1", "base_url": server.base_url, "name": server.model})
        base_time, base = run(build_pipeline(config), docs)
        n_base = len(server.requests) - n_ours  # (the auth GET is not counted)
    if ours != base:
        raise SystemExit("Parsed outputs differ between the two clients")
    n_props = sum(len(d) for d in ours)
    print(f"{len(docs)} sentences, {n_props} proposals (identical for both clients), "
          f"server latency {args.latency * 1000:.0f} ms")
    print(f"spacy-llm OpenAI (sequential): {base_time:7.2f} s  {len(docs) / base_time:7.1f} docs/s  ({n_base} requests)")
    print(f"hybrid_ner client ({args.concurrency} in flight): {ours_time:7.2f} s  "
          f"{len(docs) / ours_time:7.1f} docs/s  ({n_ours} requests)")
    print(f"speed-up: {base_time / ours_time:.1f}x")


if __name__ == "__main__":
    main()
