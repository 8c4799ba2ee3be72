"""Per-label trust in the LLM against the human on Docs both annotated (a lower bound)."""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from spacy.tokens import Doc, Span

from ..layers import HUMAN_ANNOTATED, HUMAN_KEY, LLM_KEY

#: Prior of the smoothed per-label precision (and λ of labels without statistics).
DEFAULT_PRIOR = 0.5
#: Weight of that prior, in pseudo-proposals.
DEFAULT_PRIOR_STRENGTH = 2.0


@dataclass(frozen=True)
class LabelStats:
    """Human entities, distinct proposals, and proposals equal to a human entity."""

    human: int = 0
    proposed: int = 0
    matched: int = 0

    def precision(
        self, prior: float = DEFAULT_PRIOR, strength: float = DEFAULT_PRIOR_STRENGTH
    ) -> float:
        """Precision smoothed towards ``prior`` (``strength`` 0: raw, 0 without proposals)."""
        total = self.proposed + strength
        return (self.matched + prior * strength) / total if total else 0.0


def is_human_annotated(doc: Doc) -> bool:
    """False only for Docs the budget simulation (or a user) marked unannotated."""
    return doc.user_data.get(HUMAN_ANNOTATED, True) is not False


def human_spans(doc: Doc) -> List[Span]:
    """The human entities: ``doc.spans["human"]`` once merged (merging twice keeps them
    apart from LLM ones), else ``doc.ents``; none for a Doc the human did not annotate."""
    if HUMAN_KEY in doc.spans:
        return list(doc.spans[HUMAN_KEY])
    return list(doc.ents) if is_human_annotated(doc) else []


def span_key(span: Span) -> Tuple[int, int, str]:
    """The span as (start, end, label): what identifies an entity."""
    return (span.start, span.end, span.label_)


def estimate_label_stats(docs: Iterable[Doc], llm_key: str = LLM_KEY) -> Dict[str, LabelStats]:
    """Per-label counts (sorted) over the Docs with a human annotation and proposals."""
    counts: Dict[str, List[int]] = {}
    for doc in docs:
        if llm_key not in doc.spans or not is_human_annotated(doc):
            continue
        human = {span_key(s) for s in human_spans(doc)}
        for _, _, label in human:
            counts.setdefault(label, [0, 0, 0])[0] += 1
        for key in {span_key(s) for s in doc.spans[llm_key]}:
            row = counts.setdefault(key[2], [0, 0, 0])
            row[1] += 1
            row[2] += key in human
    return {label: LabelStats(*row) for label, row in sorted(counts.items())}
