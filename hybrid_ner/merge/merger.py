"""Merge LLM proposals into the human annotation, the human always winning
(rule, rejection reasons and provenance groups: docs/method.md, section 1)."""

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Literal, Optional, Sequence, Tuple, get_args

from spacy.tokens import Doc, Span
from spacy.util import registry

from ..errors import HybridNerError
from ..layers import HUMAN_KEY, LLM_ADDED_KEY, LLM_KEY, LLM_REJECTED_KEY, describe_doc
from ..simulation.omissions import doc_rng
from .acceptance import REASON_LABEL, REASON_RELIABILITY, AcceptAll, AcceptancePolicy
from .reliability import LabelStats, estimate_label_stats, human_spans, span_key

REASON_DUPLICATE = "duplicate"
REASON_OVERLAP_HUMAN = "overlap_human"
REASON_OVERLAP_LLM = "overlap_llm"
#: The rejection reasons, in the order of the checks.
REASONS = (
    REASON_DUPLICATE,
    REASON_LABEL,
    REASON_RELIABILITY,
    REASON_OVERLAP_HUMAN,
    REASON_OVERLAP_LLM,
)

#: Which overlapping proposal wins: longer, more reliable label, span group
#: order, or a seeded shuffle per Doc (the paper's baseline).
OverlapRule = Literal["longest", "reliable", "first", "random"]
#: Tokens in no entity after the merge: no entity, or ignored by the loss.
Uncovered = Literal["outside", "missing"]
DEFAULT_OVERLAP: OverlapRule = "longest"
DEFAULT_UNCOVERED: Uncovered = "outside"
DEFAULT_SEED = 0

SpanTuple = Tuple[int, int, str]


def overlaps_human(doc: Doc, spans: Sequence[Span]) -> List[bool]:
    """Per span, whether it shares a token with a human entity (and so gives way)."""
    covered = bytearray(len(doc))
    for span in human_spans(doc):
        covered[span.start : span.end] = b"\x01" * len(span)
    return [any(covered[span.start : span.end]) for span in spans]


def candidate_spans(doc: Doc) -> List[Span]:
    """The proposals of a merged Doc that passed all checks but overlap_llm, sorted."""
    losers = [s for s in doc.spans.get(LLM_REJECTED_KEY, ()) if s.id_ == REASON_OVERLAP_LLM]
    return sorted([*doc.spans.get(LLM_ADDED_KEY, ()), *losers], key=span_key)


@dataclass
class Merger:
    """The merge settings (:func:`create_merger`) and the per-label reliability of :meth:`fit`."""

    accept: AcceptancePolicy = field(default_factory=AcceptAll)
    overlap: OverlapRule = DEFAULT_OVERLAP
    uncovered: Uncovered = DEFAULT_UNCOVERED
    seed: int = DEFAULT_SEED
    llm_key: str = LLM_KEY
    stats: Dict[str, LabelStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A Merger built in Python is not type-checked as configs and the CLI are.
        for name, rule in (("overlap", OverlapRule), ("uncovered", Uncovered)):
            if getattr(self, name) not in get_args(rule):
                options = ", ".join(get_args(rule))
                raise HybridNerError(f"merger {name}={getattr(self, name)!r}: use one of {options}")

    def fit(self, docs: Iterable[Doc]) -> "Merger":
        """Estimate per-label reliability from the Docs both annotated."""
        self.stats = estimate_label_stats(docs, self.llm_key)
        return self

    def _rank(self, doc: Doc, candidates: List[SpanTuple]) -> List[SpanTuple]:
        def precision(label: str) -> float:
            return self.stats.get(label, LabelStats()).precision()

        if self.overlap == "longest":
            return sorted(candidates, key=lambda c: (c[0] - c[1], -precision(c[2]), c[0], c[2]))
        if self.overlap == "reliable":
            return sorted(candidates, key=lambda c: (-precision(c[2]), c[0] - c[1], c[0], c[2]))
        if self.overlap == "random":
            doc_rng(doc, self.seed, "merge").shuffle(candidates)
        return candidates

    def __call__(self, doc: Doc) -> Doc:
        """Merge one Doc in place and return it."""
        proposals = list(doc.spans[self.llm_key]) if self.llm_key in doc.spans else []
        seen = set()
        candidates: List[SpanTuple] = []
        rejected: List[Tuple[int, int, str, str]] = []
        label_reasons: Dict[str, Optional[str]] = {}
        for span, loses in zip(proposals, overlaps_human(doc, proposals)):
            if not span.label_:
                raise HybridNerError(
                    f"{describe_doc(doc)}: proposal {span.text!r} (tokens {span.start}-"
                    f"{span.end}) in doc.spans[{self.llm_key!r}] has no label"
                )
            key = span_key(span)
            if key in seen:
                rejected.append(key + (REASON_DUPLICATE,))
                continue
            seen.add(key)
            if span.label_ not in label_reasons:
                label_reasons[span.label_] = self.accept(span.label_, self.stats)
            reason = label_reasons[span.label_] or (REASON_OVERLAP_HUMAN if loses else None)
            if reason is None:
                candidates.append(key)
            else:
                rejected.append(key + (reason,))
        added: List[SpanTuple] = []
        taken = bytearray(len(doc))
        for key in self._rank(doc, candidates):
            start, end, _ = key
            if any(taken[start:end]):
                rejected.append(key + (REASON_OVERLAP_LLM,))
            else:
                taken[start:end] = b"\x01" * (end - start)
                added.append(key)
        human = human_spans(doc)
        doc.spans[HUMAN_KEY] = human
        doc.spans[LLM_ADDED_KEY] = [Span(doc, s, e, label=label) for s, e, label in sorted(added)]
        doc.spans[LLM_REJECTED_KEY] = [
            Span(doc, s, e, label=label, span_id=why) for s, e, label, why in sorted(rejected)
        ]
        doc.set_ents(sorted([*human, *doc.spans[LLM_ADDED_KEY]]), default=self.uncovered)
        return doc

    def merge_all(self, docs: Sequence[Doc]) -> List[Doc]:
        """Fit on the Docs, then merge each in place."""
        self.fit(docs)
        return [self(doc) for doc in docs]


@registry.misc("hybrid_ner.Merger.v1")
def create_merger(
    # None, not AcceptAll(): spacy train serializes the filled config.
    accept: Optional[AcceptancePolicy] = None,
    overlap: OverlapRule = DEFAULT_OVERLAP,
    uncovered: Uncovered = DEFAULT_UNCOVERED,
    seed: int = DEFAULT_SEED,
    llm_key: str = LLM_KEY,
) -> Merger:
    """The merge settings, for readers and components in configs.

    accept (Optional[AcceptancePolicy]): E.g. "hybrid_ner.accept_reliable.v1"; None: all.
    overlap (str): "longest", "reliable", "first" or "random" (seeded by ``seed``).
    """
    return Merger(accept or AcceptAll(), overlap, uncovered, seed, llm_key)
