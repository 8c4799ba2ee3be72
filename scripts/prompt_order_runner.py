"""The runs of scripts/bench_prompt_order.py: the WikiGold data and the default
local config, the two prompt orders, and one llama.cpp instance per order, sent
interleaved.
"""

import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from prompt_order_measure import (
    Meter,
    distinct,
    evaluated_tokens,
    perf,
    perf_reset,
    similarity_order,
)

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "corpus" / "wikigold" / "train.spacy"
POOL = ROOT / "corpus" / "wikigold" / "dev.spacy"
CONFIG = ROOT / "configs" / "propose_local.cfg"
BUILD_HINT = (
    "hybrid-ner convert corpus/wikigold/wikigold.conll.txt corpus/wikigold/all.spacy && "
    "hybrid-ner split corpus/wikigold/all.spacy corpus/wikigold --seed 0"
)


def load(limit: int, k: int, threads: Optional[int]):
    """The proposal pipeline of the default local config, without its prompt
    cache, and the first ``limit`` training sentences."""
    from hybrid_ner.corpus import read_docbin
    from hybrid_ner.llm.config import build_pipeline, load_config, set_value

    config = load_config(CONFIG)
    set_value(config, "components.llm.task.examples.pool", str(POOL))
    set_value(config, "components.llm.task.examples.k", k)
    set_value(config, "components.llm.model.cache", None)
    if threads is not None:
        set_value(config, "components.llm.model.n_threads", threads)
    nlp = build_pipeline(config)
    docs = read_docbin(TRAIN, nlp.vocab)
    if limit:
        docs = docs[:limit]
    return nlp, docs


def render_prompts(
    nlp: Any, docs: List[Any], by_doc: Optional[Dict[str, List[str]]] = None
) -> Tuple[List[str], List[str]]:
    """(old, new) prompt lists, each in its sending order, each prompt once
    (from ``by_doc``, :func:`doc_prompts`, if already rendered)."""
    from hybrid_ner.cli.propose_run import prefix_schedule
    from hybrid_ner.llm.config import chat_model

    by_doc = by_doc or doc_prompts(nlp, docs)
    # New: the project's own prompts and schedule, as `hybrid-ner propose` sends them.
    schedule = prefix_schedule(nlp, chat_model(nlp), docs)
    new = distinct([by_doc["new"][i] for i in schedule])
    assert new == sending_order(by_doc["new"]), "prefix_schedule is no longer sorted order"
    return distinct(by_doc["old"]), new


