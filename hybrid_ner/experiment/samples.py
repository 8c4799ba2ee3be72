"""Sample sentences of a grid, every annotation layer side by side."""

from typing import List

from spacy.tokens import Doc, Span

from ..layers import LLM_ADDED_KEY, OMITTED_KEY
from ..merge.merger import Merger
from ..simulation.omissions import omit_entities
from .conditions import FOCUS_RATE
from .data import GridData

SAMPLES_FILE = "samples.spacy"


def sample_docs(data: GridData, seed: int, omit_rate: float = FOCUS_RATE, n: int = 10) -> List[Doc]:
    """``n`` sentences with every layer side by side: gold, human with
    omissions, LLM proposals, merged (``doc.ents``) with provenance groups;
    first those where the LLM filled a human omission."""
    merger = Merger()
    docs = [omit_entities(doc, omit_rate, seed) for doc in data.annotated(seed)]
    for original, doc in zip(data.annotated(seed), docs):
        doc.spans["gold"] = [Span(doc, e.start, e.end, label=e.label_) for e in original.ents]
    merger.merge_all(docs)

    def filled(doc: Doc) -> int:
        omitted = {(s.start, s.end, s.label_) for s in doc.spans.get(OMITTED_KEY, [])}
        added = doc.spans.get(LLM_ADDED_KEY, [])
        return sum((s.start, s.end, s.label_) in omitted for s in added)

    ranked = sorted(range(len(docs)), key=lambda i: (-min(filled(docs[i]), 2), i))
    return [docs[i] for i in ranked[:n]]
