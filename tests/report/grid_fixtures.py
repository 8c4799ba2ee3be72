"""Write small, realistic grid result directories for the report tests.

Hand-computable numbers (three seeds, F1 values spaced 0.01 or 0.02):
at 40% omissions human-clean 0.820 ± 0.020, human-omit 0.620 ± 0.020,
hybrid-random 0.660 ± 0.010, hybrid-label-mixing 0.680 ± 0.028 (seed 2
missing), hybrid-lambda-mixing 0.660 ± 0.020, sim-hybrid-random 0.710 ±
0.010, sim-hybrid-label-mixing 0.750 ± 0.020.

The targets of scripts/check_targets.py then come out as:
do no harm: hybrid-label-mixing met at 20% and 40%, not met at 60% (0.510
vs 0.520); sim-hybrid-label-mixing met at 20% and 40%, no data at 60%;
hybrid-budget met at every budget (at 25% exactly on the tolerance, −0.005);
sim-hybrid-budget met at 10%, not met at 25%, no data at 50%. Label mixing >
random: both met. Simulated GPT-3.5-class: +0.130 at 40% met, no data at 60%;
budget 10% met, 25% not met.
"""

from pathlib import Path
from typing import Dict, Iterable, Optional

import spacy
import srsly
from spacy.tokens import Doc, Span

from hybrid_ner.corpus import write_docbin
from hybrid_ner.experiment.conditions import CALIBRATED_CORPUS, CONDITIONS
from hybrid_ner.layers import (
    DOC_ID,
    HUMAN_KEY,
    LLM_ADDED_KEY,
    LLM_KEY,
    LLM_REJECTED_KEY,
    OMITTED_KEY,
)

ANNOTATOR = {"none": "none", "llm": "llm", "sim": "simulated"}
CALIBRATED = tuple(name for name, spec in CONDITIONS.items() if spec.corpus == CALIBRATED_CORPUS)

# condition -> {omit_rate -> F1 per seed}; None = the cell is missing.
F1 = {
    "human-clean": {0.0: [0.80, 0.82, 0.84]},
    "human-omit": {0.2: [0.70, 0.71, 0.72], 0.4: [0.60, 0.62, 0.64], 0.6: [0.50, 0.52, 0.54]},
    "llm-only": {0.0: [0.30, 0.32, 0.34]},
    "hybrid-random": {0.2: [0.72, 0.73, 0.74], 0.4: [0.65, 0.66, 0.67], 0.6: [0.55, 0.56, 0.57]},
    "hybrid-label-mixing": {
        0.2: [0.74, 0.75, 0.76],
        0.4: [0.66, 0.70, None],
        0.6: [0.50, 0.51, 0.52],
    },
    "hybrid-lambda-mixing": {
        0.2: [0.73, 0.74, 0.75],
        0.4: [0.64, 0.66, 0.68],
        0.6: [0.52, 0.53, 0.54],
    },
    "sim-hybrid-random": {0.4: [0.70, 0.71, 0.72]},
    "sim-hybrid-label-mixing": {0.2: [0.78, 0.79, 0.80], 0.4: [0.73, 0.75, 0.77]},
}
# condition -> {budget -> (F1 per seed, cost)}
BUDGET = {
    "human-budget": {
        0.1: ([0.40, 0.42], {"human": 8.0, "llm": 0.0, "total": 8.0}),
        0.25: ([0.55, 0.57], {"human": 20.0, "llm": 0.0, "total": 20.0}),
        0.5: ([0.70, 0.72], {"human": 40.0, "llm": 0.0, "total": 40.0}),
    },
    "hybrid-budget": {
        0.1: ([0.41, 0.43], {"human": 8.0, "llm": 0.2, "total": 8.2}),
        0.25: ([0.55, 0.56], {"human": 20.0, "llm": 0.2, "total": 20.2}),
        0.5: ([0.74, 0.76], {"human": 40.0, "llm": 0.2, "total": 40.2}),
    },
    "sim-hybrid-budget": {
        0.1: ([0.50, 0.52], {"human": 8.0, "llm": 0.2, "total": 8.2}),
        0.25: ([0.54, 0.56], {"human": 20.0, "llm": 0.2, "total": 20.2}),
    },
}

