"""Simulate what the paper studies: human annotation with omissions, and a
limited annotation budget.

Pure functions over Docs. They return changed copies and never touch the
text or tokens; what they take away stays on the Doc as a span group, so
later analysis can tell an omission from a real "no entity".

Omission models (``OMISSION_MODELS``):

* ``uniform``: every entity is dropped with the same probability (or its
  label's, with per-label rates);
* ``hard``: entities a real annotator misses are dropped more often. Each
  gold entity e gets a hardness weight

      w(e) = f(e)^(-1/2) · (1 + (len(e) − 1) / 2) · (2 if lowercase) · (1.5 if hardest label)

  with f(e) the number of gold entities of the corpus with the same
  (lowercased) surface form (rare forms are missed more), len(e) its length
  in tokens, "lowercase" when none of its tokens starts with an uppercase
  letter, and the hardest label the one whose entities have the rarest
  surface forms on average (MISC on CoNLL-2003 and WikiGold). The omission
  probability is p(e) = min(1, c · w(e)) with c chosen (by bisection) so that
  the mean of p(e) over the corpus equals the requested rate: the overall
  rate is the uniform model's, its distribution is not. The weights depend
  on the whole corpus, so a Doc's omissions do too (the draws stay seeded
  per Doc).
"""

import random
from collections import Counter
from typing import Dict, Iterable, List, Literal, Mapping, Optional, Sequence

from spacy.tokens import Doc, Span
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


OmissionModel = Literal["uniform", "hard"]
#: The omission models, see the module docstring.
OMISSION_MODELS = ("uniform", "hard")
#: The model of ``hybrid-ner noise`` and the grid unless told otherwise.
DEFAULT_OMISSION_MODEL: OmissionModel = "uniform"
#: Factors of the ``hard`` model's weight (module docstring).
_LENGTH_FACTOR = 0.5
_LOWERCASE_FACTOR = 2.0
_HARDEST_LABEL_FACTOR = 1.5


def omit_entities(
    doc: Doc,
    omit_rate: float,
    seed: int,
    label_rates: Optional[Mapping[str, float]] = None,
    probabilities: Optional[Sequence[float]] = None,
) -> Doc:
    """Drop each entity of ``doc.ents`` with a probability, like a human who
    overlooks entities.

    doc (Doc): The Doc with gold entities. It is not changed.
    omit_rate (float): Probability of dropping an entity.
    seed (int): Random seed.
    label_rates (Optional[Mapping[str, float]]): Per-label probabilities that
        override ``omit_rate``.
    probabilities (Optional[Sequence[float]]): One probability per entity of
        ``doc.ents`` (e.g. from :func:`hard_omission_probabilities`); overrides
        both rates.
    RETURNS (Doc): A copy whose ``doc.ents`` lacks the dropped entities (their
        tokens become "outside", like a real omission) and whose
        ``doc.spans["omitted"]`` holds them.
    """
    label_rates = dict(label_rates or {})
    for label, rate in [("*", omit_rate), *label_rates.items()]:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"Omission rate for {label} must be in [0, 1], got {rate}")
    if probabilities is not None and len(probabilities) != len(doc.ents):
        raise ValueError(
            f"{len(probabilities)} omission probabilities for {len(doc.ents)} entities"
        )
    rng = doc_rng(doc, seed, "omit")
    kept, dropped = [], []
    for i, ent in enumerate(doc.ents):
        # Draw for every entity, so per-label rates do not shift the others' draws.
        draw = rng.random()
        rate = (
            probabilities[i]
            if probabilities is not None
            else label_rates.get(ent.label_, omit_rate)
        )
        (dropped if draw < rate else kept).append(ent)
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


def _surface(ent: Span) -> str:
    return ent.text.lower()


def hardness_weights(docs: Sequence[Doc]) -> List[List[float]]:
    """The ``hard`` model's weight w(e) of every entity (module docstring).

    docs (Sequence[Doc]): The corpus, gold entities in ``doc.ents``.
    RETURNS (List[List[float]]): Per Doc, one weight per entity of ``doc.ents``.
    """
    forms = Counter(_surface(ent) for doc in docs for ent in doc.ents)
    rarity: Dict[str, List[float]] = {}
    for doc in docs:
        for ent in doc.ents:
            rarity.setdefault(ent.label_, []).append(forms[_surface(ent)] ** -0.5)
    # The label with the rarest surface forms on average (ties: by name).
    hardest = max(sorted(rarity), key=lambda label: sum(rarity[label]) / len(rarity[label]))
    weights = []
    for doc in docs:
        row = []
        for ent in doc.ents:
            weight = forms[_surface(ent)] ** -0.5 * (1 + _LENGTH_FACTOR * (len(ent) - 1))
            if not any(token.text[:1].isupper() for token in ent):
                weight *= _LOWERCASE_FACTOR
            if ent.label_ == hardest:
                weight *= _HARDEST_LABEL_FACTOR
            row.append(weight)
        weights.append(row)
    return weights


def hard_omission_probabilities(docs: Sequence[Doc], omit_rate: float) -> List[List[float]]:
    """Per entity, p(e) = min(1, c · w(e)) with the mean of p(e) equal to ``omit_rate``.

    docs (Sequence[Doc]): The corpus, gold entities in ``doc.ents``.
    omit_rate (float): The overall omission rate, in [0, 1].
    RETURNS (List[List[float]]): Per Doc, one probability per entity.
    """
    if not 0.0 <= omit_rate <= 1.0:
        raise ValueError(f"Omission rate must be in [0, 1], got {omit_rate}")
    weights = hardness_weights(docs)
    flat = [w for row in weights for w in row]
    if not flat:
        return weights
    low, high = 0.0, 1.0 / min(flat)  # c = high drops every entity

    def mean_rate(scale: float) -> float:
        return sum(min(1.0, scale * w) for w in flat) / len(flat)

    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if mean_rate(middle) < omit_rate else (low, middle)
    return [[min(1.0, high * w) for w in row] for row in weights]


def simulate_omissions(
    docs: Iterable[Doc],
    omit_rate: float,
    seed: int,
    label_rates: Optional[Mapping[str, float]] = None,
    model: OmissionModel = DEFAULT_OMISSION_MODEL,
) -> List[Doc]:
    """Apply :func:`omit_entities` to every Doc, under an omission model.

    docs (Iterable[Doc]): The corpus, gold entities in ``doc.ents``.
    omit_rate (float): The overall omission rate.
    seed (int): Random seed.
    label_rates (Optional[Mapping[str, float]]): Per-label rates (``uniform`` only).
    model (OmissionModel): "uniform" or "hard" (module docstring).
    RETURNS (List[Doc]): Changed copies, in the input order.
    """
    docs = list(docs)
    if model == "uniform":
        return [omit_entities(doc, omit_rate, seed, label_rates) for doc in docs]
    if model != "hard":
        raise ValueError(f"Unknown omission model {model!r}: use {', '.join(OMISSION_MODELS)}")
    if label_rates:
        raise ValueError("Per-label omission rates work with the uniform model only")
    probabilities = hard_omission_probabilities(docs, omit_rate)
    return [omit_entities(doc, omit_rate, seed, None, p) for doc, p in zip(docs, probabilities)]


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
