"""Merge LLM proposals into the human entity annotation, the human always winning.

The rule, per Doc:

1. Human entities (``doc.spans["human"]`` if a merge already ran, else
   ``doc.ents``; none when ``doc.user_data["human_annotated"] is False``) are
   kept exactly as they are.
2. Each distinct LLM proposal in ``doc.spans["llm"]`` is checked, first
   failing check wins, and rejected with that reason:
   ``duplicate`` (same start, end and label proposed again),
   ``label_not_accepted`` / ``low_reliability`` (the acceptance policy),
   ``overlap_human`` (shares at least one token with a human entity).
3. The remaining proposals ("candidates") may overlap each other, e.g. when
   per-type queries disagree. They are ranked by the overlap rule and taken
   greedily; a candidate sharing a token with one already taken is rejected
   as ``overlap_llm``. Rules: ``longest`` (longer first, then more reliable
   label, then earlier, then label name), ``reliable`` (more reliable label
   first, then longer...), ``first`` (order in the span group) and
   ``random`` (a seeded shuffle per Doc: the paper's random-selection
   baseline, the same for a Doc whatever else is in the corpus).
4. Provenance: ``doc.spans["human"]``, ``doc.spans["llm_added"]`` and
   ``doc.spans["llm_rejected"]``; the reason of a rejection is the rejected
   span's ``Span.id_`` (kept by DocBin). Every proposal ends in exactly one of
   added / rejected. ``doc.spans["llm"]`` is left untouched.
5. ``doc.ents`` is set last: human + added entities; all other tokens become
   "outside" (no entity) or "missing" (ignored by the NER loss), by option.
"""

import random
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Literal, Mapping, Optional, Sequence, Tuple

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
REASONS = (
    REASON_DUPLICATE,
    REASON_LABEL,
    REASON_RELIABILITY,
    REASON_OVERLAP_HUMAN,
    REASON_OVERLAP_LLM,
)

OverlapRule = Literal["longest", "reliable", "first", "random"]
Uncovered = Literal["outside", "missing"]
OVERLAP_RULES = ("longest", "reliable", "first", "random")
UNCOVERED = ("outside", "missing")

#: Default rule for overlapping proposals (every merge setting refers to it).
DEFAULT_OVERLAP: OverlapRule = "longest"
#: Default for tokens in no entity after the merge.
DEFAULT_UNCOVERED: Uncovered = "outside"
#: Default seed of the "random" overlap rule.
DEFAULT_SEED = 0

SpanTuple = Tuple[int, int, str]


@dataclass(frozen=True)
class MergeDecision:
    """What a merge keeps, as token offsets; a pure value, not tied to a Doc.

    human (List[SpanTuple]): Human entities (start, end, label), unchanged.
    added (List[SpanTuple]): LLM proposals added, sorted.
    rejected (List[Tuple[int, int, str, str]]): (start, end, label, reason).
    """

    human: List[SpanTuple]
    added: List[SpanTuple]
    rejected: List[Tuple[int, int, str, str]]


def overlaps_human(doc: Doc, spans: Sequence[Span]) -> List[bool]:
    """The human wins: per span, whether it shares a token with a human entity
    (:func:`~hybrid_ner.merge.reliability.human_spans`) and so must give way,
    in the merge and in the calibrated evidence alike.

    doc (Doc): The Doc with the human annotation.
    spans (Sequence[Span]): Spans of the Doc, e.g. the LLM proposals.
    RETURNS (List[bool]): Per span, True if it overlaps a human entity.
    """
    covered = bytearray(len(doc))
    for span in human_spans(doc):
        covered[span.start : span.end] = b"\x01" * len(span)
    return [any(covered[span.start : span.end]) for span in spans]


