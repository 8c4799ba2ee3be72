"""Write small, realistic grid result directories for the report tests.

Hand-computable numbers (three seeds, F1 values spaced 0.01 or 0.02):
at 40% omissions human-clean 0.820 ± 0.020, human-omit 0.620 ± 0.020,
hybrid-random 0.660 ± 0.010, hybrid-label-mixing 0.680 ± 0.028 (seed 2
missing), sim-hybrid-label-mixing 0.750 ± 0.020.
"""
from pathlib import Path
from typing import Dict, Iterable, Optional

import spacy
import srsly
from spacy.tokens import Doc, Span

from hybrid_ner.annotation_layers import DOC_ID, HUMAN_KEY, LLM_ADDED_KEY, LLM_KEY, LLM_REJECTED_KEY, OMITTED_KEY
from hybrid_ner.corpus import write_docbin

ANNOTATOR = {"none": "none", "llm": "llm", "sim": "simulated"}

# condition -> {omit_rate -> F1 per seed}; None = the cell is missing.
F1 = {
    "human-clean": {0.0: [0.80, 0.82, 0.84]},
    "human-omit": {0.2: [0.70, 0.71, 0.72], 0.4: [0.60, 0.62, 0.64]},
    "llm-only": {0.0: [0.30, 0.32, 0.34]},
    "hybrid-random": {0.2: [0.72, 0.73, 0.74], 0.4: [0.65, 0.66, 0.67]},
    "hybrid-label-mixing": {0.2: [0.74, 0.75, 0.76], 0.4: [0.66, 0.70, None]},
    "sim-hybrid-label-mixing": {0.2: [0.78, 0.79, 0.80], 0.4: [0.73, 0.75, 0.77]},
}
# condition -> {budget -> (F1 per seed, cost)}
BUDGET = {
    "human-budget": {0.5: ([0.70, 0.72], {"human": 40.0, "llm": 0.0, "total": 40.0})},
    "hybrid-budget": {0.5: ([0.74, 0.76], {"human": 40.0, "llm": 0.2, "total": 40.2})},
}


def cell(dataset: str, condition: str, rate: float, seed: int, f: float, budget: float = 1.0, cost: Optional[Dict] = None) -> Dict:
    """One cell file's content, per-label F1 0.05 above (LOC) and below (PER) the overall F1."""
    annotator = "simulated" if condition.startswith("sim-") else "llm" if "llm" in condition or "hybrid" in condition else "none"
    data = {
        "dataset": dataset, "condition": condition, "annotator": annotator, "omit_rate": rate, "budget": budget,
        "seed": seed, "scores": {"p": f + 0.02, "r": f - 0.02, "f": f, "per_type": {
            "LOC": {"p": f, "r": f, "f": round(f + 0.05, 4)}, "PER": {"p": f, "r": f, "f": round(f - 0.05, 4)}}},
        "train_sentences": 100, "steps": 50, "train_seconds": 3.0, "config": "configs/ner_soft_cpu.cfg",
    }
    if cost is not None:
        data["cost"] = cost
    elif condition == "human-clean":
        data["cost"] = {"human": 81.2, "llm": 0.0, "total": 81.2}
    if "label-mixing" in condition:
        data["lambdas"] = {"LOC": 0.14, "PER": 0.44}
    return data


def write_cells(dataset_dir: Path, f1: Dict = F1, budget: Dict = BUDGET) -> None:
    dataset = dataset_dir.name
    cells = dataset_dir / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    for condition, by_rate in f1.items():
        for rate, values in by_rate.items():
            for seed, f in enumerate(values):
                if f is not None:
                    srsly.write_json(cells / f"{condition}_omit{rate}_s{seed}.json", cell(dataset, condition, rate, seed, f))
    for condition, by_budget in budget.items():
        for fraction, (values, cost) in by_budget.items():
            for seed, f in enumerate(values):
                srsly.write_json(cells / f"{condition}_b{fraction}_s{seed}.json", cell(dataset, condition, 0.0, seed, f, fraction, cost))


def annotator_entry(name: str, simulated: bool, p: float, r: float) -> Dict:
    per_label = {label: {"p": p, "r": r, "f": round(2 * p * r / (p + r), 4), "tp": 10, "fp": 5, "fn": 7, "proposed": 15, "gold": 17} for label in ("LOC", "PER")}
    return {"name": name, "simulated": simulated, "overall": {"p": p, "r": r, "f": round(2 * p * r / (p + r), 4), "tp": 20, "fp": 10, "fn": 14, "proposed": 30},
            "per_label": per_label, "distribution": {"LOC": 0.47, "PER": 0.53}}


def write_annotators(dataset_dir: Path) -> None:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    srsly.write_json(dataset_dir / "annotators.json", {
        "dataset": dataset_dir.name, "sentences": 100, "gold_entities": 34, "gold_distribution": {"LOC": 0.3, "PER": 0.7},
        "annotators": {
            "llm": annotator_entry("embedded LLM qwen2.5-coder-0.5b-instruct (llama.cpp)", False, 0.31, 0.27),
            "simulated": annotator_entry("GPT-3.5-class annotator", True, 0.62, 0.58),
        },
        "usage": {"requests": 100, "prompt_tokens": 59000, "completion_tokens": 2300, "wall_seconds": 350.0},
        "costs": {"human_per_sentence": 0.06, "llm_price_in_per_1k": 0.0005, "llm_price_out_per_1k": 0.0015, "llm_all_sentences": 0.033},
    })


def write_run(dataset_dir: Path) -> None:
    srsly.write_json(dataset_dir / "run.json", {
        "commands": ["python -m spacy project run grid"], "wall_seconds": 5400, "started": "2026-11-29T00:00Z",
        "finished": "2026-11-29T01:30Z", "machine": "2 CPU cores"})


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
        doc.spans["gold"] = _spans(doc, [(0, 2, "PER"), (3, 4, "LOC"), (6, 7, "PER"), (8, 9, "LOC")])
        doc.spans[HUMAN_KEY] = _spans(doc, [(0, 2, "PER"), (3, 4, "LOC")])
        doc.spans[OMITTED_KEY] = _spans(doc, [(6, 7, "PER"), (8, 9, "LOC")])
        if i == 0:
            doc.spans[LLM_KEY] = _spans(doc, [(6, 7, "PER"), (6, 7, "ORG"), (8, 9, "MISC")])
            doc.spans[LLM_ADDED_KEY] = _spans(doc, [(6, 7, "PER")])
            doc.spans[LLM_REJECTED_KEY] = _spans(doc, [(6, 7, "ORG", "overlap_llm"), (8, 9, "MISC", "label_not_accepted")])
            doc.set_ents(_spans(doc, [(0, 2, "PER"), (3, 4, "LOC"), (6, 7, "PER")]))
        else:
            doc.set_ents(_spans(doc, [(0, 2, "PER"), (3, 4, "LOC")]))
        docs.append(doc)
    return docs


def write_grid(grid_dir: Path, dataset: str = "wikigold", annotators: bool = True, run: bool = True, samples: int = 2) -> Path:
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
