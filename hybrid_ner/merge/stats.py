"""Per-label accounting of a merge: counts, rejections by reason, class distributions."""

from collections import Counter, defaultdict
from typing import Dict, Mapping, Sequence

from spacy.tokens import Doc

from ..layers import LLM_ADDED_KEY, LLM_KEY, LLM_REJECTED_KEY
from .reliability import LabelStats, human_spans


def class_distribution(counts: Mapping[str, int]) -> Dict[str, float]:
    """Share of each label, by label (0 everywhere when there is nothing)."""
    total = sum(counts.values())
    return {label: (count / total if total else 0.0) for label, count in sorted(counts.items())}


def summarize_merge(
    docs: Sequence[Doc],
    stats: Mapping[str, LabelStats] = {},
    lambdas: Mapping[str, float] = {},
    llm_key: str = LLM_KEY,
) -> Dict[str, Dict[str, object]]:
    """Per label of merged Docs, as JSON: the counts (rejected by reason), the
    LLM's precision against the human, λ, and the label's shares."""
    counts: Dict[str, Counter] = defaultdict(Counter)
    reasons: Dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        groups = {
            "human": human_spans(doc),
            "proposed": doc.spans.get(llm_key, ()),
            "added": doc.spans.get(LLM_ADDED_KEY, ()),
            "rejected": doc.spans.get(LLM_REJECTED_KEY, ()),
            "merged": doc.ents,
        }
        for key, spans in groups.items():
            for span in spans:
                counts[span.label_][key] += 1
        for span in groups["rejected"]:
            reasons[span.label_][span.id_] += 1
    shares = {
        f"share_{name}": class_distribution({lab: row[key] for lab, row in counts.items()})
        for name, key in (("human", "human"), ("llm", "proposed"), ("merged", "merged"))
    }
    return {
        label: {
            **{key: row[key] for key in ("human", "proposed", "added", "rejected")},
            "rejected_by_reason": dict(sorted(reasons[label].items())),
            "merged": row["merged"],
            "precision_vs_human": stats[label].precision() if label in stats else None,
            "mixing_lambda": lambdas.get(label),
            **{name: share[label] for name, share in shares.items()},
        }
        for label, row in sorted(counts.items())
    }
