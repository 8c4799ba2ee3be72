"""The annotator's noise model, measured on a clean sample.

For every token of the calibration Docs (trustworthy gold in ``doc.ents``,
the annotator's proposals in ``doc.spans[spans_key]``) we count the
*observation* (which labels the annotator put on the token: ``""`` for
silence, ``"PER"``, or ``"ORG+PER"`` when per-type queries disagree) against
the *true label* (the gold entity label or ``"O"``). The likelihood of an
observation given a true label is the smoothed conditional frequency

    P(obs | m) = (N[obs, m] + strength · P(obs)) / (N[m] + strength)

shrunk towards the observation's overall frequency P(obs): that is what an
annotator at chance would show for every m, so a label the sample cannot
tell apart from chance carries (almost) no evidence. An annotator whose
observations do not depend on the true label gets the same likelihood for
every label: it contributes nothing (:mod:`.evidence`).

Without a calibration sample the same counts can be taken against the human
annotation (:func:`estimate_calibration` on the training Docs). That estimate
is biased: an entity the human omitted but the annotator found counts as an
annotator error, and its recall is measured on the human's easy cases. It is
marked ``biased`` and every report says so.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

from ...layers import LLM_KEY
from ...tags import OUTSIDE, span_tags
from ..reliability import estimate_label_stats, human_spans, is_human_annotated

#: Pseudo-tokens of the shrinkage towards chance (the one default, used by
#: every function and registered setting that takes ``strength``).
DEFAULT_STRENGTH = 50.0
#: The observation of a token no proposal covers.
SILENCE = ""


def observation_key(labels: Iterable[str]) -> str:
    """The observation of a token covered by proposals with these labels."""
    return "+".join(sorted(set(labels)))


def token_observations(doc: Doc, proposals: Sequence[Span]) -> List[Tuple[str, Optional[str]]]:
    """Per token: the observation and the BILUO position of the covering proposal
    (the first one by start, then length), or None when silent."""
    labels: List[set] = [set() for _ in doc]
    position: List[Optional[str]] = [None] * len(doc)
    for span in sorted(proposals, key=lambda s: (s.start, -len(s), s.label_)):
        for i, tag in enumerate(span_tags(len(span), span.label_), span.start):
            labels[i].add(span.label_)
            if position[i] is None:
                position[i] = tag[0]
    return [(observation_key(ls), pos) for ls, pos in zip(labels, position)]


@dataclass(frozen=True)
class LabelQuality:
    """Exact-match quality of one proposed label on the calibration sample."""

    proposed: int
    gold: int
    matched: int

    @property
    def precision(self) -> float:
        """Share of proposals that match the gold (0 if none)."""
        return self.matched / self.proposed if self.proposed else 0.0

    @property
    def recall(self) -> float:
        """Share of gold entities proposed (0 if none)."""
        return self.matched / self.gold if self.gold else 0.0


@dataclass(frozen=True)
class AnnotatorCalibration:
    """P(observation | true label) of one annotator, with its provenance.

    labels (Tuple[str, ...]): Entity labels seen in the gold or the proposals.
    counts (Dict[str, Dict[str, int]]): Tokens per observation and true label.
    positions (Dict[str, Dict[str, int]]): Covered tokens per BILUO position of
        the covering proposal and true position ("O" for outside tokens).
    quality (Dict[str, LabelQuality]): Exact-match P/R per label.
    source (str): Where the counts come from, for reports.
    biased (bool): True when measured against the (incomplete) human annotation.
    strength (float): Pseudo-tokens of the shrinkage towards chance.
    """

    labels: Tuple[str, ...]
    counts: Dict[str, Dict[str, int]]
    positions: Dict[str, Dict[str, int]] = field(default_factory=dict)
    quality: Dict[str, LabelQuality] = field(default_factory=dict)
    source: str = ""
    biased: bool = False
    strength: float = DEFAULT_STRENGTH

    def __post_init__(self) -> None:
        totals: Counter = Counter()
        for row in self.counts.values():
            totals.update(row)
        object.__setattr__(self, "_totals", dict(totals))
        object.__setattr__(self, "_n", sum(totals.values()))

    @property
    def n_tokens(self) -> int:
        """Tokens of the calibration sample."""
        return self._n  # type: ignore[attr-defined]

    def true_total(self, true: str) -> int:
        """Tokens whose true tag is ``true``."""
        return self._totals.get(true, 0)  # type: ignore[attr-defined]

    @property
    def position_match(self) -> float:
        """Share of covered entity tokens whose true position is the proposal's."""
        total = sum(n for row in self.positions.values() for t, n in row.items() if t != OUTSIDE)
        same = sum(row.get(p, 0) for p, row in self.positions.items())
        return same / total if total else 0.0

    def position_likelihood(self, proposed: str, true: str) -> float:
        """P(proposal position | true position) for a covered token, shrunk
        towards the overall frequency of the proposal position (chance)."""
        n_all = sum(n for row in self.positions.values() for n in row.values())
        if not n_all:
            return 1.0
        marginal = sum(self.positions.get(proposed, {}).values()) / n_all
        n_true = sum(row.get(true, 0) for row in self.positions.values())
        return (self.positions.get(proposed, {}).get(true, 0) + self.strength * marginal) / (
            n_true + self.strength
        )

    def likelihood(self, observation: str, true: str) -> float:
        """P(observation | true label), shrunk towards chance (module docstring)."""
        row = self.counts.get(observation)
        if not row:
            parts = observation.split("+") if observation else []
            known = [p for p in parts if self.counts.get(p)]
            if len(parts) > 1 and known:
                # A combination the sample never showed: one of its labels is
                # the annotator's answer, so average their evidence.
                return sum(self.likelihood(p, true) for p in known) / len(known)
            return 1.0  # never observed: no evidence either way
        marginal = sum(row.values()) / max(self.n_tokens, 1)
        return (row.get(true, 0) + self.strength * marginal) / (
            self.true_total(true) + self.strength
        )

    def likelihoods(self, observation: str, labels: Sequence[str]) -> Dict[str, float]:
        """P(observation | m) for "O" and each label."""
        return {m: self.likelihood(observation, m) for m in (OUTSIDE, *labels)}

    def summary(self) -> Dict[str, object]:
        """Per label P/R and the likelihood ratios, for reports and JSON."""
        per_label = {}
        for label in self.labels:
            q = self.quality.get(label, LabelQuality(0, 0, 0))
            said = self.likelihood(label, label)
            false = self.likelihood(label, OUTSIDE)
            silent = self.likelihood(SILENCE, label) / max(self.likelihood(SILENCE, OUTSIDE), 1e-12)
            per_label[label] = {
                "precision": round(q.precision, 4),
                "recall": round(q.recall, 4),
                "proposed": q.proposed,
                "gold": q.gold,
                # How much more likely the annotator says `label` on a true
                # `label` token than on an outside token (1 = no evidence).
                "lr_proposed": round(said / max(false, 1e-12), 2),
                # How much likelier silence is on a true `label` token than on
                # an outside token (1 = silence says nothing).
                "lr_silence": round(silent, 3),
            }
        return {
            "source": self.source,
            "biased": self.biased,
            "tokens": self.n_tokens,
            "position_match": round(self.position_match, 3),
            "labels": per_label,
        }


