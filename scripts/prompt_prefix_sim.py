"""Simulation (issue 15.1): prompt tokens llama.cpp would evaluate per strategy.

No LLM runs: the prompts of the first ``--limit`` WikiGold training sentences
(k dev examples, ``configs/propose_local.cfg``) are tokenized as the embedded
backend sends them (the GGUF's chat template and tokenizer, ``vocab_only``);
``evaluated_tokens`` (scripts/prompt_order_measure.py) gives the prompt tokens
evaluated with block-aligned KV reuse (blocks of 64, 32, 16 and 1 = unblocked,
as in metrics/bench/prompt_order.json: 42,549 old, 33,198 new) and with the
backend's own segmentation (``seg``: segments end at a blank line or after 64
tokens, hybrid_ner.llm.llamacpp.segment_ends) for:

- ``old``: similarity-ordered examples, document order;
- ``new``: today's prompts and sorted schedule;
- lower bound: the trie size (distinct token prefixes) of today's prompts,
  reached by sorted order (a trie DFS) at block 1 and by no other schedule;
- ``cluster-C``: examples shared per cluster (``hybrid_ner.ClusteredExamples.v1``:
  k-means of the pool embeddings; each sentence takes the k pool sentences
  nearest its cluster's centroid), prompts sorted. Also: mean cosine of a
  sentence to its examples.

Predicted s = evaluated / ``--rate`` + ``--generate-s`` (measured in that
file); speed-up = ``--old-wall-s`` / predicted.

    python scripts/prompt_prefix_sim.py [--limit 200] [--k 4] [--clusters 4 8 16 32] [--output F]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy
from prompt_order_measure import block_ends, evaluated_tokens, shared_prefix_len
from prompt_order_runner import BUILD_HINT, POOL, ROOT, TRAIN, load, render_prompts

BLOCKS = (64, 32, 16, 1)


class _Captured(Exception): ...  # carries the prompt tokens out of the chat handler


def make_tokenizer(model: Any):
    """prompt -> the token ids create_chat_completion would send (no weights),
    and tokens -> their segment ends in the backend's segmentation."""
    import llama_cpp

    from hybrid_ner.llm.llamacpp import ends_with_text, segment_ends

    path = str(model.backend.weights.path())
    llama = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)

    def capture(*args: Any, **kwargs: Any) -> None:
        raise _Captured(list(kwargs["prompt"]))

    llama.create_completion = capture
    cache: Dict[str, List[int]] = {}

    def tokens(prompt: str) -> List[int]:
        if prompt not in cache:
            try:
                llama.create_chat_completion(messages=model.messages(prompt))
            except _Captured as captured:
                cache[prompt] = captured.args[0]
        return cache[prompt]

    backend = model.backend
    ends_segment = ends_with_text(
        lambda ids: llama.detokenize(ids, special=True), backend.segment_after
    )

    def segments(sequence: Sequence[int]) -> List[int]:
        return segment_ends(sequence, backend.prefix_block, ends_segment)

    return tokens, segments


def trie_size(sequences: Sequence[Sequence[int]]) -> int:
    """Distinct non-empty token prefixes of the sequences (trie nodes)."""
    ordered = sorted(tuple(s) for s in sequences)
    return sum(len(s) - shared_prefix_len(p, s) for p, s in zip([()] + ordered, ordered))


def mean_cosine(retriever: Any, docs: List[Any], chosen: List[List[Any]]) -> float:
    vectors, index = retriever._pool_vectors(), {id(ex): i for i, ex in enumerate(retriever.pool)}
    sims = [
        float(retriever._query_vectors[doc.text] @ vectors[index[id(ex)]])
        for doc, examples in zip(docs, chosen)
        for ex in examples
    ]
    return float(numpy.mean(sims))


