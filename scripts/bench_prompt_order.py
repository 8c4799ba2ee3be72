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
  prefix_schedule``), exactly what ``hybrid-ner propose`` sends today;
- ``clustered-C`` (``--clusters``): the project's prompts and schedule with
  ``hybrid_ner.ClusteredExamples.v1`` (the k pool sentences nearest the
  centroid of the sentence's k-means cluster, C clusters; ``C:k=8`` another k,
  ``C:nearest=1`` the last example the sentence's own nearest): faster, since
  the sentences of a cluster share their prompt up to the sentence.

Each arm's answers are also scored against the sentences' gold entities
(proposal P/R/F1): what an arm gains in speed is weighed against what its
examples cost in quality.

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

    python scripts/bench_prompt_order.py [--limit 200] [--k 4] [--clusters 16 16:k=8 ...]
        [--skip-new] [--threads N] [--output result.json]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict

from prompt_order_measure import raw_rate
from prompt_order_runner import (
    BUILD_HINT,
    CONFIG,
    POOL,
    ROOT,
    RUNNERS,
    TRAIN,
    Runner,
    doc_prompts,
    load,
    proposal_quality,
    recheck,
    render_prompts,
    run_interleaved,
    sending_order,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--limit", type=int, default=200, help="first N WikiGold training sentences (0: all)"
    )
    parser.add_argument("--k", type=int, default=4, help="retrieved examples per sentence")
    parser.add_argument(
        "--clusters",
        nargs="*",
        default=[],
        help="also run ClusteredExamples arms, one per C[:k=K][:nearest=N] (e.g. 16 16:k=8)",
    )
    parser.add_argument(
        "--skip-new", action="store_true", help="leave out the new (per-sentence) arm"
    )
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
    by_doc = doc_prompts(nlp, docs, args.clusters)
    old, new = render_prompts(nlp, docs, by_doc)
    arms = {"old": old} if args.skip_new else {"old": old, "new": new}
    arms.update({f"clustered-{c}": sending_order(by_doc[f"clustered-{c}"]) for c in args.clusters})
    print(
        f"{len(docs)} sentences; distinct prompts: "
        + ", ".join(f"{name} {len(prompts)}" for name, prompts in arms.items())
        + f"; prompts rendered in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    first = model.backend
    backends = [first] + [
        LlamaCppBackend(
            first.weights,
            n_ctx=first.n_ctx,
            n_threads=first.n_threads,
            n_batch=first.n_batch,
            seed=first.seed,
            prefix_block=first.prefix_block,
            segment_after=first.segment_after,
        )
        for _ in range(len(arms) - 1)
    ]
    RUNNERS[:] = [
        Runner(name, prompts, model, backend)
        for (name, prompts), backend in zip(arms.items(), backends)
    ]
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
    # The same prompt in several arms (another KV-cache history): the same answer?
    seen: Dict[str, Dict[str, str]] = {}
    for runner in RUNNERS:
        for prompt, answer in runner.answers.items():
            seen.setdefault(prompt, {})[runner.name] = answer
    common = [p for p, by_arm in seen.items() if len(by_arm) > 1]
    mismatches = [p for p in common if len(set(seen[p].values())) > 1]
    for r, runner in zip(results, RUNNERS):
        r["quality"] = proposal_quality(nlp, docs, by_doc[runner.name], runner.answers)
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
        "segment_after": first.segment_after,
        "generation": model.generation,
        "cpu_count": os.cpu_count(),
        "load_avg_end": os.getloadavg(),
        "mode": "interleaved: one prompt of each arm in turn, each arm on its own llama.cpp "
        "instance",
        "total_wall_s": total_wall,
        "raw_rate": {"before": rate_before, "after": rate_after, "tokens_per_s": rate},
        "orders": {r["order"]: r for r in results},
        "speedup_over_old": {
            r["order"]: r["sentences_per_s"] / results[0]["sentences_per_s"] for r in results[1:]
        },
        "prompt_eval_speedup_over_old": {
            r["order"]: results[0]["prompt_eval_s"] / r["prompt_eval_s"] for r in results[1:]
        },
        "identical_prompts": len(common),
        "answer_mismatches": len(mismatches),
        "mismatch_examples": [
            {"prompt_tail": p[-200:], "answers": seen[p]} for p in mismatches[:5]
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
        "F1",
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
                f"{r['quality']['ALL']['f']:.3f}",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))
    speedups = ", ".join(
        f"{name} {x:.2f}x (prompt evaluation {result['prompt_eval_speedup_over_old'][name]:.2f}x)"
        for name, x in result["speedup_over_old"].items()
    )
    print(
        f"speed-up over old: {speedups}; prompts in several arms: "
        f"{result['identical_prompts']}, answers differing: {result['answer_mismatches']}; "
        f"re-sent from an empty KV cache: {result['recheck_cold']['prompts']}, "
        f"answers differing: {result['recheck_cold']['differing']}"
    )


if __name__ == "__main__":
    sys.exit(main())