def _rank(
    candidates: List[SpanTuple],
    rule: str,
    stats: Mapping[str, LabelStats],
    rng: Callable[[], random.Random],
) -> List[SpanTuple]:
    def precision(label: str) -> float:
        return stats.get(label, LabelStats()).precision()

    if rule == "longest":
        return sorted(candidates, key=lambda c: (c[0] - c[1], -precision(c[2]), c[0], c[2]))
    if rule == "reliable":
        return sorted(candidates, key=lambda c: (-precision(c[2]), c[0] - c[1], c[0], c[2]))
    if rule == "random":
        shuffled = list(candidates)
        rng().shuffle(shuffled)
        return shuffled
    return list(candidates)  # "first"


def decide_merge(
    doc: Doc,
    *,
    accept: AcceptancePolicy = AcceptAll(),
    stats: Mapping[str, LabelStats] = {},
    overlap: OverlapRule = DEFAULT_OVERLAP,
    seed: int = DEFAULT_SEED,
    llm_key: str = LLM_KEY,
) -> MergeDecision:
    """Decide which proposals to add, without changing the Doc.

    doc (Doc): A Doc with human ``doc.ents`` and proposals in ``doc.spans[llm_key]``.
    accept (AcceptancePolicy): Per-label acceptance.
    stats (Mapping[str, LabelStats]): Estimated per-label reliability.
    overlap (OverlapRule): How overlapping proposals are resolved.
    seed (int): Seed of the "random" rule.
    llm_key (str): Span group with the proposals.
    RETURNS (MergeDecision): Human, added and rejected spans.
    """
    if overlap not in OVERLAP_RULES:
        raise ValueError(f"Unknown overlap rule {overlap!r}: use one of {', '.join(OVERLAP_RULES)}")
    human = [span_key(span) for span in human_spans(doc)]
    proposals = list(doc.spans[llm_key]) if llm_key in doc.spans else []
    seen = set()
    candidates: List[SpanTuple] = []
    rejected: List[Tuple[int, int, str, str]] = []
    label_reasons: Dict[str, Optional[str]] = {}
    for span, loses in zip(proposals, overlaps_human(doc, proposals)):
        label = span.label_
        if not label:
            raise HybridNerError(
                f"{describe_doc(doc)}: proposal {span.text!r} (tokens {span.start}-{span.end}) "
                f"in doc.spans[{llm_key!r}] has no label"
            )
        key = (span.start, span.end, label)
        if key in seen:
            rejected.append(key + (REASON_DUPLICATE,))
            continue
        seen.add(key)
        if label not in label_reasons:
            label_reasons[label] = accept(label, stats)
        reason = label_reasons[label]
        if reason is None and loses:
            reason = REASON_OVERLAP_HUMAN
        if reason is None:
            candidates.append(key)
        else:
            rejected.append(key + (reason,))
    added: List[SpanTuple] = []
    taken = bytearray(len(doc))
    for key in _rank(candidates, overlap, stats, lambda: doc_rng(doc, seed, "merge")):
        start, end, _ = key
        if any(taken[start:end]):
            rejected.append(key + (REASON_OVERLAP_LLM,))
        else:
            taken[start:end] = b"\x01" * (end - start)
            added.append(key)
    return MergeDecision(human, sorted(added), sorted(rejected))


def apply_merge(doc: Doc, decision: MergeDecision, uncovered: Uncovered = DEFAULT_UNCOVERED) -> Doc:
    """Write a decision onto the Doc, in place: provenance groups, then ``doc.ents``.

    doc (Doc): The Doc the decision was made for.
    decision (MergeDecision): From :func:`decide_merge`.
    uncovered (Uncovered): "outside" or "missing" for tokens in no entity.
    RETURNS (Doc): The same Doc.
    """
    if uncovered not in UNCOVERED:
        raise ValueError(
            f"Unknown value for uncovered tokens {uncovered!r}: use 'outside' or 'missing'"
        )
    human = [Span(doc, s, e, label=label) for s, e, label in decision.human]
    added = [Span(doc, s, e, label=label) for s, e, label in decision.added]
    doc.spans[HUMAN_KEY] = human
    doc.spans[LLM_ADDED_KEY] = added
    doc.spans[LLM_REJECTED_KEY] = [
        Span(doc, s, e, label=label, span_id=reason) for s, e, label, reason in decision.rejected
    ]
    doc.set_ents(sorted(human + added), default=uncovered)
    return doc


