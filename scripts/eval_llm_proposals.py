"""Proposal quality of an LLM (the embedded one by default) against gold:
P/R/F1 per label for several numbers of retrieved examples k, plus speed.

The gold Docs' ``doc.ents`` stay untouched; proposals go to ``doc.spans["llm"]``
and are scored against them. Answers are cached (``--cache``), so re-running
or extending a measurement only pays for new prompts; the reported speed is
measured on uncached prompts only if the cache is fresh.

    python scripts/eval_llm_proposals.py --gold corpus/wikigold/dev.spacy \\
        --pool corpus/wikigold/train.spacy -n 60 --k 0,4,8 [--query single|per-type] \
        [--out metrics/llm_wikigold.json]
    python scripts/eval_llm_proposals.py --gold ../shared/data/conll2003/dev.iob \\
        --pool ../shared/data/conll2003/train.iob --pool-limit 3000 -n 60 --k 0,4,8

``--config`` evaluates any proposal config instead (e.g. an OpenAI-compatible server).
"""

import argparse
import json
import random
import time
from pathlib import Path
from typing import List

import spacy
from spacy.tokens import Doc

from hybrid_ner.corpus import read_conll, read_docbin
from hybrid_ner.evaluation import score_proposals
from hybrid_ner.llm.config import build_proposer, load_config

ROOT = Path(__file__).resolve().parent.parent
QUERY = {"single": "hybrid_ner.SingleQueryPrompt.v1", "per-type": "hybrid_ner.PerTypePrompt.v1"}


def load(path: str, vocab) -> List[Doc]:
    if path.endswith(".spacy"):
        return read_docbin(path, vocab)
    return read_conll(path, vocab).docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", required=True, help=".spacy or CoNLL file with gold entities")
    parser.add_argument(
        "--pool", required=True, help=".spacy or CoNLL file to retrieve examples from"
    )
    parser.add_argument(
        "--pool-limit", type=int, default=0, help="use only the first N pool sentences"
    )
    parser.add_argument("-n", type=int, default=60, help="sentences sampled from --gold (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", default="0,4,8", help="comma-separated numbers of examples")
    parser.add_argument("--query", default="single", choices=sorted(QUERY))
    parser.add_argument(
        "--config", default=None, help="proposal config (default: built-in, embedded LLM)"
    )
    parser.add_argument("--cache", default=str(ROOT / ".cache" / "llm" / "eval.sqlite"))
    parser.add_argument("--out", default=None, help="write all figures as JSON here")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: all cores)")
    args = parser.parse_args()

    vocab = spacy.blank("en").vocab
    gold = [doc for doc in load(args.gold, vocab) if len(doc) > 0]
    sample = random.Random(args.seed).sample(gold, min(args.n, len(gold)))
    pool = load(args.pool, vocab)
    if args.pool_limit:
        pool = pool[: args.pool_limit]
    pool_file = Path(args.cache).parent / f"pool_{Path(args.pool).stem}_{len(pool)}.spacy"
    if not pool_file.exists():
        from hybrid_ner.corpus import write_docbin

        write_docbin(pool_file, pool)
    results = {}
    for k in [int(value) for value in args.k.split(",")]:
        overrides = {
            "components.llm.task.prompt": {"@llm_misc": QUERY[args.query]},
            "components.llm.task.examples.pool": str(pool_file),
            "components.llm.task.examples.k": k,
            "components.llm.model.cache": {
                "@llm_misc": "hybrid_ner.PromptCache.v1",
                "path": args.cache,
            },
        }
        if args.threads:
            overrides["components.llm.model.n_threads"] = args.threads
        proposer = build_proposer(load_config(args.config, overrides))
        model = proposer.model
        start = time.perf_counter()
        docs = list(proposer.component.pipe([doc.copy() for doc in sample], batch_size=16))
        seconds = time.perf_counter() - start
        usage = model.usage.report()
        scores = score_proposals(docs)
        results[k] = {
            "scores": scores,
            "seconds": round(seconds, 1),
            "usage": usage,
            "sentences_per_s_uncached": round(usage["requests"] / seconds, 3)
            if usage["requests"]
            else None,
        }
        model.close()
        print(
            f"\n== {Path(args.gold).name}: {len(sample)} sentences, query={args.query}, k={k} "
            f"({seconds:.0f} s, {usage['requests']} requests, {usage['cache_hits']} cached, "
            f"prompt tokens {usage['prompt_tokens']}, completion tokens "
            f"{usage['completion_tokens']})"
        )
        print(f"{'label':6} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}")
        for label, s in scores.items():
            print(
                f"{label:6} {s['p']:6.3f} {s['r']:6.3f} {s['f']:6.3f} {s['tp']:4d} {s['fp']:4d} "
                f"{s['fn']:4d}"
            )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(
            json.dumps(
                {"gold": args.gold, "n": len(sample), "query": args.query, "results": results},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
