"""Seeded train/dev/test splits by document for corpora that have none."""

import random
from collections import Counter
from typing import Dict, Iterable, List

from spacy.tokens import Doc
from wasabi import msg

from ..layers import DOC_ID


def split_by_document(
    docs: Iterable[Doc], fractions: Dict[str, float], seed: int
) -> Dict[str, List[Doc]]:
    """Split sentence Docs into named parts without cutting a document: shuffled documents
    are handed out so that each part gets close to its share of *sentences*, each part at
    least one document. With too few documents or no ``doc_id`` it splits by sentence.
    RAISES (ValueError): For bad fractions or fewer sentences than parts.
    """
    if abs(sum(fractions.values()) - 1.0) > 1e-6 or any(f < 0 for f in fractions.values()):
        raise ValueError(f"Split fractions must be non-negative and sum to 1, got {fractions}")
    docs = list(docs)
    names = [name for name, f in fractions.items() if f > 0]
    units = [doc.user_data.get(DOC_ID) for doc in docs]
    doc_ids = list(dict.fromkeys(units))
    if None in doc_ids or len(doc_ids) < len(names):
        if len(docs) < len(names):
            raise ValueError(f"Only {len(docs)} sentence(s) for {len(names)} parts")
        why = f"{len(doc_ids)} document(s) for {len(names)} parts (no -DOCSTART-?)"
        msg.warn(
            f"Split by sentence: {'some Docs have no document id' if None in doc_ids else why}"
        )
        units = [f"sentence:{i}" for i in range(len(docs))]
        doc_ids = list(units)  # shuffled below; units keep corpus order
    random.Random(f"split:{seed}").shuffle(doc_ids)
    sizes = Counter(units)
    part, n_in_part, filled = 0, 0, 0
    target = fractions[names[0]] * len(docs)
    assignment: Dict[str, str] = {}
    for i, doc_id in enumerate(doc_ids):
        # Move on once this part is full (counting half of the next document, so
        # the rounding is fair), or when the later parts need what is left.
        if (
            part < len(names) - 1
            and n_in_part > 0
            and (filled + sizes[doc_id] / 2 > target or len(doc_ids) - i <= len(names) - part - 1)
        ):
            part, n_in_part = part + 1, 0
            target += fractions[names[part]] * len(docs)
        assignment[doc_id] = names[part]
        filled += sizes[doc_id]
        n_in_part += 1
    parts: Dict[str, List[Doc]] = {name: [] for name in fractions}
    for doc, unit in zip(docs, units):
        parts[assignment[unit]].append(doc)
    return parts
