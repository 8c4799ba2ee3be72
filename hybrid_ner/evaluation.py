"""Scoring, in one place: trained models (the metrics files ``spacy evaluate``
writes) and proposals (a span group against gold entities: exact-match
precision, recall and F1 per label and overall, and the class distribution
that explains the imbalance label mixing corrects)."""

from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple, Union

import srsly
from spacy.tokens import Doc

from .errors import HybridNerError
from .layers import LLM_KEY
from .merge.reliability import span_key
from .merge.stats import class_distribution

#: The count keys of one row of :func:`score_proposals`.
_ROW_KEYS = ("tp", "fp", "fn")


def read_entity_scores(path: Union[str, Path]) -> Dict[str, Dict[str, float]]:
    """Overall and per-label entity P/R/F1 from a ``spacy evaluate`` JSON file.

    path (Union[str, Path]): The metrics file.
    RETURNS (Dict[str, Dict[str, float]]): ``{"ALL": {"p", "r", "f"}, LABEL: {...}}``.
    RAISES (HybridNerError): If the file is missing or has no entity scores.
    """
    path = Path(path)
    try:
        metrics = srsly.read_json(path)
    except (OSError, ValueError) as err:
        raise HybridNerError(f"{path}: cannot read metrics ({err})") from None
    if "ents_f" not in metrics:
        raise HybridNerError(
            f"{path}: no entity scores (ents_p/ents_r/ents_f); is it from spacy evaluate?"
        )
    scores = {"ALL": {"p": metrics["ents_p"], "r": metrics["ents_r"], "f": metrics["ents_f"]}}
    for label, values in sorted((metrics.get("ents_per_type") or {}).items()):
        scores[label] = {k: values[k] for k in ("p", "r", "f")}
    return scores


def score_rows(paths: List[Path]) -> Tuple[List[str], List[List[str]]]:
    """A table of F1 (P/R) per label, one row per metrics file."""
    all_scores = {path: read_entity_scores(path) for path in paths}
    labels = sorted({label for s in all_scores.values() for label in s if label != "ALL"})
    header = ["run", "ALL"] + labels
    rows = []
    for path, scores in all_scores.items():
        cells = [path.stem]
        for label in ["ALL"] + labels:
            s = scores.get(label)
            cells.append(f"{s['f']:.3f} ({s['p']:.2f}/{s['r']:.2f})" if s else "-")
        rows.append(cells)
    return header, rows


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
    per_label = {
        label: {**_prf(c["tp"], c["fp"], c["fn"]), **c} for label, c in sorted(counts.items())
    }
    totals = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn", "proposed", "gold")}
    return {
        "overall": {**_prf(totals["tp"], totals["fp"], totals["fn"]), **totals},
        "per_label": per_label,
        "distribution": class_distribution({label: c["proposed"] for label, c in counts.items()}),
        "gold_distribution": class_distribution({label: c["gold"] for label, c in counts.items()}),
    }


def has_gold(doc: Doc) -> bool:
    """Whether ``doc.ents`` is a complete annotation (no MISSING token)."""
    return all(token.ent_iob != 0 for token in doc)


def scorable(docs: Iterable[Doc]) -> List[Doc]:
    """The Docs whose entity annotation is complete: the others cannot say
    whether a proposal is right."""
    return [doc for doc in docs if has_gold(doc)]


def score_proposals(docs: Iterable[Doc], spans_key: str = LLM_KEY) -> Dict[str, Dict[str, float]]:
    """Score ``doc.spans[spans_key]`` against ``doc.ents``.

    Overlapping proposals are all scored: each one not in the gold is a
    false positive. Docs whose entity annotation is missing are skipped.

    docs (Iterable[Doc]): Docs with gold entities and proposals.
    spans_key (str): The proposals' span group.
    RETURNS (Dict[str, Dict[str, float]]): Per label and "ALL": p, r, f
        (rounded to 4 digits), tp, fp, fn.
    """
    quality = proposal_quality(scorable(docs), spans_key)
    rows = {**quality["per_label"], "ALL": quality["overall"]}  # type: ignore[dict-item]
    return {label: _compact(row) for label, row in rows.items()}


def _compact(row: Dict[str, float]) -> Dict[str, float]:
    return {
        **{key: round(row[key], 4) for key in ("p", "r", "f")},
        **{key: row[key] for key in _ROW_KEYS},
    }
