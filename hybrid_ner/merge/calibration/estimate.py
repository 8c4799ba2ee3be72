"""The annotator's noise model P(observation | true label) per token (``""``, ``"PER"``,
``"ORG+PER"``) on a clean sample, shrunk towards chance: a random annotator tells nothing."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

from ...layers import LLM_KEY
from ...tags import OUTSIDE, span_tags
from ..reliability import LabelStats, estimate_label_stats, human_spans, is_human_annotated

#: Pseudo-tokens of the shrinkage towards chance.
STRENGTH = 50.0
#: The observation of a token no proposal covers.
SILENCE = ""


def token_observations(doc: Doc, proposals: Sequence[Span]) -> List[Tuple[str, Optional[str]]]:
    """Per token: the observation and the BILUO position of its first covering proposal."""
    labels: List[set] = [set() for _ in doc]
    position: List[Optional[str]] = [None] * len(doc)
    for span in sorted(proposals, key=lambda s: (s.start, -len(s), s.label_)):
        for i, tag in enumerate(span_tags(len(span), span.label_), span.start):
            labels[i].add(span.label_)
            position[i] = position[i] or tag[0]
    return [("+".join(sorted(ls)), pos) for ls, pos in zip(labels, position)]


@dataclass(frozen=True)
class AnnotatorCalibration:
    """P(observation | true label) of one annotator; ``biased``: measured against the
    incomplete human annotation."""

    labels: Tuple[str, ...]
    counts: Dict[str, Dict[str, int]]
    positions: Dict[str, Dict[str, int]] = field(default_factory=dict)
    quality: Dict[str, LabelStats] = field(default_factory=dict)
    source: str = ""
    biased: bool = False

    @cached_property
    def _true_totals(self) -> Counter:
        return sum((Counter(row) for row in self.counts.values()), Counter())

    @property
    def n_tokens(self) -> int:
        return sum(self._true_totals.values())

    def position_likelihood(self, proposed: str, true: str) -> float:
        """P(proposal position | true position) of a covered token, shrunk towards chance."""
        n_all = sum(n for row in self.positions.values() for n in row.values())
        if not n_all or proposed not in self.positions:  # never seen: no evidence
            return 1.0
        row = self.positions.get(proposed, {})
        n_true = sum(r.get(true, 0) for r in self.positions.values())
        return (row.get(true, 0) + STRENGTH * sum(row.values()) / n_all) / (n_true + STRENGTH)

    def likelihood(self, observation: str, true: str) -> float:
        """P(observation | true label), shrunk; unseen: 1, or the mean over its known labels."""
        row = self.counts.get(observation)
        if not row:
            known = [p for p in observation.split("+") if "+" in observation and self.counts.get(p)]
            return sum(self.likelihood(p, true) for p in known) / len(known) if known else 1.0
        marginal = sum(row.values()) / max(self.n_tokens, 1)
        return (row.get(true, 0) + STRENGTH * marginal) / (
            self._true_totals.get(true, 0) + STRENGTH
        )

    def trusted(self, omission_rate: float, min_posterior: float) -> Tuple[str, ...]:
        """The labels of which at least ``min_posterior`` of the proposals are right where the
        human was silent: ω·p / (ω·p + 1 − p) with p the label's smoothed precision."""
        odds = min_posterior / (1.0 - min_posterior)
        return tuple(
            sorted(
                label
                for label, q in self.quality.items()
                if q.proposed and omission_rate * q.precision() >= odds * (1.0 - q.precision())
            )
        )

    def summary(self) -> Dict[str, object]:
        """Per label P/R and likelihood ratios (1 = no evidence), for reports and JSON."""
        per_label = {}
        for label in self.labels:
            q = self.quality.get(label, LabelStats())
            silent = self.likelihood(SILENCE, label) / max(self.likelihood(SILENCE, OUTSIDE), 1e-12)
            said = self.likelihood(label, label) / max(self.likelihood(label, OUTSIDE), 1e-12)
            per_label[label] = {
                "precision": round(q.precision(strength=0), 4),
                "recall": round(q.matched / q.human if q.human else 0.0, 4),
                "proposed": q.proposed,
                "gold": q.human,
                "lr_proposed": round(said, 2),
                "lr_silence": round(silent, 3),
            }
        # Share of covered entity tokens whose true position is the proposal's.
        total = sum(n for row in self.positions.values() for t, n in row.items() if t != OUTSIDE)
        same = sum(row.get(p, 0) for p, row in self.positions.items())
        return {
            "source": self.source,
            "biased": self.biased,
            "tokens": self.n_tokens,
            "position_match": round(same / total if total else 0.0, 3),
            "labels": per_label,
        }


def estimate_calibration(
    docs: Iterable[Doc], spans_key: str = LLM_KEY, source: str = "", biased: bool = False
) -> AnnotatorCalibration:
    """Count observations against the gold ``doc.ents`` (unannotated Docs, Docs
    without proposals and missing tokens skipped)."""
    docs = [doc for doc in docs if is_human_annotated(doc) and spans_key in doc.spans]
    counts: Dict[str, Counter] = defaultdict(Counter)
    positions: Dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        true = [(OUTSIDE, OUTSIDE)] * len(doc)
        for ent in human_spans(doc):
            for i, tag in enumerate(span_tags(len(ent), ent.label_), ent.start):
                true[i] = (ent.label_, tag[0])
        for token, (obs, pos) in zip(doc, token_observations(doc, list(doc.spans[spans_key]))):
            label, true_pos = true[token.i]
            if token.ent_iob == 0 and label == OUTSIDE:
                continue  # missing annotation: nothing to compare with
            counts[obs][label] += 1
            if pos is not None:
                positions[pos][true_pos] += 1
    stats = estimate_label_stats(docs, spans_key)
    counts_, positions_ = ({k: dict(v) for k, v in c.items()} for c in (counts, positions))
    return AnnotatorCalibration(tuple(stats), counts_, positions_, stats, source, biased)