def estimate_calibration(
    docs: Iterable[Doc],
    spans_key: str = LLM_KEY,
    source: str = "",
    biased: bool = False,
    strength: float = DEFAULT_STRENGTH,
) -> AnnotatorCalibration:
    """Count observations against the gold ``doc.ents`` of the Docs.

    docs (Iterable[Doc]): Docs with gold ``doc.ents`` and proposals in ``doc.spans[spans_key]``;
        Docs marked unannotated or without the span group, and tokens with
        missing annotation, are skipped.
    spans_key (str): The proposals' span group.
    source (str): Provenance shown in reports.
    biased (bool): Whether ``doc.ents`` is an incomplete human annotation.
    strength (float): Pseudo-tokens of the shrinkage towards chance.
    RETURNS (AnnotatorCalibration): The noise model.
    """
    docs = [doc for doc in docs if is_human_annotated(doc) and spans_key in doc.spans]
    counts: Dict[str, Counter] = defaultdict(Counter)
    positions: Dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        ents = human_spans(doc)
        true = [OUTSIDE] * len(doc)
        true_pos: List[Optional[str]] = [None] * len(doc)
        for ent in ents:
            for i, tag in enumerate(span_tags(len(ent), ent.label_), ent.start):
                true[i] = ent.label_
                true_pos[i] = tag[0]
        for token, (obs, pos) in zip(doc, token_observations(doc, list(doc.spans[spans_key]))):
            if token.ent_iob == 0 and true[token.i] == OUTSIDE:
                continue  # missing annotation: nothing to compare with
            counts[obs][true[token.i]] += 1
            if pos is not None:
                positions[pos][true_pos[token.i] or OUTSIDE] += 1
    # Exact-match counts per label: the same as the merge's reliability estimate.
    stats = estimate_label_stats(docs, spans_key)
    quality = {label: LabelQuality(s.proposed, s.human, s.matched) for label, s in stats.items()}
    return AnnotatorCalibration(
        labels=tuple(sorted(stats)),
        counts={k: dict(v) for k, v in counts.items()},
        positions={k: dict(v) for k, v in positions.items()},
        quality=quality,
        source=source,
        biased=biased,
        strength=strength,
    )
