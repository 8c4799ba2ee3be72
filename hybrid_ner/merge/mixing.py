"""λ label mixing: per-token tag distributions of a merged Doc (docs/method.md, section 3);
λ is a label's score over the best label's (precision vs an incomplete human is biased low)."""

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.util import registry

from ..tags import OUTSIDE, TAG_LIKELIHOODS, fixed_targets, span_tags
from .merger import candidate_spans
from .reliability import DEFAULT_PRIOR, DEFAULT_PRIOR_STRENGTH, LabelStats, human_spans

#: Exponent of the class-imbalance correction (0: reliability only).
DEFAULT_BALANCE = 1.0
DEFAULT_MIN_LAMBDA = 0.05

#: A token's target: probability per BILUO tag, or None (missing: no target).
TokenTarget = Optional[Dict[str, float]]


def soft_targets(
    doc: Doc, lambdas: Mapping[str, float], default_lambda: float = DEFAULT_PRIOR
) -> List[TokenTarget]:
    """Per token of a merged Doc, its distribution over BILUO tags, or None (no target)."""
    targets: List[TokenTarget] = [None if token.ent_iob == 0 else {OUTSIDE: 1.0} for token in doc]
    for span in human_spans(doc):
        for i, tag in enumerate(span_tags(len(span), span.label_), span.start):
            targets[i] = {tag: 1.0}
    covering: Dict[int, List[Tuple[str, float]]] = {}
    for span in candidate_spans(doc):
        lam = lambdas.get(span.label_, default_lambda)
        for i, tag in enumerate(span_tags(len(span), span.label_), span.start):
            covering.setdefault(i, []).append((tag, lam))
    for i, tags in covering.items():
        share = 1.0 / len(tags)
        dist = {OUTSIDE: 0.0}
        for tag, lam in tags:
            dist[tag] = dist.get(tag, 0.0) + share * lam
            dist[OUTSIDE] += share * (1.0 - lam)
        targets[i] = dist
    return targets


@dataclass(frozen=True)
class LabelMixing:
    """Label-mixing settings (:func:`create_label_mixing`)."""

    balance: float = DEFAULT_BALANCE
    min_lambda: float = DEFAULT_MIN_LAMBDA
    prior: float = DEFAULT_PRIOR
    strength: float = DEFAULT_PRIOR_STRENGTH
    lambdas: Tuple[Tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        for name, value in (("min_lambda", self.min_lambda), *self.lambdas):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"λ mixing: {name} must be in [0, 1], got {value}")

    def fit(self, stats: Mapping[str, LabelStats]) -> Dict[str, float]:
        """λ per label (module docstring) from the per-label reliability."""
        n_labels = max(len(stats), 1)
        total_human = sum(s.human for s in stats.values()) + n_labels
        total_proposed = sum(s.proposed for s in stats.values()) + n_labels
        scores = {
            label: s.precision(self.prior, self.strength)
            * (((s.proposed + 1) / total_proposed) / ((s.human + 1) / total_human))
            ** (-self.balance)
            for label, s in stats.items()
        }
        scale = max(scores.values(), default=1.0) or 1.0
        lambdas = {label: max(score / scale, self.min_lambda) for label, score in scores.items()}
        return {**lambdas, **dict(self.lambdas)}

    def attach_all(self, docs: Sequence[Doc], lambdas: Mapping[str, float]) -> List[Doc]:
        """Store each merged Doc's targets as fixed ``TAG_LIKELIHOODS`` rows, in place."""
        dists = [soft_targets(doc, lambdas, self.prior) for doc in docs]
        labels = {t[2:] for targets in dists for d in targets for t in d or () if t != OUTSIDE}
        for doc, targets in zip(docs, dists):
            doc.user_data[TAG_LIKELIHOODS] = fixed_targets(targets, labels)
        return list(docs)


@registry.misc("hybrid_ner.label_mixing.v1")
def create_label_mixing(
    balance: float = DEFAULT_BALANCE,
    min_lambda: float = DEFAULT_MIN_LAMBDA,
    prior: float = DEFAULT_PRIOR,
    strength: float = DEFAULT_PRIOR_STRENGTH,
    lambdas: Dict[str, float] = {},
) -> LabelMixing:
    """λ label mixing (module docstring).

    balance (float): Class-imbalance correction exponent; 0 uses reliability only.
    prior (float): Prior precision for smoothing, and λ of unseen labels.
    strength (float): Weight of the prior, in pseudo-proposals.
    lambdas (Dict[str, float]): λ fixed by hand for some labels.
    """
    return LabelMixing(balance, min_lambda, prior, strength, tuple(sorted(lambdas.items())))
