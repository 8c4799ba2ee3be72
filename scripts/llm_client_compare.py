"""``compare`` of scripts/bench_llm_client.py: this client against spacy-llm's
built-in (sequential) OpenAI model, in-process, against tests/llm/llm_test_server.py
(the repository root must be on sys.path, as bench_llm_client.py puts it)."""

import argparse
import time
from typing import List


def compare_benchmark(args: argparse.Namespace) -> None:
    import requests
    import spacy
    from spacy.tokens import Doc
    from spacy_llm.models.rest.openai.model import OpenAI
    from spacy_llm.registry import registry

    from hybrid_ner.corpus import read_docbin
    from hybrid_ner.layers import LLM_KEY
    from hybrid_ner.llm.config import build_pipeline, load_config, set_value, use_openai_compatible
    from tests.llm.llm_test_server import ScriptedOpenAIServer, query_sentence

    class LocalSpacyLlmOpenAI(OpenAI):
        """spacy-llm's OpenAI model; only the auth check is pointed at the local
        server (the original GETs api.openai.com/v1/models and fails offline)."""

        def _verify_auth(self) -> None:
            models_url = self._endpoint.rsplit("/chat/completions", 1)[0] + "/models"
            requests.get(models_url, timeout=self._max_request_time).raise_for_status()

    @registry.llm_models("bench.SpacyLlmOpenAILocal.v1")
    def spacy_llm_openai_local(base_url: str, name: str) -> LocalSpacyLlmOpenAI:
        return LocalSpacyLlmOpenAI(
            name=name,
            endpoint=f"{base_url}/chat/completions",
            config={"temperature": 0.0},
            strict=True,
            max_tries=5,
            interval=1.0,
            max_request_time=30,
            context_length=4096,
        )

    def run(nlp, docs: List[Doc]):
        start = time.perf_counter()
        out = list(nlp.pipe([doc.copy() for doc in docs], batch_size=64))
        return time.perf_counter() - start, [
            [(s.start, s.end, s.label_) for s in d.spans[LLM_KEY]] for d in out
        ]

    docs = read_docbin(args.docs, spacy.blank("en").vocab)[: args.n]
    gold = {
        doc.text: "\n".join(f"{e.label_}: {e.text}" for e in doc.ents) or "None" for doc in docs
    }
    concurrency = args.concurrency[0]
    with ScriptedOpenAIServer(
        answer=lambda p: gold.get(query_sentence(p), "None"), latency=args.latency
    ) as server:
        config = use_openai_compatible(load_config(), server.base_url, server.model, None)
        set_value(config, "components.llm.task.examples.k", 0)
        set_value(config, "components.llm.model.concurrency", concurrency)
        set_value(config, "components.llm.model.cache", None)
        ours_time, ours = run(build_pipeline(config), docs)
        n_ours = len(server.requests)
        set_value(
            config,
            "components.llm.model",
            {
                "@llm_models": "bench.SpacyLlmOpenAILocal.v1",
                "base_url": server.base_url,
                "name": server.model,
            },
        )
        base_time, base = run(build_pipeline(config), docs)
        n_base = len(server.requests) - n_ours  # (the auth GET is not counted)
    if ours != base:
        raise SystemExit("Parsed outputs differ between the two clients")
    n_props = sum(len(d) for d in ours)
    print(
        f"{len(docs)} sentences, {n_props} proposals (identical for both clients), "
        f"server latency {args.latency * 1000:.0f} ms"
    )
    print(
        f"spacy-llm OpenAI (sequential): {base_time:7.2f} s  {len(docs) / base_time:7.1f} docs/s  "
        f"({n_base} requests)"
    )
    print(
        f"hybrid_ner client ({concurrency} in flight): {ours_time:7.2f} s  "
        f"{len(docs) / ours_time:7.1f} docs/s  ({n_ours} requests)"
    )
    print(f"speed-up: {base_time / ours_time:.1f}x")
