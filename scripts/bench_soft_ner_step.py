"""Benchmark: one training step of the soft-target NER against spaCy's
transition NER on the same transformer stack, same batch, same run.

Target (issue 12): the soft NER's time per step is at most 1.2x the transition
NER's. Both pipelines are initialised from their configs
(``configs/ner_soft.cfg`` and ``configs/ner_transformer.cfg``) on the same
training file; every timed step updates each pipeline once on the same batch
(the config batcher's first batch), alternating, so load on a shared machine
hits both alike. The soft NER is timed on two corpora: the human annotation
(one-hot targets) and the calibrated evidence (posterior targets), the
default of ``spacy project run``.

    python scripts/bench_soft_ner_step.py --train corpus/wikigold/train_llm.spacy \
        --dev corpus/wikigold/dev.spacy --calibration corpus/wikigold/dev_llm.spacy \
        [--steps 8] [--warmup 2] [--output metrics/bench/soft_ner_step.json]
"""

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import srsly  # noqa: E402
from spacy import util  # noqa: E402
from spacy.language import Language  # noqa: E402
from spacy.training import Example  # noqa: E402
from spacy.training.initialize import init_nlp  # noqa: E402
from thinc.api import Optimizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def build(config_path: Path, overrides: Dict[str, object]):
    """An initialised pipeline, its optimizer and its first training batch."""
    config = util.load_config(config_path, overrides=overrides, interpolate=False)
    nlp = init_nlp(config)
    resolved = util.registry.resolve(nlp.config.interpolate()["training"], validate=False)
    corpus = util.resolve_dot_names(nlp.config.interpolate(), [resolved["train_corpus"]])[0]
    batch = next(iter(resolved["batcher"](corpus(nlp))))
    return nlp, resolved["optimizer"], batch


def step(nlp: Language, optimizer: Optimizer, batch: List[Example]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        nlp.update(batch, sgd=optimizer, drop=0.1, losses={})
        return time.perf_counter() - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--train", type=Path, default=ROOT / "corpus" / "wikigold" / "train_llm.spacy"
    )
    parser.add_argument("--dev", type=Path, default=ROOT / "corpus" / "wikigold" / "dev.spacy")
    parser.add_argument(
        "--calibration", type=Path, default=ROOT / "corpus" / "wikigold" / "dev_llm.spacy"
    )
    parser.add_argument(
        "--limit", type=int, default=200, help="training sentences read (the batch is the first)"
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    for path in (args.train, args.dev, args.calibration):
        if not path.is_file():
            raise SystemExit(
                f"{path}: not found; run `spacy project run all` (or convert/split/propose) first"
            )
    common = {"paths.train": str(args.train), "paths.dev": str(args.dev), "corpora.dev.limit": 20}
    setups = {
        "transition NER (human)": (
            ROOT / "configs" / "ner_transformer.cfg",
            {**common, "training.train_corpus": "corpora.train", "corpora.train.limit": args.limit},
        ),
        "soft NER (human)": (
            ROOT / "configs" / "ner_soft.cfg",
            {**common, "training.train_corpus": "corpora.human", "corpora.human.limit": args.limit},
        ),
        "soft NER (calibrated)": (
            ROOT / "configs" / "ner_soft.cfg",
            {
                **common,
                "paths.calibration": str(args.calibration),
                "training.train_corpus": "corpora.hybrid_calibrated",
                "corpora.hybrid_calibrated.limit": args.limit,
            },
        ),
    }
    runs = {}
    words = {}
    for name, (config_path, overrides) in setups.items():
        nlp, optimizer, batch = build(config_path, overrides)
        runs[name] = step(nlp, optimizer, batch)
        words[name] = sum(len(eg.reference) for eg in batch)
        print(f"{name}: {len(batch)} docs, {words[name]} words in the batch", flush=True)
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for i in range(args.warmup + args.steps):
        for name, run in runs.items():
            seconds = run()
            if i >= args.warmup:
                times[name].append(seconds)
        print(f"step {i + 1}/{args.warmup + args.steps}", flush=True)
    base = statistics.median(times["transition NER (human)"])
    result = {}
    print(f"\n{'pipeline':<26}{'median s/step':>14}{'ratio':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        result[name] = {
            "median_s": round(median, 4),
            "ratio": round(median / base, 3),
            "words": words[name],
            "steps": len(values),
        }
        print(f"{name:<26}{median:>14.3f}{median / base:>8.2f}")
    print("target: soft NER ratio <= 1.2")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(args.output, result)


if __name__ == "__main__":
    main()