LLM_CALIBRATION_LABELS = {
    "LOC": {
        "precision": 0.75,
        "recall": 0.6,
        "proposed": 40,
        "gold": 50,
        "lr_proposed": 45.25,
        "lr_silence": 0.5,
    },
    "PER": {
        "precision": 0.87,
        "recall": 0.82,
        "proposed": 95,
        "gold": 101,
        "lr_proposed": 181.7,
        "lr_silence": 0.28,
    },
}
SIM_CALIBRATION_LABELS = {
    "LOC": {
        "precision": 0.81,
        "recall": 0.8,
        "proposed": 49,
        "gold": 50,
        "lr_proposed": 96.0,
        "lr_silence": 0.21,
    },
    "PER": {
        "precision": 0.92,
        "recall": 0.88,
        "proposed": 97,
        "gold": 101,
        "lr_proposed": 402.3,
        "lr_silence": 0.134,
    },
}


def calibration(dataset: str, annotator: str, rate: float, seed: int) -> Dict:
    """A calibration record as the grid writes it; the estimated omission
    rate is the true rate + 0.03 + 0.01 × seed."""
    simulated = annotator == "simulated"
    return {
        "source": f"work/data/{dataset}/calibration_dev_simulated_s{seed}.spacy"
        if simulated
        else f"corpus/{dataset}/dev_llm.spacy",
        "biased": False,
        "tokens": 3883,
        "position_match": 0.969,
        "omission_rate": round(rate + 0.03 + 0.01 * seed, 4),
        "omission_source": "estimated from agreement and calibrated precision",
        "labels": SIM_CALIBRATION_LABELS if simulated else LLM_CALIBRATION_LABELS,
    }


def cell(
    dataset: str,
    condition: str,
    rate: float,
    seed: int,
    f: float,
    budget: float = 1.0,
    cost: Optional[Dict] = None,
) -> Dict:
    """One cell file's content, per-label F1 0.05 above (LOC) and below (PER) the overall F1."""
    annotator = (
        "simulated"
        if condition.startswith("sim-")
        else "llm"
        if "llm" in condition or "hybrid" in condition
        else "none"
    )
    data = {
        "dataset": dataset,
        "condition": condition,
        "annotator": annotator,
        "omit_rate": rate,
        "budget": budget,
        "seed": seed,
        "omission_model": "uniform",
        "scores": {
            "p": f + 0.02,
            "r": f - 0.02,
            "f": f,
            "per_type": {
                "LOC": {"p": f, "r": f, "f": round(f + 0.05, 4)},
                "PER": {"p": f, "r": f, "f": round(f - 0.05, 4)},
            },
        },
        "train_sentences": 100,
        "steps": 50,
        "train_seconds": 3.0,
        "config": "configs/ner_soft_cpu.cfg",
    }
    if cost is not None:
        data["cost"] = cost
    elif condition == "human-clean":
        data["cost"] = {"human": 81.2, "llm": 0.0, "total": 81.2}
    if "lambda-mixing" in condition:
        data["lambdas"] = {"LOC": 0.14, "PER": 0.44}
    if condition in CALIBRATED:
        data["calibration"] = calibration(dataset, annotator, rate, seed)
    return data


def cell_id(condition: str, rate: float, budget: float, seed: int) -> str:
    """The grid's file stem of a cell, e.g. ``human-budget_r0_b0.1_s0``."""
    return f"{condition}_r{rate:g}_b{budget:g}_s{seed}"


def write_cells(dataset_dir: Path, f1: Dict = F1, budget: Dict = BUDGET) -> None:
    dataset = dataset_dir.name
    cells = dataset_dir / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    for condition, by_rate in f1.items():
        for rate, values in by_rate.items():
            for seed, f in enumerate(values):
                if f is not None:
                    srsly.write_json(
                        cells / f"{cell_id(condition, rate, 1.0, seed)}.json",
                        cell(dataset, condition, rate, seed, f),
                    )
    for condition, by_budget in budget.items():
        for fraction, (values, cost) in by_budget.items():
            for seed, f in enumerate(values):
                srsly.write_json(
                    cells / f"{cell_id(condition, 0.0, fraction, seed)}.json",
                    cell(dataset, condition, 0.0, seed, f, fraction, cost),
                )


def write_old_cells(dataset_dir: Path) -> None:
    """Cells of older grids: without "omission_model", "budget" and
    "annotator" (a current condition), a condition the grid no longer knows,
    and a calibrated condition's cell written before calibration existed (no
    "calibration" record: another method under today's name)."""
    cells = dataset_dir / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    for condition, seed in (("human-omit", 3), ("hybrid-soft-vote", 0), ("hybrid-label-mixing", 2)):
        old = cell(dataset_dir.name, condition, 0.4, seed, 0.6)
        for key in ("omission_model", "budget", "annotator", "calibration"):
            old.pop(key, None)
        srsly.write_json(cells / f"{cell_id(condition, 0.4, 1.0, seed)}.json", old)


