"""How far the LLM can be trusted, per label, measured against the human.

Counts come only from Docs that both a human and the LLM annotated
(``doc.user_data["human_annotated"]`` is not ``False`` and the Doc has an LLM
span group). Because the human has omissions, an LLM span that matches an
omitted entity counts as a false positive: the precision estimated here is a
lower bound of the LLM's true precision. The merge uses it as a reliability
threshold; label mixing uses it, with the production ratio, to set λ.
"""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Set, Tuple

from spacy.tokens import Doc, Span

from ..layers import HUMAN_ANNOTATED, HUMAN_KEY, LLM_KEY

#: Prior precision the LLM's per-label precision is smoothed towards (also
#: the λ of labels label mixing has no statistics for).
DEFAULT_PRIOR = 0.5
#: Weight of that prior, in pseudo-proposals.
DEFAULT_PRIOR_STRENGTH = 2.0


@dataclass(frozen=True)
class LabelStats:
    """Counts for one label over the Docs annotated by both the human and the LLM.

    human (int): Human entities with the label.
    proposed (int): Distinct LLM proposals (start, end, label) with the label.
    matched (int): Proposals identical to a human entity (boundaries and label).
    """

    human: int = 0
    proposed: int = 0
    matched: int = 0

    def precision(
        self, prior: float = DEFAULT_PRIOR, strength: float = DEFAULT_PRIOR_STRENGTH
    ) -> float:
        """The LLM's precision against the human, smoothed towards ``prior``
        with the weight of ``strength`` pseudo-proposals (so a label seen twice
        is not trusted blindly)."""
        return (self.matched + prior * strength) / (self.proposed + strength)

    def recall(self) -> float:
        """The share of human entities the LLM also proposed (0 if none)."""
        return self.matched / self.human if self.human else 0.0


def is_human_annotated(doc: Doc) -> bool:
    """False only for Docs the budget simulation (or a user) marked unannotated."""
    return doc.user_data.get(HUMAN_ANNOTATED, True) is not False


def human_spans(doc: Doc) -> List[Span]:
    """The human entities: ``doc.spans["human"]`` once a merge has kept them
    there (so merging twice never mistakes LLM entities for human ones),
    otherwise ``doc.ents``; none for a Doc the human did not annotate."""
    if HUMAN_KEY in doc.spans:
        return list(doc.spans[HUMAN_KEY])
    if not is_human_annotated(doc):
        return []
    return list(doc.ents)


def span_key(span: Span) -> Tuple[int, int, str]:
    """The span as (start, end, label): what identifies an entity."""
    return (span.start, span.end, span.label_)


def estimate_label_stats(docs: Iterable[Doc], llm_key: str = LLM_KEY) -> Dict[str, LabelStats]:
    """Per-label counts of human entities, LLM proposals and exact matches.

    docs (Iterable[Doc]): Docs with human ``doc.ents`` and ``doc.spans[llm_key]``.
    llm_key (str): The span group holding the LLM proposals.
    RETURNS (Dict[str, LabelStats]): Counts per label, over the Docs that both
        annotated; labels seen only on other Docs are absent.
    """
    counts: Dict[str, List[int]] = {}
    for doc in docs:
        if llm_key not in doc.spans or not is_human_annotated(doc):
            continue
        human: Set[Tuple[int, int, str]] = {span_key(s) for s in human_spans(doc)}
        proposed = {span_key(s) for s in doc.spans[llm_key]}
        for _, _, label in human:
            counts.setdefault(label, [0, 0, 0])[0] += 1
        for key in proposed:
            row = counts.setdefault(key[2], [0, 0, 0])
            row[1] += 1
            row[2] += key in human
    return {label: LabelStats(*row) for label, row in sorted(counts.items())}


def label_stats_to_json(stats: Mapping[str, LabelStats]) -> Dict[str, Dict[str, int]]:
    """The counts as plain JSON: label → {"human", "proposed", "matched"}."""
    return {
        label: {"human": s.human, "proposed": s.proposed, "matched": s.matched}
        for label, s in stats.items()
    }


def label_stats_from_json(data: Mapping[str, Mapping[str, int]]) -> Dict[str, LabelStats]:
    """The inverse of :func:`label_stats_to_json`."""
    return {label: LabelStats(**dict(row)) for label, row in data.items()}