def candidate_spans(doc: Doc) -> List[Span]:
    """The proposals of a merged Doc that passed every check but the overlap
    between proposals: what label mixing mixes, sorted by (start, end, label)."""
    rejected = doc.spans[LLM_REJECTED_KEY] if LLM_REJECTED_KEY in doc.spans else ()
    added = list(doc.spans[LLM_ADDED_KEY]) if LLM_ADDED_KEY in doc.spans else []
    return sorted(
        added + [span for span in rejected if span.id_ == REASON_OVERLAP_LLM], key=span_key
    )


@dataclass
class Merger:
    """The merge with its settings, and the reliability it was fitted on.

    accept (AcceptancePolicy): Per-label acceptance.
    overlap (OverlapRule): How overlapping proposals are resolved.
    uncovered (Uncovered): "outside" or "missing" for tokens in no entity.
    seed (int): Seed of the "random" overlap rule.
    llm_key (str): Span group with the proposals.
    stats (Dict[str, LabelStats]): Per-label reliability; set by :meth:`fit`.
    """

    accept: AcceptancePolicy = field(default_factory=AcceptAll)
    overlap: OverlapRule = DEFAULT_OVERLAP
    uncovered: Uncovered = DEFAULT_UNCOVERED
    seed: int = DEFAULT_SEED
    llm_key: str = LLM_KEY
    stats: Dict[str, LabelStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.overlap not in OVERLAP_RULES:
            raise ValueError(
                f"Unknown overlap rule {self.overlap!r}: use one of {', '.join(OVERLAP_RULES)}"
            )
        if self.uncovered not in UNCOVERED:
            raise ValueError(
                f"Unknown value for uncovered tokens {self.uncovered!r}: use 'outside' or 'missing'"
            )

    def fit(self, docs: Iterable[Doc]) -> "Merger":
        """Estimate per-label reliability from the Docs both annotated."""
        self.stats = estimate_label_stats(docs, self.llm_key)
        return self

    def decide(self, doc: Doc) -> MergeDecision:
        """Decide the merge of one Doc without changing it (:func:`decide_merge`)."""
        return decide_merge(
            doc,
            accept=self.accept,
            stats=self.stats,
            overlap=self.overlap,
            seed=self.seed,
            llm_key=self.llm_key,
        )

    def __call__(self, doc: Doc) -> Doc:
        """Merge one Doc in place and return it."""
        return apply_merge(doc, self.decide(doc), self.uncovered)

    def merge_all(self, docs: Sequence[Doc], fit: bool = True) -> List[Doc]:
        """Fit on the Docs (unless ``fit`` is False), then merge each in place."""
        if fit:
            self.fit(docs)
        return [self(doc) for doc in docs]


@registry.misc("hybrid_ner.Merger.v1")
def create_merger(
    # None, not an AcceptAll() default: spacy train fills and serializes the
    # config, and a Python object is not a config value.
    accept: Optional[AcceptancePolicy] = None,
    overlap: OverlapRule = DEFAULT_OVERLAP,
    uncovered: Uncovered = DEFAULT_UNCOVERED,
    seed: int = DEFAULT_SEED,
    llm_key: str = LLM_KEY,
) -> Merger:
    """The merge settings, for readers and components in configs.

    accept (Optional[AcceptancePolicy]): Per-label acceptance, e.g.
        "hybrid_ner.accept_reliable.v1"; None accepts every label.
    overlap (str): "longest", "reliable", "first" or "random" (seeded).
    uncovered (str): "outside" (no entity) or "missing" (ignored by the loss)
        for tokens covered by neither the human nor an added proposal.
    seed (int): Seed of the "random" rule.
    llm_key (str): Span group with the proposals.
    """
    return Merger(
        accept=accept if accept is not None else AcceptAll(),
        overlap=overlap,
        uncovered=uncovered,
        seed=seed,
        llm_key=llm_key,
    )
