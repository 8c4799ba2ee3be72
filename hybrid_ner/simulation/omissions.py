"""Simulated human annotation with omissions (models ``uniform`` and ``hard``, docs/method.md)
and a limited budget: pure functions returning copies that keep what they take away as a span
group (an omission is not "no entity")."""

import random
from collections import Counter
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Sequence

from spacy.tokens import Doc, Span

from ..layers import DOC_ID, HUMAN_ANNOTATED, OMITTED_KEY, SENT_INDEX, UNANNOTATED_KEY


def doc_rng(doc: Doc, seed: int, purpose: str) -> random.Random:
    """A generator of the seed and the Doc only: the same noise whatever else is read."""
    doc_id, sent_index = doc.user_data.get(DOC_ID, ""), doc.user_data.get(SENT_INDEX, "")
    return random.Random(f"{purpose}:{seed}:{doc_id}:{sent_index}:{doc.text}")


OmissionModel = Literal["uniform", "hard"]
OMISSION_MODELS = ("uniform", "hard")
DEFAULT_OMISSION_MODEL: OmissionModel = "uniform"


def omit_entities(
    doc: Doc,
    omit_rate: float,
    seed: int,
    label_rates: Optional[Mapping[str, float]] = None,
    probabilities: Optional[Sequence[float]] = None,
) -> Doc:
    """A copy of ``doc`` without some entities (tokens "outside"), kept in ``doc.spans["omitted"]``:
    each dropped with ``omit_rate``, its label's rate or its own ``probabilities`` entry."""
    label_rates = dict(label_rates or {})
    for label, rate in [("*", omit_rate), *label_rates.items()]:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"Omission rate for {label} must be in [0, 1], got {rate}")
    rng = doc_rng(doc, seed, "omit")
    copy = doc.copy()
    kept: List[Span] = []
    dropped: List[Span] = []
    for i, e in enumerate(doc.ents):
        # Draw for every entity, so per-label rates do not shift the others' draws.
        draw = rng.random()
        rate = label_rates.get(e.label_, omit_rate) if probabilities is None else probabilities[i]
        span = Span(copy, e.start, e.end, label=e.label, kb_id=e.kb_id, span_id=e.id)
        (dropped if draw < rate else kept).append(span)
    if dropped:
        copy.set_ents(kept, outside=dropped, default="unmodified")
    previous = list(copy.spans[OMITTED_KEY]) if OMITTED_KEY in copy.spans else []
    copy.spans[OMITTED_KEY] = previous + dropped
    return copy


def hard_omission_probabilities(docs: Sequence[Doc], omit_rate: float) -> List[List[float]]:
    """The ``hard`` model's p(e) = min(1, c · w(e)) (docs/method.md), per Doc one per entity."""
    if not 0.0 <= omit_rate <= 1.0:
        raise ValueError(f"Omission rate must be in [0, 1], got {omit_rate}")
    forms = Counter(ent.text.lower() for doc in docs for ent in doc.ents)
    rarity: Dict[str, List[float]] = {}
    for doc in docs:
        for ent in doc.ents:
            rarity.setdefault(ent.label_, []).append(forms[ent.text.lower()] ** -0.5)
    # The label with the rarest surface forms on average (ties: by name).
    hardest = max(
        sorted(rarity), key=lambda label: sum(rarity[label]) / len(rarity[label]), default=None
    )
    weights = [
        [
            forms[ent.text.lower()] ** -0.5
            * (1 + (len(ent) - 1) / 2)
            * (1 if any(token.text[:1].isupper() for token in ent) else 2)
            * (1.5 if ent.label_ == hardest else 1)
            for ent in doc.ents
        ]
        for doc in docs
    ]
    flat = [w for row in weights for w in row]
    if not flat:
        return weights
    low, high = 0.0, 1.0 / min(flat)  # c = high drops every entity
    for _ in range(100):
        middle = (low + high) / 2
        if sum(min(1.0, middle * w) for w in flat) / len(flat) < omit_rate:
            low = middle
        else:
            high = middle
    return [[min(1.0, high * w) for w in row] for row in weights]


def simulate_omissions(
    docs: Iterable[Doc],
    omit_rate: float,
    seed: int,
    label_rates: Optional[Mapping[str, float]] = None,
    model: OmissionModel = DEFAULT_OMISSION_MODEL,
) -> List[Doc]:
    """Copies of the Docs after :func:`omit_entities` under an omission model."""
    docs = list(docs)
    if model == "uniform":
        return [omit_entities(doc, omit_rate, seed, label_rates) for doc in docs]
    if model != "hard":
        raise ValueError(f"Unknown omission model {model!r}: use {', '.join(OMISSION_MODELS)}")
    if label_rates:
        raise ValueError("Per-label omission rates work with the uniform model only")
    probabilities = hard_omission_probabilities(docs, omit_rate)
    return [omit_entities(doc, omit_rate, seed, None, p) for doc, p in zip(docs, probabilities)]


def simulate_budget(
    docs: Iterable[Doc], fraction: float, seed: int, selection: Optional[Any] = None
) -> List[Doc]:
    """Copies with human annotation on a fraction of the documents (by sentence if they are few),
    chosen by ``selection`` (default: seeded random); the others' entities become MISSING, kept
    in ``doc.spans["unannotated"]``."""
    from ..merge.selection import RandomSelection  # merge imports this module

    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"Budget fraction must be in [0, 1], got {fraction}")
    docs = list(docs)
    chosen = (selection or RandomSelection(seed)).choose(docs, fraction)
    annotated = {i for unit in chosen for i in unit.sentences}
    output = []
    for i, doc in enumerate(docs):
        copy = doc.copy()
        copy.user_data[HUMAN_ANNOTATED] = i in annotated
        if i not in annotated:
            copy.spans[UNANNOTATED_KEY] = list(copy.ents)
            copy.set_ents([], default="missing")
        output.append(copy)
    return output
