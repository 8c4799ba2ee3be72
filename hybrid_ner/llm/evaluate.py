"""Proposal quality: precision, recall and F1 of a span group against
``doc.ents``, per label and overall (exact span and label match), in the
compact form the evaluation scripts print. The counting is
:func:`hybrid_ner.proposal_quality.proposal_quality`'s."""
from typing import Dict, Iterable, List

from spacy.tokens import Doc

from ..layers import LLM_KEY
from ..proposal_quality import proposal_quality

#: The keys of one row of :func:`score_proposals`.
_ROW_KEYS = ("tp", "fp", "fn")


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
    return {**{key: round(row[key], 4) for key in ("p", "r", "f")}, **{key: row[key] for key in _ROW_KEYS}}
