"""Proposal quality: precision, recall and F1 of a span group against
``doc.ents``, per label and overall (exact span and label match)."""
from collections import Counter
from typing import Dict, Iterable

from spacy.tokens import Doc

from ..annotation_layers import LLM_KEY


def score_proposals(docs: Iterable[Doc], spans_key: str = LLM_KEY) -> Dict[str, Dict[str, float]]:
    """Score ``doc.spans[spans_key]`` against ``doc.ents``.

    Overlapping proposals are all scored: each one not in the gold is a
    false positive. Docs whose entity annotation is missing are skipped.

    docs (Iterable[Doc]): Docs with gold entities and proposals.
    spans_key (str): The proposals' span group.
    RETURNS (Dict[str, Dict[str, float]]): Per label and "ALL": p, r, f,
        tp, fp, fn.
    """
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    for doc in docs:
        if any(token.ent_iob == 0 for token in doc):
            continue
        gold = {(e.start, e.end, e.label_) for e in doc.ents}
        proposed = {(s.start, s.end, s.label_) for s in doc.spans.get(spans_key, [])}
        for _, _, label in proposed & gold:
            tp[label] += 1
        for _, _, label in proposed - gold:
            fp[label] += 1
        for _, _, label in gold - proposed:
            fn[label] += 1
    scores = {label: _prf(tp[label], fp[label], fn[label]) for label in sorted(set(tp) | set(fp) | set(fn))}
    scores["ALL"] = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return scores


def _prf(tp: int, fp: int, fn: int) -> Dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": round(p, 4), "r": round(r, 4), "f": round(f, 4), "tp": tp, "fp": fp, "fn": fn}
