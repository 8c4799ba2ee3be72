"""Benchmark (issue 15.1): prompt order and llama.cpp prefix reuse.

The embedded LLM (llama-cpp-python) keeps the evaluated tokens of the last
request in its KV cache and re-evaluates a new prompt only from the first
token where it differs. This script renders the proposal prompts of the first
``--limit`` WikiGold training sentences (k retrieved examples from the dev
split, the default local config ``configs/propose_local.cfg``) in two ways and
sends both lists, in one process, through the same llama.cpp model (settings
of the config; no prompt cache), interleaved: one prompt of each order in
turn, each order on its own instance of the model (its own KV cache), so both
see the same background load:

- ``old``: examples in retrieval (similarity) order per sentence, sentences
  in document order (what ``hybrid-ner propose`` did before issue 15.1);
- ``new``: the project's own prompts (``SimilarExamples`` gives the canonical
  example order) in the project's own schedule (``hybrid_ner.cli.propose_run.
  prefix_schedule``), exactly what ``hybrid-ner propose`` sends today.

Measured per order: wall time, sentences/s, prompt tokens in total and
actually evaluated (llama.cpp reused the rest from its KV cache; counted by
wrapping ``Llama.eval`` and cross-checked with ``llama_perf_context``),
generated tokens, time spent evaluating prompts vs generating. The model's
raw prompt-processing rate (tokens/s on one long uncached prompt) is measured
in the same run, before and after, and "closeness" = (tokens evaluated ÷ raw
rate) ÷ wall time: 1.0 would mean the run did nothing but evaluate the tokens
it could not reuse (generation is the rest). Prompts whose text is identical
in both orders must get identical answers (temperature 0): mismatches are
counted; a sample of prompts is also sent again from an empty KV cache (the
whole prompt evaluated) and must get the answer it got in the run.

    python scripts/bench_prompt_order.py [--limit 200] [--k 4] [--threads N] [--output result.json]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "corpus" / "wikigold" / "train.spacy"
POOL = ROOT / "corpus" / "wikigold" / "dev.spacy"
CONFIG = ROOT / "configs" / "propose_local.cfg"
BUILD_HINT = (
    "hybrid-ner convert corpus/wikigold/wikigold.conll.txt corpus/wikigold/all.spacy && "
    "hybrid-ner split corpus/wikigold/all.spacy corpus/wikigold --seed 0"
)


# Pure helpers (tested without a model).


def shared_prefix_len(a: Sequence[Any], b: Sequence[Any]) -> int:
    """The length of the longest common prefix of two sequences."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def evaluated_tokens(
    sequences: Sequence[Sequence[int]],
    kept: Optional[Sequence[Sequence[int]]] = None,
    block: Optional[int] = None,
) -> List[int]:
    """Prompt tokens llama-cpp-python evaluates for each prompt sent in this
    order, with its prefix reuse: the part of the prompt after its longest
    common prefix with what the KV cache holds (the previous prompt and its
    answer, ``kept``; the previous prompt if not given). A prompt fully in
    the cache still evaluates its last token (to refresh the logits); the
    first prompt is evaluated whole.

    With ``block`` (the project's LlamaCppBackend, issue 15), reuse is cut
    down to whole blocks: the cache holds the previous prompt's whole blocks
    only (``kept`` is then ignored), and a prompt always evaluates its last
    block, ``[(n - 1) // block * block, n)``.
    """
    counts = []
    previous: Sequence[int] = ()
    for i, tokens in enumerate(sequences):
        reused = shared_prefix_len(previous, tokens)
        if block:
            reused = min(reused, len(tokens) - 1) // block * block if tokens else 0
            previous = tokens[: len(tokens) // block * block]
        else:
            if reused >= len(tokens):
                reused = max(len(tokens) - 1, 0)
            previous = kept[i] if kept is not None else tokens
        counts.append(len(tokens) - reused)
    return counts


def similarity_order(
    examples: Sequence[Any], scores: Dict[int, float], index: Dict[int, int]
) -> List[Any]:
    """Examples in retrieval order: most similar first, then pool position
    (the order before issue 15.1). ``scores`` and ``index`` are keyed by
    ``id(example)``."""
    return sorted(examples, key=lambda ex: (-scores[id(ex)], index[id(ex)]))


def distinct(prompts: Sequence[str]) -> List[str]:
    """Each prompt once, first occurrence first (ChatModel sends a repeated
    prompt once)."""
    return list(dict.fromkeys(prompts))


# The benchmark.


class Meter:
    """Counts what llama.cpp evaluates per request by wrapping the Llama
    instance's ``generate`` (the full prompt tokens) and ``eval`` (a call
    starting inside the prompt evaluates prompt tokens, one block or the
    remaining suffix; a call starting after it evaluates generated tokens)."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.requests: List[Dict[str, Any]] = []
        self._current: Optional[Dict[str, Any]] = None
        eval_, generate = llama.eval, llama.generate

        def wrapped_generate(tokens, *args, **kwargs):
            self._current = {
                "prompt_tokens": len(tokens),
                "tokens": list(tokens),
                "evaluated": None,
                "prompt_s": 0.0,
                "generated": 0,
                "generate_s": 0.0,
            }
            self.requests.append(self._current)
            return generate(tokens, *args, **kwargs)

        def wrapped_eval(tokens):
            position = llama.n_tokens
            start = time.perf_counter()
            eval_(tokens)
            elapsed = time.perf_counter() - start
            current = self._current
            if current is None:
                return
            if position < current["prompt_tokens"]:
                current["evaluated"] = (current["evaluated"] or 0) + len(tokens)
                current["prompt_s"] += elapsed
            else:
                current["generated"] += len(tokens)
                current["generate_s"] += elapsed

        llama.generate = wrapped_generate
        llama.eval = wrapped_eval

    def finish(self) -> Optional[Dict[str, Any]]:
        """The request just answered (with the tokens the KV cache now holds)."""
        current, self._current = self._current, None
        if current is not None:
            current["kept"] = self.llama.input_ids[: self.llama.n_tokens].tolist()
        return current


def perf(llama: Any) -> Dict[str, float]:
    """llama.cpp's own counters (prompt eval = decodes of more than one token)."""
    import llama_cpp

    llama_cpp.llama_synchronize(llama._ctx.ctx)
    data = llama_cpp.llama_perf_context(llama._ctx.ctx)
    return {
        "n_p_eval": data.n_p_eval,
        "t_p_eval_s": data.t_p_eval_ms / 1000,
        "n_eval": data.n_eval,
        "t_eval_s": data.t_eval_ms / 1000,
    }


def perf_reset(llama: Any) -> None:
    import llama_cpp

    llama_cpp.llama_synchronize(llama._ctx.ctx)  # counts of queued decodes land before the reset
    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)


