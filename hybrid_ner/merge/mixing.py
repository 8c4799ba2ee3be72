"""Label mixing: per-token tag distributions ("soft targets") for a merged Doc.

Definition (ours; the paper's exact formula is not published). For a merged
Doc (see :mod:`hybrid_ner.merge.merger`) and BILUO tags, the target of token t is:

* t in a human entity: one-hot on its human tag.
* t covered by candidates C(t) (proposals that passed every merge check but
  the overlap between proposals: the added ones and those rejected as
  "overlap_llm"; several when per-type queries disagree): a uniform mixture
  over the candidates, each candidate c mixed Mixup-style with "no entity":

      target(t) = 1/|C(t)| · Σ_c [ λ(label_c) · onehot(tag_c(t))
                                  + (1 − λ(label_c)) · onehot(O) ]

  where tag_c(t) is t's BILUO tag inside c.
* any other token: one-hot "O" if the merged ``doc.ents`` marks it outside,
  no target (``None``, ignored by the loss) if it is missing.

λ per label, from the Docs both annotated (:mod:`hybrid_ner.merge.reliability`):

    score(l) = p(l) · r(l) ^ (−balance)
    λ(l) = clip( score(l) / max_l' score(l'), min_lambda, max_lambda )
        (relative = true, default)
    λ(l) = clip( score(l), min_lambda, max_lambda )   (relative = false)

* p(l): the LLM's precision against the human, smoothed towards ``prior``
  with ``strength`` pseudo-proposals. It is biased low by a factor the data
  cannot reveal: an LLM entity the human omitted counts as an error, and with
  two annotators of which one has false positives the human's recall is not
  identifiable. Only the ratios between labels are trustworthy, hence the
  default ``relative = true``: the label the LLM is best at gets λ = 1, the
  others in proportion.
* r(l) = share of l among LLM proposals / share of l among human entities,
  both add-one smoothed: r > 1 when the LLM over-produces l. With balance = 1
  the expected entity mass of l is scaled by 1/r, so the class distribution
  of the added mass follows the human's rather than the LLM's; balance = 0
  uses reliability only.
* ``lambdas`` fixes λ for some labels; labels never seen on doubly annotated
  Docs get ``prior``.

Every distribution sums to 1. The paper's baseline, random selection, is not
a mixing: it is the merge with ``overlap = "random"`` (one candidate per
overlap group, chosen by a seeded shuffle per Doc) trained on the one-hot
targets of the merged ``doc.ents``.
"""

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.util import registry

from ..errors import HybridNerError
from ..layers import describe_doc
from ..tags import OUTSIDE, TAG_LIKELIHOODS, fixed_targets, span_tags
from .merger import candidate_spans
from .reliability import DEFAULT_PRIOR, DEFAULT_PRIOR_STRENGTH, LabelStats, human_spans

# The defaults of label mixing, defined once: ``mixing_lambdas``,
# :class:`LabelMixing`, ``hybrid_ner.label_mixing.v1`` and the CLI refer to them.
#: Exponent of the class-imbalance correction (0: reliability only).
DEFAULT_BALANCE = 1.0
#: Lower clip of λ.
DEFAULT_MIN_LAMBDA = 0.05
#: Upper clip of λ.
DEFAULT_MAX_LAMBDA = 1.0
#: Scale λ so that the most reliable label gets 1.
DEFAULT_RELATIVE = True

#: A token's target: probability per BILUO tag, or None (missing: no target).
TokenTarget = Optional[Dict[str, float]]


def mixing_lambdas(
    stats: Mapping[str, LabelStats],
    balance: float = DEFAULT_BALANCE,
    min_lambda: float = DEFAULT_MIN_LAMBDA,
    max_lambda: float = DEFAULT_MAX_LAMBDA,
    prior: float = DEFAULT_PRIOR,
    strength: float = DEFAULT_PRIOR_STRENGTH,
    fixed: Mapping[str, float] = {},
    relative: bool = DEFAULT_RELATIVE,
) -> Dict[str, float]:
    """λ per label, as defined in the module docstring.

    stats (Mapping[str, LabelStats]): Per-label counts on Docs both annotated.
    balance (float): Exponent of the class-imbalance correction (0 = none).
    min_lambda (float): Lower clip of λ.
    max_lambda (float): Upper clip of λ.
    prior (float): Prior precision for smoothing, and λ of unseen labels.
    strength (float): Weight of the prior, in pseudo-proposals.
    fixed (Mapping[str, float]): λ set by hand for some labels.
    relative (bool): Divide the scores by the best label's score.
    RETURNS (Dict[str, float]): λ per label in ``stats`` and ``fixed``.
    """
    if not 0.0 <= min_lambda <= max_lambda <= 1.0:
        raise ValueError(f"Need 0 <= min_lambda <= max_lambda <= 1, got {min_lambda}, {max_lambda}")
    n_labels = max(len(stats), 1)
    total_human = sum(s.human for s in stats.values())
    total_proposed = sum(s.proposed for s in stats.values())
    scores = {}
    for label, s in stats.items():
        ratio = ((s.proposed + 1) / (total_proposed + n_labels)) / (
            (s.human + 1) / (total_human + n_labels)
        )
        scores[label] = s.precision(prior, strength) * ratio ** (-balance)
    scale = max(scores.values()) if relative and scores else 1.0
    lambdas = {
        label: min(max(score / scale, min_lambda), max_lambda) for label, score in scores.items()
    }
    for label, value in fixed.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"Fixed λ for {label} must be in [0, 1], got {value}")
        lambdas[label] = value
    return lambdas


