"""Benchmark: one training step of the soft NER with a frozen encoder
(``configs/ner_soft_frozen.cfg``) against the fine-tuned transformer
(``configs/ner_soft.cfg``) on the same batch, same run.

Target (issue 21): a frozen step costs at most 0.25x a fine-tuned one. Both
pipelines are initialised from their configs on the same training file and
update once per timed step on the same batch (the config batcher's first
batch of the human annotation), alternating, so load on a shared machine
hits both alike. The frozen encoder computes a sentence's features at its
first step only (timed apart, ``first_step_s``); later steps and epochs reuse
them, which is what a training run sees.

    python scripts/bench_frozen_step.py [--steps 8] [--warmup 2] \\
        [--output metrics/bench/frozen_step.json]
"""

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Dict, List

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import srsly  # noqa: E402
import torch  # noqa: E402
from spacy import util  # noqa: E402
from spacy.language import Language  # noqa: E402
from spacy.training import Example  # noqa: E402
from spacy.training.initialize import init_nlp  # noqa: E402
from thinc.api import Optimizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FINE_TUNED = "fine-tuned encoder (configs/ner_soft.cfg)"
FROZEN = "frozen encoder (configs/ner_soft_frozen.cfg)"


def build(config_path: Path, overrides: Dict[str, object]):
    """An initialised pipeline, its optimizer and its first training batch."""
    config = util.load_config(config_path, overrides=overrides, interpolate=False)
    nlp = init_nlp(config)
    resolved = util.registry.resolve(nlp.config.interpolate()["training"], validate=False)
    corpus = util.resolve_dot_names(nlp.config.interpolate(), [resolved["train_corpus"]])[0]
    batch = next(iter(resolved["batcher"](corpus(nlp))))
    return nlp, resolved["optimizer"], batch


def update(nlp: Language, optimizer: Optimizer, batch: List[Example]) -> float:
    """Seconds of one ``nlp.update`` on the batch."""
    start = time.perf_counter()
    nlp.update(batch, sgd=optimizer, drop=0.1, losses={})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--train", type=Path, default=ROOT / "corpus" / "wikigold" / "train_llm.spacy"
    )
    parser.add_argument("--dev", type=Path, default=ROOT / "corpus" / "wikigold" / "dev.spacy")
    parser.add_argument(
        "--limit", type=int, default=200, help="training sentences read (the batch is the first)"
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    for path in (args.train, args.dev):
        if not path.is_file():
            raise SystemExit(
                f"{path}: not found; run `spacy project run all` (or convert/split/propose) first"
            )
    overrides = {
        "paths.train": str(args.train),
        "paths.dev": str(args.dev),
        "corpora.dev.limit": 20,
        "training.train_corpus": "corpora.human",
        "corpora.human.limit": args.limit,
    }
    setups = {
        FINE_TUNED: ROOT / "configs" / "ner_soft.cfg",
        FROZEN: ROOT / "configs" / "ner_soft_frozen.cfg",
    }
    built = {name: build(path, overrides) for name, path in setups.items()}
    batches = {name: [eg.reference.text for eg in batch] for name, (_, _, batch) in built.items()}
    if batches[FINE_TUNED] != batches[FROZEN]:
        raise SystemExit("the two configs' first batches differ: not comparable")
    words = sum(len(eg.reference) for eg in built[FROZEN][2])
    print(f"batch: {len(batches[FROZEN])} sentences, {words} words", flush=True)
    times: Dict[str, List[float]] = {name: [] for name in built}
    first: Dict[str, float] = {}
    for i in range(args.warmup + args.steps):
        for name, (nlp, optimizer, batch) in built.items():
            seconds = update(nlp, optimizer, batch)
            if i == 0:
                first[name] = seconds
            elif i >= args.warmup:
                times[name].append(seconds)
        print(f"step {i + 1}/{args.warmup + args.steps}", flush=True)
    base = statistics.median(times[FINE_TUNED])
    result: Dict[str, object] = {}
    print(f"\n{'pipeline':<46}{'median s/step':>14}{'ratio':>8}{'first step s':>14}")
    for name, values in times.items():
        median = statistics.median(values)
        result[name] = {
            "median_s": round(median, 4),
            "ratio": round(median / base, 3),
            "first_step_s": round(first[name], 3),
            "steps": len(values),
        }
        print(f"{name:<46}{median:>14.3f}{median / base:>8.3f}{first[name]:>14.3f}")
    ratio = statistics.median(times[FROZEN]) / base
    result["batch"] = {"sentences": len(batches[FROZEN]), "words": words}
    result["torch_threads"] = torch.get_num_threads()
    result["target"] = "frozen / fine-tuned <= 0.25"
    result["met"] = ratio <= 0.25
    verdict = "met" if ratio <= 0.25 else "NOT met"
    print(f"\nfrozen / fine-tuned: {ratio:.3f} (target <= 0.25: {verdict})")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(args.output, result)
        print(f"written: {args.output}")


if __name__ == "__main__":
    main()
