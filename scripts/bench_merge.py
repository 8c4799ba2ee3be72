"""Benchmark: merge + label mixing over CoNLL-2003 train, against just reading
the DocBin, measured in the same run.

Target (issue 4): merge + mixing take at most 2x the time of reading the
DocBin. The input is CoNLL-2003 train with 40% simulated omissions and
proposals of the package's simulated annotator (hybrid_ner.simulation.annotator,
preset "gpt-3.5-class", per-type queries: missed entities, boundary and label
errors, conflicting labels on one span, false positives) in doc.spans["llm"],
so it runs offline; only speed is measured here, not quality.

    python scripts/bench_merge.py [--conll PATH] [--limit N] [--repeats 3]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import spacy

from hybrid_ner.corpus import read_conll, read_docbin, write_docbin
from hybrid_ner.layers import LLM_KEY
from hybrid_ner.merge.merger import Merger
from hybrid_ner.merge.mixing import LabelMixing
from hybrid_ner.simulation.annotator import create_simulated_annotator
from hybrid_ner.simulation.omissions import omit_entities

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONLL = (
    Path(os.environ.get("HYBRID_NER_CONLL_DIR", ROOT.parent / "shared" / "data" / "conll2003"))
    / "train.iob"
)


def build_input(conll: Path, limit: int, seed: int, path: Path) -> int:
    """Write the benchmark's input DocBin; RETURNS the number of Docs."""
    docs = read_conll(conll).docs
    if limit:
        docs = docs[:limit]
    annotator = create_simulated_annotator(
        "gpt-3.5-class", seed=seed, spans_key=LLM_KEY, query="per-type"
    )
    # Proposals from the gold, then omissions (they keep the span groups).
    docs = annotator.annotate_all(docs)
    return write_docbin(path, [omit_entities(doc, 0.4, seed) for doc in docs])


def main() -> None:
    """Time reading, merging and mixing; print the ratios to the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL)
    parser.add_argument("--limit", type=int, default=0, help="Sentences (0: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    vocab = spacy.blank("en").vocab
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "proposals.spacy"
        n_docs = build_input(args.conll, args.limit, args.seed, path)
        print(
            f"input: {n_docs} sentences from {args.conll}, "
            f"{path.stat().st_size / 1e6:.1f} MB DocBin"
        )
        read_times, merge_times, mix_times = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            docs = read_docbin(path, vocab)
            read_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            merger = Merger()
            merger.merge_all(docs)
            merge_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            mixing = LabelMixing()
            lambdas = mixing.fit(merger.stats)
            mixing.attach_all(docs, lambdas)
            mix_times.append(time.perf_counter() - start)
    n_proposals = sum(len(d.spans[LLM_KEY]) for d in docs)
    read, merge, mix = min(read_times), min(merge_times), min(mix_times)
    print(f"proposals: {n_proposals}; λ: " + ", ".join(f"{k} {v:.2f}" for k, v in lambdas.items()))
    print(f"best of {args.repeats}:")
    print(f"  read DocBin (baseline)   {read:7.2f} s")
    print(f"  merge (fit + apply)      {merge:7.2f} s")
    print(f"  label mixing             {mix:7.2f} s")
    ratio = (merge + mix) / read
    verdict = "met" if ratio <= 2 else "NOT met"
    print(f"  (merge + mixing) / read  {ratio:7.2f}x   target <= 2.00x: {verdict}")
    print(f"  (read + merge + mixing) / read  {(read + merge + mix) / read:.2f}x")


if __name__ == "__main__":
    main()