def figures(
    name: str, sequences: List[List[int]], segments: Any, args: argparse.Namespace
) -> Dict[str, Any]:
    row: Dict[str, Any] = {"strategy": name, "prompts": len(sequences)}
    row["prompt_tokens"] = sum(len(s) for s in sequences)
    row["trie_nodes"] = trie_size(sequences)
    ends = {f"block{block}": block_ends(block) for block in BLOCKS}
    ends["segments"] = segments
    for key, segment_ends_of in ends.items():
        evaluated = sum(evaluated_tokens(sequences, segment_ends=segment_ends_of))
        row[f"evaluated_{key}"] = evaluated
        seconds = evaluated / args.rate + args.generate_s
        row[f"predicted_s_{key}"] = round(seconds, 1)
        row[f"speedup_{key}"] = round(args.old_wall_s / seconds, 3)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200, help="first N training sentences")
    parser.add_argument("--k", type=int, default=4, help="examples per sentence")
    parser.add_argument("--clusters", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--seed", type=int, default=0, help="k-means seed")
    parser.add_argument("--rate", type=float, default=73.4, help="measured prompt tokens/s")
    parser.add_argument("--generate-s", type=float, default=154.0, help="measured generation s")
    parser.add_argument("--old-wall-s", type=float, default=735.6, help="measured old wall s")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "metrics" / "bench" / "prompt_prefix_sim.json"
    )
    args = parser.parse_args()
    for path in (TRAIN, POOL):
        if not path.is_file():
            print(f"{path} is missing: run `{BUILD_HINT}` in {ROOT}", file=sys.stderr)
            return 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from hybrid_ner.errors import HybridNerError
    from hybrid_ner.llm.clustered import ClusteredExamples
    from hybrid_ner.llm.config import chat_model

    start = time.perf_counter()
    nlp, docs = load(args.limit, args.k, None)
    model, task = chat_model(nlp), nlp.get_pipe("llm").task
    try:
        tokens, segments = make_tokenizer(model)
    except HybridNerError as err:
        print(f"The GGUF weights are not installed: {err}", file=sys.stderr)
        return 1
    old, new = render_prompts(nlp, docs)
    retriever, labels = task.examples, list(task.labels)

    def render(text: str, examples: List[Any]) -> str:
        return task.prompt.render(text, examples, labels, task.definitions, None)

    chosen = retriever(docs)
    same = sorted(dict.fromkeys(render(d.text, ex) for d, ex in zip(docs, chosen))) == sorted(new)
    rows = [figures("old", [tokens(p) for p in old], segments, args)]
    rows.append(figures("new", [tokens(p) for p in new], segments, args))
    per_sentence_cos = mean_cosine(retriever, docs, chosen)
    rows[0]["mean_cosine"] = rows[1]["mean_cosine"] = per_sentence_cos
    # Split of a prompt: shared instructions, examples, the sentence's own tail.
    seqs = [tokens(render(d.text, ex)) for d, ex in zip(docs, chosen)]
    shared = min(shared_prefix_len(seqs[0], s) for s in seqs)
    own = [len(s) - shared_prefix_len(s, tokens(render("#", ex))) for s, ex in zip(seqs, chosen)]
    split = {
        "prompt_tokens_mean": float(numpy.mean([len(s) for s in seqs])),
        "instruction_prefix_tokens": shared,
        "example_tokens_mean": float(numpy.mean([len(s) - shared - o for s, o in zip(seqs, own)])),
        "sentence_tokens_mean": float(numpy.mean(own)),
    }
    for c in args.clusters:
        clustered = ClusteredExamples(
            retriever.pool, retriever.k, retriever.embedder, clusters=c, seed=args.seed
        )
        examples = clustered(docs)
        prompts = sorted(dict.fromkeys(render(d.text, ex) for d, ex in zip(docs, examples)))
        row = figures(f"cluster-{c}", [tokens(p) for p in prompts], segments, args)
        row["mean_cosine"] = mean_cosine(retriever, docs, examples)
        row["mean_cosine_vs_per_sentence"] = row["mean_cosine"] - per_sentence_cos
        row["example_sets"] = len({tuple(id(ex) for ex in exs) for exs in examples})
        rows.append(row)
    trie = rows[1]["trie_nodes"]
    result = {
        "sentences": len(docs),
        "k": args.k,
        "pool_sentences": len(retriever.pool),
        "settings": {key: value for key, value in vars(args).items() if key != "output"},
        "renderer_matches_new": same,
        "sanity": "metrics/bench/prompt_order.json (old 42549, new 33198 evaluated) predates "
        "the 64-token block alignment (no prefix_block key): compare with evaluated_block1",
        "lower_bound": {
            "trie_nodes": trie,
            "predicted_s": round(trie / args.rate + args.generate_s, 1),
        },
        "prompt_split": split,
        "strategies": {row["strategy"]: row for row in rows},
        "seconds": round(time.perf_counter() - start, 1),
    }
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def print_table(result: Dict[str, Any]) -> None:
    split = result["prompt_split"]
    print(
        f"{result['sentences']} sentences, k={result['k']}, pool {result['pool_sentences']}; "
        f"prompt {split['prompt_tokens_mean']:.0f} tokens = instructions "
        f"{split['instruction_prefix_tokens']} + examples {split['example_tokens_mean']:.0f} + "
        f"sentence {split['sentence_tokens_mean']:.0f}; trie (lower bound) "
        f"{result['lower_bound']['trie_nodes']}"
    )
    header = (
        "strategy prompts tokens eval@64 eval@32 eval@16 eval@1 eval@seg s@seg x@64 x@seg cos"
    ).split()
    rows = [header]
    for r in result["strategies"].values():
        rows.append(
            (r["strategy"], r["prompts"], r["prompt_tokens"])
            + tuple(r[f"evaluated_block{b}"] for b in BLOCKS)
            + (r["evaluated_segments"], r["predicted_s_segments"])
            + (r["speedup_block64"], r["speedup_segments"])
            + (f"{r['mean_cosine']:.3f}" if "mean_cosine" in r else "",)
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    sys.exit(main())
