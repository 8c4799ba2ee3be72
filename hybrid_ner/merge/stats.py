"""Per-label accounting of a merge: what the human had, what the LLM
proposed, what was added or rejected (and why), and the class distribution
before and after."""

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

from spacy.tokens import Doc

from ..layers import LLM_ADDED_KEY, LLM_KEY, LLM_REJECTED_KEY
from .merger import REASONS
from .reliability import LabelStats, human_spans


def class_distribution(counts: Mapping[str, int]) -> Dict[str, float]:
    """Share of each label, by label (0 everywhere when there is nothing)."""
    total = sum(counts.values())
    return {label: (count / total if total else 0.0) for label, count in sorted(counts.items())}


@dataclass
class LabelSummary:
    """Counts for one label over a merged corpus."""

    human: int = 0
    proposed: int = 0
    added: int = 0
    rejected: Dict[str, int] = field(default_factory=dict)
    merged: int = 0
    precision: Optional[float] = None
    mixing_lambda: Optional[float] = None

    @property
    def n_rejected(self) -> int:
        """Rejected proposals, all reasons together."""
        return sum(self.rejected.values())


def summarize_merge(
    docs: Sequence[Doc],
    stats: Mapping[str, LabelStats] = {},
    lambdas: Mapping[str, float] = {},
    llm_key: str = LLM_KEY,
) -> Dict[str, LabelSummary]:
    """Count, per label, human / proposed / added / rejected / merged entities.

    docs (Sequence[Doc]): Merged Docs (with the provenance span groups).
    stats (Mapping[str, LabelStats]): Reliability the merge used, if any.
    lambdas (Mapping[str, float]): Label-mixing λ, if any.
    llm_key (str): Span group with the proposals.
    RETURNS (Dict[str, LabelSummary]): Per label, sorted by label.
    """
    counts: Dict[str, LabelSummary] = {}

    def row(label: str) -> LabelSummary:
        return counts.setdefault(label, LabelSummary())

    for doc in docs:
        for span in human_spans(doc):
            row(span.label_).human += 1
        for span in doc.spans[llm_key] if llm_key in doc.spans else ():
            row(span.label_).proposed += 1
        for span in doc.spans[LLM_ADDED_KEY] if LLM_ADDED_KEY in doc.spans else ():
            row(span.label_).added += 1
        for span in doc.spans[LLM_REJECTED_KEY] if LLM_REJECTED_KEY in doc.spans else ():
            rejected = row(span.label_).rejected
            rejected[span.id_] = rejected.get(span.id_, 0) + 1
        for ent in doc.ents:
            row(ent.label_).merged += 1
    for label, summary in counts.items():
        if label in stats:
            summary.precision = stats[label].precision()
        summary.mixing_lambda = lambdas.get(label)
    return dict(sorted(counts.items()))


def label_shares(summary: Mapping[str, LabelSummary]) -> Dict[str, Dict[str, float]]:
    """Class distributions of the human ("human"), LLM ("proposed") and merged labels."""
    return {
        key: class_distribution({label: getattr(s, key) for label, s in summary.items()})
        for key in ("human", "proposed", "merged")
    }


def summary_table(summary: Mapping[str, LabelSummary]) -> List[List[object]]:
    """Rows for printing (see SUMMARY_HEADER): counts, rejections per reason, precision, λ and the
    class distribution of human, LLM and merged labels."""
    shares = label_shares(summary)
    rows = []
    for label, s in summary.items():
        rows.append(
            [
                label,
                s.human,
                s.proposed,
                s.added,
                s.n_rejected,
                *(s.rejected.get(r, 0) for r in REASONS),
                "-" if s.precision is None else f"{s.precision:.2f}",
                "-" if s.mixing_lambda is None else f"{s.mixing_lambda:.2f}",
                f"{shares['human'][label]:.1%}",
                f"{shares['proposed'][label]:.1%}",
                f"{shares['merged'][label]:.1%}",
            ]
        )
    return rows


SUMMARY_HEADER = (
    "label",
    "human",
    "proposed",
    "added",
    "rejected",
    *REASONS,
    "precision vs human",
    "λ",
    "human %",
    "LLM %",
    "merged %",
)


def summary_to_json(summary: Mapping[str, LabelSummary]) -> Dict[str, Dict[str, object]]:
    """The per-label summary as plain JSON, with the label shares."""
    shares = label_shares(summary)
    return {
        label: {
            "human": s.human,
            "proposed": s.proposed,
            "added": s.added,
            "rejected": s.n_rejected,
            "rejected_by_reason": dict(sorted(s.rejected.items())),
            "merged": s.merged,
            "precision_vs_human": s.precision,
            "mixing_lambda": s.mixing_lambda,
            "share_human": shares["human"][label],
            "share_llm": shares["proposed"][label],
            "share_merged": shares["merged"][label],
        }
        for label, s in summary.items()
    }
