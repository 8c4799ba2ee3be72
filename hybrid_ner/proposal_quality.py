"""How good a set of proposals is, measured against gold entities.

Exact-match precision, recall and F1 per label and overall, plus the class
distribution of the proposals: what the report shows for the LLM and the
simulated annotator, and what explains the class imbalance label mixing
corrects.
"""
from typing import Dict, Iterable, Mapping, Set, Tuple

from spacy.tokens import Doc

from .merge.reliability import span_key


def _prf(tp: int, fp: int, fn: int) -> Dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


def proposal_quality(docs: Iterable[Doc], spans_key: str, gold_key: str = "") -> Dict[str, object]:
    """Exact-match quality of ``doc.spans[spans_key]`` against the gold.

    docs (Iterable[Doc]): Docs with gold entities and proposals.
    spans_key (str): Span group of the proposals (duplicates count once).
    gold_key (str): Span group with the gold entities; "" for ``doc.ents``.
    RETURNS (Dict[str, object]): ``overall`` and ``per_label`` (p, r, f, tp,
        fp, fn, proposed, gold) and ``distribution`` (share of each label
        among the proposals) and ``gold_distribution``.
    """
    counts: Dict[str, Dict[str, int]] = {}

    def row(label: str) -> Dict[str, int]:
        return counts.setdefault(label, {"tp": 0, "fp": 0, "fn": 0, "proposed": 0, "gold": 0})

    for doc in docs:
        gold_spans = doc.spans[gold_key] if gold_key else doc.ents
        gold: Set[Tuple[int, int, str]] = {span_key(s) for s in gold_spans}
        proposed = {span_key(s) for s in doc.spans[spans_key]} if spans_key in doc.spans else set()
        for key in gold:
            row(key[2])["gold"] += 1
            if key not in proposed:
                row(key[2])["fn"] += 1
        for key in proposed:
            r = row(key[2])
            r["proposed"] += 1
            r["tp" if key in gold else "fp"] += 1
    per_label = {label: {**_prf(c["tp"], c["fp"], c["fn"]), **c} for label, c in sorted(counts.items())}
    totals = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn", "proposed", "gold")}
    return {
        "overall": {**_prf(totals["tp"], totals["fp"], totals["fn"]), **totals},
        "per_label": per_label,
        "distribution": _shares({label: c["proposed"] for label, c in counts.items()}),
        "gold_distribution": _shares({label: c["gold"] for label, c in counts.items()}),
    }


def _shares(counts: Mapping[str, int]) -> Dict[str, float]:
    total = sum(counts.values())
    return {label: (count / total if total else 0.0) for label, count in sorted(counts.items())}