def raw_rate(llama: Any, tokens: List[int], repeats: int = 2) -> Dict[str, Any]:
    """Prompt-processing tokens/s on an uncached prompt (the best of ``repeats``)."""
    times = []
    for _ in range(repeats):
        llama.reset()
        start = time.perf_counter()
        llama.eval(tokens)
        times.append(time.perf_counter() - start)
    llama.reset()
    return {"tokens": len(tokens), "seconds": times, "tokens_per_s": len(tokens) / min(times)}


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


def render_prompts(nlp: Any, docs: List[Any]) -> Tuple[List[str], List[str]]:
    """(old, new) prompt lists, each in its sending order, each prompt once."""
    import numpy

    from hybrid_ner.cli.propose_run import prefix_schedule
    from hybrid_ner.llm.config import chat_model

    task, model = nlp.get_pipe("llm").task, chat_model(nlp)
    assert len(task.queries()) == 1, "the benchmark expects the single-query prompt"
    # New: the project's own prompts and schedule, as `hybrid-ner propose` sends them.
    new_by_doc = [list(prompts)[0] for prompts, _ in task.generate_prompts(docs)]
    schedule = prefix_schedule(nlp, model, docs)
    new = [new_by_doc[i] for i in schedule]
    # Old: the same retrieved examples, in similarity order; document order.
    retriever = task.examples
    chosen = retriever(docs)  # canonical order; the same k examples
    pool_vectors = retriever._pool_vectors()
    index = {id(doc): i for i, doc in enumerate(retriever.pool)}
    old = []
    for doc, examples in zip(docs, chosen):
        query = numpy.asarray(retriever._query_vectors[doc.text])
        scores = {id(ex): float(query @ pool_vectors[index[id(ex)]]) for ex in examples}
        ordered = similarity_order(examples, scores, index)
        old.append(task.prompt.render(doc.text, ordered, list(task.labels), task.definitions, None))
    return distinct(old), distinct(new)


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
            getattr(self.backend, "prefix_block", None),
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--limit", type=int, default=200, help="first N WikiGold training sentences (0: all)"
    )
    parser.add_argument("--k", type=int, default=4, help="retrieved examples per sentence")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama.cpp threads (default: the config's, all cores)",
    )
    parser.add_argument(
        "--raw-tokens",
        type=int,
        default=1024,
        help="length of the uncached prompt for the raw rate",
    )
    parser.add_argument(
        "--recheck",
        type=int,
        default=6,
        help="prompts per order sent again from an empty KV cache to check their answers",
    )
    parser.add_argument(
        "--progress", type=float, default=5.0, help="seconds between progress lines (stderr)"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the result (JSON) here")
    args = parser.parse_args()
    for path in (TRAIN, POOL):
        if not path.is_file():
            print(
                f"{path.relative_to(ROOT)} is missing: run `{BUILD_HINT}` in {ROOT}",
                file=sys.stderr,
            )
            return 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from hybrid_ner.llm.config import chat_model
    from hybrid_ner.llm.llamacpp import LlamaCppBackend

    t0 = time.perf_counter()
    nlp, docs = load(args.limit, args.k, args.threads)
    model = chat_model(nlp)
    old, new = render_prompts(nlp, docs)
    print(
        f"{len(docs)} sentences; {len(old)} old / {len(new)} new distinct prompts; "
        f"prompts rendered in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    first = model.backend
    second = LlamaCppBackend(
        first.weights,
        n_ctx=first.n_ctx,
        n_threads=first.n_threads,
        n_batch=first.n_batch,
        seed=first.seed,
        prefix_block=first.prefix_block,
    )
    RUNNERS[:] = [Runner("old", old, model, first), Runner("new", new, model, second)]
    # Warm-up (pages the weights in), then the raw rate on one long uncached prompt.
    for runner in RUNNERS:
        runner.complete(new[0])
        runner.meter.finish()
    llama = RUNNERS[0].llama
    long_tokens = llama.tokenize("\n\n".join(old).encode("utf-8"), add_bos=False, special=False)[
        : args.raw_tokens
    ]
    rate_before = raw_rate(llama, long_tokens)
    print(
        f"raw prompt processing: {rate_before['tokens_per_s']:.0f} tokens/s",
        file=sys.stderr,
        flush=True,
    )
    total_wall = run_interleaved(RUNNERS, args.progress)
    n = len(docs)
    results = [runner.result(n, int(model.generation.get("max_tokens") or 0)) for runner in RUNNERS]
    rate_after = raw_rate(llama, long_tokens)
    rate = max(rate_before["tokens_per_s"], rate_after["tokens_per_s"])
    common = [p for p in RUNNERS[0].answers if p in RUNNERS[1].answers]
    mismatches = [p for p in common if RUNNERS[0].answers[p] != RUNNERS[1].answers[p]]
    # Same prompt, different KV-cache history (a cold, whole evaluation): same answer?
    sample = []
    for runner in RUNNERS:
        step = max(1, len(runner.prompts) // max(1, args.recheck))
        sample += runner.prompts[::step][: args.recheck]
    cold_differing = recheck(RUNNERS[0], list(dict.fromkeys(sample))) if args.recheck else []
    for r in results:
        r["closeness"] = (r["evaluated_tokens"] / rate) / r["wall_s"]
        r["prompt_eval_share"] = r["prompt_eval_s"] / r["wall_s"]
        r["prompt_eval_rate"] = (
            r["evaluated_tokens"] / r["prompt_eval_s"] if r["prompt_eval_s"] else None
        )
        r["generate_rate"] = r["generated_tokens"] / r["generate_s"] if r["generate_s"] else None
    result = {
        "sentences": n,
        "k": args.k,
        "threads": first.n_threads,
        "config": str(CONFIG.relative_to(ROOT)),
        "model": first.model_id,
        "n_ctx": first.n_ctx,
        "n_batch": first.n_batch,
        "prefix_block": first.prefix_block,
        "generation": model.generation,
        "cpu_count": os.cpu_count(),
        "load_avg_end": os.getloadavg(),
        "mode": "interleaved: one prompt of each order in turn, each order on its own llama.cpp "
        "instance",
        "total_wall_s": total_wall,
        "raw_rate": {"before": rate_before, "after": rate_after, "tokens_per_s": rate},
        "orders": {r["order"]: r for r in results},
        "speedup_new_over_old": results[1]["sentences_per_s"] / results[0]["sentences_per_s"],
        "prompt_eval_speedup": results[0]["prompt_eval_s"] / results[1]["prompt_eval_s"],
        "identical_prompts": len(common),
        "answer_mismatches": len(mismatches),
        "mismatch_examples": [
            {"prompt_tail": p[-200:], "old": RUNNERS[0].answers[p], "new": RUNNERS[1].answers[p]}
            for p in mismatches[:5]
        ],
        "recheck_cold": {
            "prompts": len(set(sample)) if args.recheck else 0,
            "differing": len(cold_differing),
            "examples": cold_differing[:5],
        },
    }
    print_table(result)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    for runner in RUNNERS:
        runner.backend.close()
    return 0


def print_table(result: Dict[str, Any]) -> None:
    rate = result["raw_rate"]["tokens_per_s"]
    print(
        f"\n{result['sentences']} WikiGold train sentences, k={result['k']}, {result['threads']} "
        "thread(s); "
        f"raw prompt processing {rate:.0f} tokens/s (before / after: "
        f"{result['raw_rate']['before']['tokens_per_s']:.0f} / "
        f"{result['raw_rate']['after']['tokens_per_s']:.0f})"
    )
    header = (
        "order",
        "prompts",
        "wall s",
        "sent/s",
        "prompt tok",
        "evaluated",
        "eval s",
        "generated",
        "gen s",
        "closeness",
    )
    rows = [header]
    for name, r in result["orders"].items():
        rows.append(
            (
                name,
                r["prompts"],
                f"{r['wall_s']:.1f}",
                f"{r['sentences_per_s']:.3f}",
                r["prompt_tokens"],
                r["evaluated_tokens"],
                f"{r['prompt_eval_s']:.1f}",
                r["generated_tokens"],
                f"{r['generate_s']:.1f}",
                f"{r['closeness']:.2f}",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))
    print(
        f"speed-up new/old: {result['speedup_new_over_old']:.2f}x (prompt evaluation alone "
        f"{result['prompt_eval_speedup']:.2f}x); identical prompts in both orders: "
        f"{result['identical_prompts']}, answers differing: {result['answer_mismatches']}; "
        f"re-sent from an empty KV cache: {result['recheck_cold']['prompts']}, "
        f"answers differing: {result['recheck_cold']['differing']}"
    )


if __name__ == "__main__":
    sys.exit(main())
