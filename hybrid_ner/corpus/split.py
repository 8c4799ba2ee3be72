"""Seeded document-level train/dev/test splits for corpora that have none
(sentence-level when the corpus has too few documents)."""

import random
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Sequence

from spacy.tokens import Doc
from wasabi import msg

from ..layers import DOC_ID


def split_by_document(
    docs: Iterable[Doc],
    fractions: Dict[str, float],
    seed: int,
) -> Dict[str, List[Doc]]:
    """Split sentence Docs into named parts so that no document is cut.

    docs (Iterable[Doc]): Sentence Docs, with ``doc.user_data["doc_id"]``.
    fractions (Dict[str, float]): Part name → fraction of the sentences; must
        sum to 1. Parts get close to their share of sentences, and every part
        with a positive fraction gets at least one document.
    seed (int): Random seed for the assignment of documents.
    RETURNS (Dict[str, List[Doc]]): The parts, each in corpus order.

    With fewer documents than parts (a CoNLL file without ``-DOCSTART-``
    lines is one document), or Docs without document ids, the split falls
    back to single sentences and says so in a one-line warning: sentences of
    one document may then land in different parts.
    """
    if abs(sum(fractions.values()) - 1.0) > 1e-6 or any(f < 0 for f in fractions.values()):
        raise ValueError(f"Split fractions must be non-negative and sum to 1, got {fractions}")
    docs = list(docs)
    wanted = [name for name, f in fractions.items() if f > 0]
    units = [doc.user_data.get(DOC_ID) for doc in docs]
    doc_ids = list(dict.fromkeys(units))
    if None in doc_ids or len(doc_ids) < len(wanted):
        if len(docs) < len(wanted):
            raise ValueError(f"Only {len(docs)} sentence(s) for {len(wanted)} parts")
        # Short enough for one line of wasabi's 80 columns.
        why = (
            "some Docs have no document id"
            if None in doc_ids
            else f"{len(doc_ids)} document(s) for {len(wanted)} parts (no -DOCSTART-?)"
        )
        msg.warn(f"Split by sentence: {why}")
        units = [f"sentence:{i}" for i in range(len(docs))]
        doc_ids = list(units)
    random.Random(f"split:{seed}").shuffle(doc_ids)
    sizes = Counter(units)
    assignment = _assign_by_sentences(doc_ids, sizes, fractions)
    parts: Dict[str, List[Doc]] = {name: [] for name in fractions}
    for doc, unit in zip(docs, units):
        parts[assignment[unit]].append(doc)
    return parts


def _assign_by_sentences(
    doc_ids: Sequence[str], sizes: Mapping[str, int], fractions: Dict[str, float]
) -> Dict[str, str]:
    """Hand out shuffled documents so that each part gets close to its share
    of *sentences* (documents differ a lot in length), and every part with a
    positive fraction gets at least one document."""
    names = [name for name, f in fractions.items() if f > 0]
    total = sum(sizes.values())
    assignment: Dict[str, str] = {}
    part, filled, target, n_in_part = 0, 0, fractions[names[0]] * total, 0
    for i, doc_id in enumerate(doc_ids):
        docs_left, parts_left = len(doc_ids) - i, len(names) - part - 1
        # Move on once this part is full (counting half of the next document,
        # so the rounding is fair), or when the later parts need what is left.
        if (
            part < len(names) - 1
            and n_in_part > 0
            and (filled + sizes[doc_id] / 2 > target or docs_left <= parts_left)
        ):
            part, n_in_part = part + 1, 0
            target += fractions[names[part]] * total
        assignment[doc_id] = names[part]
        filled += sizes[doc_id]
        n_in_part += 1
    return assignment
