"""Simulate what the paper studies: human annotation with omissions, and a
limited annotation budget.

Pure functions over Docs. They return changed copies and never touch the
text or tokens; what they take away stays on the Doc as a span group, so
later analysis can tell an omission from a real "no entity".
"""

import random
from typing import Callable, Dict, Iterable, List, Mapping, Optional

from spacy.tokens import Doc, Span
from spacy.util import registry
from wasabi import msg

from ..layers import (
    DOC_ID,
    HUMAN_ANNOTATED,
    OMITTED_KEY,
    SENT_INDEX,
    UNANNOTATED_KEY,
)


def doc_rng(doc: Doc, seed: int, purpose: str) -> random.Random:
    """A random generator that depends only on the seed and the Doc itself.

    So a sentence gets the same noise whatever else is in the corpus and in
    whatever order it is read (subsets, shuffling, streaming readers).
    """
    doc_id, sent_index = doc.user_data.get(DOC_ID, ""), doc.user_data.get(SENT_INDEX, "")
    key = f"{purpose}:{seed}:{doc_id}:{sent_index}:{doc.text}"
    return random.Random(key)


def _on(doc: Doc, span: Span) -> Span:
    """The same span, label included, on another Doc with the same tokens."""
    return Span(doc, span.start, span.end, label=span.label, kb_id=span.kb_id, span_id=span.id)


def omit_entities(
    doc: Doc,
    omit_rate: float,
    seed: int,
    label_rates: Optional[Mapping[str, float]] = None,
) -> Doc:
    """Drop each entity of ``doc.ents`` with a probability, like a human who
    overlooks entities.

    doc (Doc): The Doc with gold entities. It is not changed.
    omit_rate (float): Probability of dropping an entity.
    seed (int): Random seed.
    label_rates (Optional[Mapping[str, float]]): Per-label probabilities that
        override ``omit_rate``.
    RETURNS (Doc): A copy whose ``doc.ents`` lacks the dropped entities (their
        tokens become "outside", like a real omission) and whose
        ``doc.spans["omitted"]`` holds them.
    """
    label_rates = dict(label_rates or {})
    for label, rate in [("*", omit_rate), *label_rates.items()]:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"Omission rate for {label} must be in [0, 1], got {rate}")
    rng = doc_rng(doc, seed, "omit")
    kept, dropped = [], []
    for ent in doc.ents:
        # Draw for every entity, so per-label rates do not shift the others' draws.
        draw = rng.random()
        (dropped if draw < label_rates.get(ent.label_, omit_rate) else kept).append(ent)
    copy = doc.copy()
    if dropped:
        copy.set_ents(
            [_on(copy, e) for e in kept],
            outside=[_on(copy, e) for e in dropped],
            default="unmodified",
        )
    previous = list(copy.spans[OMITTED_KEY]) if OMITTED_KEY in copy.spans else []
    copy.spans[OMITTED_KEY] = previous + [_on(copy, e) for e in dropped]
    return copy


def simulate_omissions(
    docs: Iterable[Doc],
    omit_rate: float,
    seed: int,
    label_rates: Optional[Mapping[str, float]] = None,
) -> List[Doc]:
    """Apply :func:`omit_entities` to every Doc."""
    return [omit_entities(doc, omit_rate, seed, label_rates) for doc in docs]


def simulate_budget(docs: Iterable[Doc], fraction: float, seed: int) -> List[Doc]:
    """Keep human annotation on a seeded fraction of the *documents* only.

    The other documents become unannotated: their entity annotation is
    MISSING (the NER loss ignores it), not "no entity"; their entities are
    kept in ``doc.spans["unannotated"]`` for analysis. Every Doc gets
    ``doc.user_data["human_annotated"]``.

    docs (Iterable[Doc]): Sentence Docs with ``doc_id`` in ``user_data`` (a
        Doc without one counts as a document of its own).
    fraction (float): Fraction of documents that keep annotation, in [0, 1].
    seed (int): Random seed.
    RETURNS (List[Doc]): Changed copies, in the input order.

    When whole documents cannot come near the fraction (a budget between 0
    and 1 that would keep none or all of them, e.g. a corpus without
    ``-DOCSTART-`` lines, which is one document), the budget falls back to
    single sentences and says so in a one-line warning.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"Budget fraction must be in [0, 1], got {fraction}")
    docs = list(docs)
    units = [doc.user_data.get(DOC_ID, str(i)) for i, doc in enumerate(docs)]
    doc_ids = list(dict.fromkeys(units))
    n_kept = round(fraction * len(doc_ids))
    if (
        0.0 < fraction < 1.0
        and n_kept in (0, len(doc_ids))
        and 0 < round(fraction * len(docs)) < len(docs)
    ):
        # Short enough for one line of wasabi's 80 columns.
        msg.warn(
            f"Budget by sentence: {fraction:g} of {len(doc_ids)} document(s) rounds to {n_kept}"
        )
        units = [f"sentence:{i}" for i in range(len(docs))]
        doc_ids = list(units)
    random.Random(f"budget:{seed}").shuffle(doc_ids)
    annotated = set(doc_ids[: round(fraction * len(doc_ids))])
    output = []
    for doc, unit in zip(docs, units):
        copy = doc.copy()
        is_annotated = unit in annotated
        copy.user_data[HUMAN_ANNOTATED] = is_annotated
        if not is_annotated:
            copy.spans[UNANNOTATED_KEY] = list(copy.ents)
            copy.set_ents([], default="missing")
        output.append(copy)
    return output


@registry.misc("hybrid_ner.omit_entities.v1")
def create_omit_entities(
    omit_rate: float = 0.4, seed: int = 0, label_rates: Dict[str, float] = {}
) -> Callable[[Doc], Doc]:
    """Registered Doc → Doc omission simulation, for readers in configs."""

    def apply(doc: Doc) -> Doc:
        return omit_entities(doc, omit_rate, seed, label_rates)

    return apply