def annotator_entry(name: str, simulated: bool, p: float, r: float) -> Dict:
    per_label = {
        label: {
            "p": p,
            "r": r,
            "f": round(2 * p * r / (p + r), 4),
            "tp": 10,
            "fp": 5,
            "fn": 7,
            "proposed": 15,
            "gold": 17,
        }
        for label in ("LOC", "PER")
    }
    return {
        "name": name,
        "simulated": simulated,
        "overall": {
            "p": p,
            "r": r,
            "f": round(2 * p * r / (p + r), 4),
            "tp": 20,
            "fp": 10,
            "fn": 14,
            "proposed": 30,
        },
        "per_label": per_label,
        "distribution": {"LOC": 0.47, "PER": 0.53},
    }


def write_annotators(dataset_dir: Path) -> None:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    srsly.write_json(
        dataset_dir / "annotators.json",
        {
            "dataset": dataset_dir.name,
            "sentences": 100,
            "gold_entities": 34,
            "gold_distribution": {"LOC": 0.3, "PER": 0.7},
            "annotators": {
                "llm": annotator_entry(
                    "embedded LLM qwen2.5-coder-0.5b-instruct (llama.cpp)", False, 0.31, 0.27
                ),
                "simulated": annotator_entry("GPT-3.5-class annotator", True, 0.62, 0.58),
            },
            "usage": {
                "requests": 100,
                "prompt_tokens": 59000,
                "completion_tokens": 2300,
                "wall_seconds": 350.0,
            },
            "costs": {
                "human_per_sentence": 0.06,
                "llm_price_in_per_1k": 0.0005,
                "llm_price_out_per_1k": 0.0015,
                "llm_all_sentences": 0.033,
            },
        },
    )


def write_run(dataset_dir: Path) -> None:
    srsly.write_json(
        dataset_dir / "run.json",
        {
            "commands": ["python -m spacy project run grid"],
            "wall_seconds": 5400,
            "started": "2026-11-29T00:00Z",
            "finished": "2026-11-29T01:30Z",
            "machine": "2 CPU cores",
        },
    )


WORDS = "Ann Smith visited Paris & met Bob in <Oslo> .".split()


def _spans(doc: Doc, spans: Iterable) -> list:
    out = []
    for start, end, label, *reason in spans:
        span = Span(doc, start, end, label)
        if reason:
            span.id_ = reason[0]
        out.append(span)
    return out


def sample_docs(n: int = 2) -> list:
    """Docs with every layer; the second has no LLM group at all."""
    vocab = spacy.blank("en").vocab
    docs = []
    for i in range(n):
        doc = Doc(vocab, words=WORDS)
        doc.user_data[DOC_ID] = f"doc{i}"
        doc.spans["gold"] = _spans(
            doc, [(0, 2, "PER"), (3, 4, "LOC"), (6, 7, "PER"), (8, 9, "LOC")]
        )
        doc.spans[HUMAN_KEY] = _spans(doc, [(0, 2, "PER"), (3, 4, "LOC")])
        doc.spans[OMITTED_KEY] = _spans(doc, [(6, 7, "PER"), (8, 9, "LOC")])
        if i == 0:
            doc.spans[LLM_KEY] = _spans(doc, [(6, 7, "PER"), (6, 7, "ORG"), (8, 9, "MISC")])
            doc.spans[LLM_ADDED_KEY] = _spans(doc, [(6, 7, "PER")])
            doc.spans[LLM_REJECTED_KEY] = _spans(
                doc, [(6, 7, "ORG", "overlap_llm"), (8, 9, "MISC", "label_not_accepted")]
            )
            doc.set_ents(_spans(doc, [(0, 2, "PER"), (3, 4, "LOC"), (6, 7, "PER")]))
        else:
            doc.set_ents(_spans(doc, [(0, 2, "PER"), (3, 4, "LOC")]))
        docs.append(doc)
    return docs


def write_grid(
    grid_dir: Path,
    dataset: str = "wikigold",
    annotators: bool = True,
    run: bool = True,
    samples: int = 2,
) -> Path:
    """A complete dataset folder; returns the grid directory."""
    dataset_dir = grid_dir / dataset
    write_cells(dataset_dir)
    if annotators:
        write_annotators(dataset_dir)
    if run:
        write_run(dataset_dir)
    if samples:
        write_docbin(dataset_dir / "samples.spacy", sample_docs(samples))
    return grid_dir
