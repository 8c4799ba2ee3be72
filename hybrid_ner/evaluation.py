"""Scores of trained models (``spacy evaluate`` metrics) and of proposals (exact match)."""

from pathlib import Path
from typing import Dict, Iterable, List, Tuple, Union

import srsly
from spacy.tokens import Doc

from .errors import HybridNerError
from .merge.reliability import span_key
from .merge.stats import class_distribution

_COUNTS = ("tp", "fp", "fn", "proposed", "gold")


def read_entity_scores(path: Union[str, Path]) -> Dict[str, Dict[str, float]]:
    """Overall ("ALL") and per-label entity p/r/f from a ``spacy evaluate`` JSON file."""
    path = Path(path)
    try:
        metrics = srsly.read_json(path)
    except (OSError, ValueError) as err:
        raise HybridNerError(f"{path}: cannot read metrics ({err})") from None
    if "ents_f" not in metrics:
        raise HybridNerError(f"{path}: no entity scores (ents_f); is it from spacy evaluate?")
    scores = {"ALL": {"p": metrics["ents_p"], "r": metrics["ents_r"], "f": metrics["ents_f"]}}
    for label, values in sorted((metrics.get("ents_per_type") or {}).items()):
        scores[label] = {k: values[k] for k in ("p", "r", "f")}
    return scores


def score_rows(paths: List[Path]) -> Tuple[List[str], List[List[str]]]:
    """A table of F1 (P/R) per label, one row per metrics file."""
    all_scores = {path: read_entity_scores(path) for path in paths}
    labels = ["ALL"] + sorted({label for s in all_scores.values() for label in s} - {"ALL"})
    rows = []
    for path, scores in all_scores.items():
        cells = [
            f"{s['f']:.3f} ({s['p']:.2f}/{s['r']:.2f})" if s else "-"
            for s in (scores.get(label) for label in labels)
        ]
        rows.append([path.stem] + cells)
    return ["run"] + labels, rows


def _prf(counts: Dict[str, int]) -> Dict[str, float]:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"p": p, "r": r, "f": 2 * p * r / (p + r) if p + r else 0.0, **counts}


def proposal_quality(docs: Iterable[Doc], spans_key: str, gold_key: str = "") -> Dict[str, object]:
    """Exact-match quality of ``doc.spans[spans_key]`` against ``doc.spans[gold_key]``
    (``doc.ents`` for ""): overall, per label, and both class distributions."""
    counts: Dict[str, Dict[str, int]] = {}
    for doc in docs:
        gold = {span_key(s) for s in (doc.spans[gold_key] if gold_key else doc.ents)}
        proposed = {span_key(s) for s in doc.spans[spans_key]} if spans_key in doc.spans else set()
        for key in gold | proposed:
            row = counts.setdefault(key[2], dict.fromkeys(_COUNTS, 0))
            row["gold"] += key in gold
            row["proposed"] += key in proposed
            row["tp" if key in gold and key in proposed else "fn" if key in gold else "fp"] += 1
    totals = {k: sum(c[k] for c in counts.values()) for k in _COUNTS}
    return {
        "overall": _prf(totals),
        "per_label": {label: _prf(c) for label, c in sorted(counts.items())},
        "distribution": class_distribution({label: c["proposed"] for label, c in counts.items()}),
        "gold_distribution": class_distribution({label: c["gold"] for label, c in counts.items()}),
    }


def scorable(docs: Iterable[Doc]) -> List[Doc]:
    """The Docs with no missing token: only they can say whether a proposal is right."""
    return [doc for doc in docs if all(token.ent_iob != 0 for token in doc)]
