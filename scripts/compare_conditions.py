"""Train the paper's conditions with one config and compare them on a test set.

Each condition is the same config and the same soft-target NER, only the
training corpus differs (``--training.train_corpus``): human-only,
hybrid-random and hybrid-lambda-mixing. Models are evaluated on the test
DocBin with the corpus's own tokens (no re-tokenization).

    python scripts/compare_conditions.py configs/ner_soft_cpu.cfg \\
        --train corpus/wikigold/train_omit40_llm.spacy --dev corpus/wikigold/dev.spacy \\
        --test corpus/wikigold/test.spacy --output training/compare --json metrics/compare.json
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from hybrid_ner.experiment.grid import score_model

CONDITIONS = {
    "human-only": "corpora.human",
    "hybrid-random": "corpora.hybrid_random",
    "hybrid-lambda-mixing": "corpora.hybrid_mixing",
}


def main(argv: List[str] = sys.argv[1:]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument(
        "--train", type=Path, required=True, help="Gold (with omissions) + proposals DocBin"
    )
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument(
        "--output", type=Path, required=True, help="Directory for the trained models"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--seed", type=int, default=0)
    # Unknown options are passed to spacy train as overrides, e.g. --training.max_epochs 5
    args, overrides = parser.parse_known_args(argv)
    results = {}
    for name in args.conditions.split(","):
        out = args.output / name
        command = [
            sys.executable,
            "-m",
            "spacy",
            "train",
            str(args.config),
            "--output",
            str(out),
            "--paths.train",
            str(args.train),
            "--paths.dev",
            str(args.dev),
            "--training.train_corpus",
            CONDITIONS[name],
            "--system.seed",
            str(args.seed),
            *overrides,
        ]
        print("$ " + " ".join(command), flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        train_s = time.perf_counter() - start
        results[name] = {
            "train_seconds": round(train_s, 1),
            **score_model(out / "model-best", args.test),
        }
        print(f"{name}: F1 {results[name]['f']:.4f} (train {train_s:.0f} s)", flush=True)
    labels = sorted({label for r in results.values() for label in r["per_type"]})
    print(
        "\ncondition            P       R       F1     "
        + "  ".join(f"{label:>14}" for label in labels)
    )
    for name, r in results.items():
        per = "  ".join(f"{r['per_type'].get(label, {}).get('f', 0.0):14.4f}" for label in labels)
        print(f"{name:20} {r['p']:.4f}  {r['r']:.4f}  {r['f']:.4f}  {per}")
    print("(per-label columns: F1; P and R per label in the JSON)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "config": str(args.config),
                    "train": str(args.train),
                    "seed": args.seed,
                    "results": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