def doc_prompts(nlp: Any, docs: List[Any], clustered: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Per arm, the prompt of each Doc: ``old`` (the retrieved examples in
    similarity order), ``new`` (the project's prompts) and ``clustered-SPEC``
    for each SPEC of ``clustered`` (the project's prompts with
    ``hybrid_ner.ClusteredExamples.v1``, the same pool and embedder; SPEC is
    ``C[:k=K][:nearest=N]``: C clusters, k (default the pipeline's) and nearest)."""
    import numpy

    from hybrid_ner.llm.clustered import ClusteredExamples

    task = nlp.get_pipe("llm").task
    assert len(task.queries()) == 1, "the benchmark expects the single-query prompt"
    retriever = task.examples
    arms = {"new": [list(prompts)[0] for prompts, _ in task.generate_prompts(docs)]}
    # Old: the same retrieved examples, in similarity order.
    chosen = retriever(docs)  # canonical order; the same k examples
    pool_vectors = retriever._pool_vectors()
    index = {id(doc): i for i, doc in enumerate(retriever.pool)}
    arms["old"] = []
    for doc, examples in zip(docs, chosen):
        query = numpy.asarray(retriever._query_vectors[doc.text])
        scores = {id(ex): float(query @ pool_vectors[index[id(ex)]]) for ex in examples}
        ordered = similarity_order(examples, scores, index)
        arms["old"].append(
            task.prompt.render(doc.text, ordered, list(task.labels), task.definitions, None)
        )
    for spec in clustered:
        c, *options = spec.split(":")
        settings = {"k": retriever.k, **{o.split("=")[0]: int(o.split("=")[1]) for o in options}}
        task.examples = ClusteredExamples(
            retriever.pool, embedder=retriever.embedder, clusters=int(c), **settings
        )
        try:
            arms[f"clustered-{spec}"] = [
                list(prompts)[0] for prompts, _ in task.generate_prompts(docs)
            ]
        finally:
            task.examples = retriever
    return arms


def sending_order(prompts: List[str]) -> List[str]:
    """Prompts in the order ``hybrid-ner propose`` sends them to a local
    model (``prefix_schedule``: sorted), each once."""
    return distinct(sorted(prompts))


def proposal_quality(nlp: Any, docs: List[Any], prompts: List[str], answers: Dict[str, str]):
    """P/R/F1 of the answers to the Docs' prompts against their gold entities."""
    from hybrid_ner.evaluation import score_proposals

    task = nlp.get_pipe("llm").task
    scored = []
    for doc, prompt in zip(docs, prompts):
        copy = doc.copy()
        task.set_proposals(copy, [answers[prompt]], task.queries())
        scored.append(copy)
    return score_proposals(scored, task.spans_key)


class Runner:
    """One prompt order on its own llama.cpp instance (its own KV cache), so
    that the orders can be interleaved: both then see the same background
    load, and neither disturbs the other's prefix reuse."""

    def __init__(self, name: str, prompts: List[str], model: Any, backend: Any) -> None:
        self.name = name
        self.prompts = prompts
        self.model = model
        self.backend = backend
        self.llama = backend._model()
        self.meter = Meter(self.llama)
        self.answers: Dict[str, str] = {}
        self.requests: List[Dict[str, Any]] = []
        self.failures = 0
        self.busy_s = 0.0
        self.first_start: Optional[float] = None
        self.last_end = 0.0

    @property
    def done(self) -> bool:
        return len(self.answers) >= len(self.prompts)

    def start(self) -> None:
        """An empty KV cache and fresh counters."""
        self.meter.finish()
        self.llama.reset()
        perf_reset(self.llama)

    def complete(self, prompt: str) -> str:
        from hybrid_ner.llm.usage import LLMRequestError

        try:
            return self.backend.complete(
                self.model.messages(prompt), self.model.generation, self.model.usage
            ).text
        except LLMRequestError as err:  # a blank answer: still a (comparable) answer
            self.failures += 1
            return f"<{getattr(err, 'kind', 'error')}>"

    def step(self) -> None:
        prompt = self.prompts[len(self.answers)]
        start = time.perf_counter()
        if self.first_start is None:
            self.first_start = start
        answer = self.complete(prompt)
        self.last_end = time.perf_counter()
        self.busy_s += self.last_end - start
        request = self.meter.finish()
        if request is not None:
            request["answer"] = answer
            self.requests.append(request)
        self.answers[prompt] = answer

    def result(self, n_sentences: int, max_tokens: int) -> Dict[str, Any]:
        requests = self.requests
        measured = [r["evaluated"] or 0 for r in requests]
        predicted = evaluated_tokens(
            [r["tokens"] for r in requests],
            [r["kept"] for r in requests],
            getattr(self.llama, "segment_ends", None),
        )
        return {
            "order": self.name,
            "prompts": len(self.prompts),
            "failed": self.failures,
            "wall_s": self.busy_s,  # its own requests only (the orders are interleaved)
            "sentences_per_s": n_sentences / self.busy_s,
            "prompt_tokens": sum(r["prompt_tokens"] for r in requests),
            "evaluated_tokens": sum(measured),
            "evaluated_tokens_predicted": sum(predicted),
            "generated_tokens": sum(r["generated"] for r in requests),
            "answers_at_max_tokens": sum(
                1 for r in requests if max_tokens and r["generated"] + 1 >= max_tokens
            ),
            "prompt_eval_s": sum(r["prompt_s"] for r in requests),
            "generate_s": sum(r["generate_s"] for r in requests),
            "llama_perf": perf(self.llama),
        }


def run_interleaved(runners: List[Runner], every: float) -> float:
    """Send one prompt of each order in turn until all are answered.
    RETURNS (float): The wall time of the whole run."""
    for runner in runners:
        runner.start()
    start = last = time.perf_counter()
    while not all(runner.done for runner in runners):
        for runner in runners:
            if not runner.done:
                runner.step()
        now = time.perf_counter()
        if now - last >= every or all(runner.done for runner in runners):
            last = now
            state = ", ".join(
                f"{r.name} {len(r.answers)}/{len(r.prompts)} ({r.busy_s:.0f} s)" for r in runners
            )
            print(f"[{now - start:.0f} s] {state}", file=sys.stderr, flush=True)
    return time.perf_counter() - start


def recheck(runner: Runner, prompts: List[str]) -> List[Dict[str, str]]:
    """Send prompts again with an empty KV cache (the whole prompt evaluated):
    RETURNS the ones whose answer differs from the one in the run."""
    differing = []
    for prompt in prompts:
        runner.llama.reset()
        answer = runner.complete(prompt)
        runner.meter.finish()
        for other in RUNNERS:
            if prompt in other.answers and other.answers[prompt] != answer:
                differing.append(
                    {
                        "order": other.name,
                        "prompt_tail": prompt[-160:],
                        "in_run": other.answers[prompt],
                        "cold": answer,
                    }
                )
    return differing


RUNNERS: List[Runner] = []
