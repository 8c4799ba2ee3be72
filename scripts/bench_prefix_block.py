"""Benchmark (issue 15.1): llama.cpp's prompt rate per KV-reuse block size.

The embedded backend evaluates every prompt in ``prefix_block``-token
``llama_decode`` calls so that answers never depend on the previous request
(hybrid_ner/llm/llamacpp.py). Smaller blocks waste less of a shared prefix
(scripts/prompt_prefix_sim.py predicts the evaluated tokens) but decode in
smaller batches. This measures the rate that trade-off needs: tokens/s when
the same ``--tokens`` prompt tokens (the start of the committed WikiGold
recording's prompts, as the embedded model tokenizes them) are evaluated from
an empty cache in blocks of each size, on one llama.cpp instance, the sizes
interleaved round by round so that all see the same background load.

    python scripts/bench_prefix_block.py [--blocks 64 32 16] [--rounds 3] [--threads 1]
"""

import argparse
import gzip
import json
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "assets" / "llm_answers" / "wikigold_qwen2.5-coder-0.5b_v1.jsonl.gz"


def prompt_text(limit: int = 20) -> str:
    """The user messages of the first ``limit`` recorded requests, joined."""
    texts = []
    with gzip.open(RECORDING, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "request" in record:
                texts.extend(m["content"] for m in record["request"]["messages"])
            if len(texts) >= limit:
                break
    return "\n\n".join(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[64, 32, 16])
    parser.add_argument("--tokens", type=int, default=1024, help="prompt tokens per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()

    import llama_cpp

    from hybrid_ner.llm.weights import create_wheel_weights

    llama = llama_cpp.Llama(
        model_path=str(create_wheel_weights().path()),
        n_ctx=args.tokens + 64,
        n_batch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    tokens = llama.tokenize(prompt_text().encode("utf-8"), add_bos=False)[: args.tokens]
    seconds: Dict[int, List[float]] = {block: [] for block in args.blocks}
    for _ in range(args.rounds):
        for block in args.blocks:
            llama.reset()
            start = time.perf_counter()
            for i in range(0, len(tokens), block):
                llama.eval(tokens[i : i + block])
            seconds[block].append(time.perf_counter() - start)
    base = args.blocks[0]
    rates = {block: len(tokens) / min(times) for block, times in seconds.items()}
    result = {
        "tokens": len(tokens),
        "threads": args.threads,
        "rounds": args.rounds,
        "seconds": {str(b): t for b, t in seconds.items()},
        "tokens_per_s": {str(b): r for b, r in rates.items()},
        f"rate_vs_block_{base}": {str(b): r / rates[base] for b, r in rates.items()},
    }
    for block in args.blocks:
        print(
            f"block {block:>3}: {rates[block]:6.1f} tokens/s (best of {args.rounds}), "
            f"{rates[block] / rates[base]:.2f}x the rate of block {base}"
        )
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