def soft_targets(
    doc: Doc, lambdas: Mapping[str, float], default_lambda: float = DEFAULT_PRIOR
) -> List[TokenTarget]:
    """The label-mixing target of every token of a merged Doc (BILUO tags).

    doc (Doc): A Doc merged by :mod:`hybrid_ner.merge.merger`.
    lambdas (Mapping[str, float]): λ per label (:func:`mixing_lambdas`).
    default_lambda (float): λ of labels missing from ``lambdas``.
    RETURNS (List[TokenTarget]): Per token a distribution over tags, or None.
    """
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
        if targets[i] is not None and OUTSIDE not in targets[i]:
            raise HybridNerError(
                f"{describe_doc(doc)}: token {i} is in a human entity and an LLM candidate; "
                "merge the Doc first"
            )
        share = 1.0 / len(tags)
        dist = {OUTSIDE: 0.0}
        for tag, lam in tags:
            dist[tag] = dist.get(tag, 0.0) + share * lam
            dist[OUTSIDE] += share * (1.0 - lam)
        targets[i] = dist
    return targets


@dataclass(frozen=True)
class LabelMixing:
    """Label-mixing settings; :meth:`fit` turns reliability into λ per label."""

    balance: float = DEFAULT_BALANCE
    min_lambda: float = DEFAULT_MIN_LAMBDA
    max_lambda: float = DEFAULT_MAX_LAMBDA
    prior: float = DEFAULT_PRIOR
    strength: float = DEFAULT_PRIOR_STRENGTH
    lambdas: Tuple[Tuple[str, float], ...] = ()
    relative: bool = DEFAULT_RELATIVE

    def fit(self, stats: Mapping[str, LabelStats]) -> Dict[str, float]:
        """λ per label from the per-label reliability (:func:`mixing_lambdas`)."""
        return mixing_lambdas(
            stats,
            self.balance,
            self.min_lambda,
            self.max_lambda,
            self.prior,
            self.strength,
            dict(self.lambdas),
            self.relative,
        )

    def attach_all(self, docs: Sequence[Doc], lambdas: Mapping[str, float]) -> List[Doc]:
        """Store the targets of each merged Doc in ``doc.user_data["tag_likelihoods"]``
        as fixed rows (:func:`hybrid_ner.tags.fixed_targets`: the one format the
        soft-target NER reads), in place. The columns are the labels the
        targets of all the Docs use, so every Doc has the same tags."""
        dists = [soft_targets(doc, lambdas, self.prior) for doc in docs]
        labels = {
            tag[2:] for targets in dists for dist in targets for tag in dist or () if tag != OUTSIDE
        }
        for doc, targets in zip(docs, dists):
            doc.user_data[TAG_LIKELIHOODS] = fixed_targets(targets, labels)
        return list(docs)


@registry.misc("hybrid_ner.label_mixing.v1")
def create_label_mixing(
    balance: float = DEFAULT_BALANCE,
    min_lambda: float = DEFAULT_MIN_LAMBDA,
    max_lambda: float = DEFAULT_MAX_LAMBDA,
    prior: float = DEFAULT_PRIOR,
    strength: float = DEFAULT_PRIOR_STRENGTH,
    lambdas: Dict[str, float] = {},
    relative: bool = DEFAULT_RELATIVE,
) -> LabelMixing:
    """Label-mixing settings (see the module docstring for the definition).

    balance (float): Class-imbalance correction exponent; 0 uses reliability only.
    min_lambda (float): Lower clip of λ.
    max_lambda (float): Upper clip of λ.
    prior (float): Prior precision for smoothing, and λ of unseen labels.
    strength (float): Weight of the prior, in pseudo-proposals.
    lambdas (Dict[str, float]): λ fixed by hand for some labels.
    relative (bool): Scale λ so that the most reliable label gets 1 (see above).
    """
    mixing = LabelMixing(
        balance, min_lambda, max_lambda, prior, strength, tuple(sorted(lambdas.items())), relative
    )
    mixing.fit({})  # validates the settings now, not at the first Doc
    return mixing
