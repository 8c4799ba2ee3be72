"""Acceptance policies of the merge: per label, ``None`` to accept or the
rejection reason; ``hybrid_ner.accept_<name>.v1`` is ``merge --accept <name>``."""

from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from spacy.util import registry

from ..errors import OptionError
from .reliability import DEFAULT_PRIOR, DEFAULT_PRIOR_STRENGTH, LabelStats

REASON_LABEL = "label_not_accepted"
REASON_RELIABILITY = "low_reliability"

DEFAULT_MIN_PRECISION = 0.3
#: Labels with fewer proposals cannot be judged by ``accept_reliable``.
DEFAULT_MIN_SUPPORT = 10

AcceptancePolicy = Callable[[str, Mapping[str, LabelStats]], Optional[str]]


@dataclass(frozen=True)
class AcceptAll:
    """Accept every label."""

    def __call__(self, label: str, stats: Mapping[str, LabelStats]) -> Optional[str]:
        return None


@dataclass(frozen=True)
class AcceptLabels:
    """Accept only the listed labels."""

    labels: Tuple[str, ...]

    def __call__(self, label: str, stats: Mapping[str, LabelStats]) -> Optional[str]:
        return None if label in self.labels else REASON_LABEL


@dataclass(frozen=True)
class AcceptReliable:
    """Accept a label whose smoothed precision reaches its threshold, or has too few proposals."""

    min_precision: float = DEFAULT_MIN_PRECISION
    label_thresholds: Tuple[Tuple[str, float], ...] = ()
    min_support: int = DEFAULT_MIN_SUPPORT
    prior: float = DEFAULT_PRIOR
    strength: float = DEFAULT_PRIOR_STRENGTH

    def __call__(self, label: str, stats: Mapping[str, LabelStats]) -> Optional[str]:
        label_stats = stats.get(label)
        if label_stats is None or label_stats.proposed < self.min_support:
            return None
        threshold = dict(self.label_thresholds).get(label, self.min_precision)
        precision = label_stats.precision(self.prior, self.strength)
        return None if precision >= threshold else REASON_RELIABILITY


@registry.misc("hybrid_ner.accept_all.v1")
def create_accept_all() -> AcceptancePolicy:
    """Acceptance policy: every LLM label is accepted."""
    return AcceptAll()


@registry.misc("hybrid_ner.accept_labels.v1")
def create_accept_labels(labels: List[str]) -> AcceptancePolicy:
    """Acceptance policy: only ``labels``; others are rejected as "label_not_accepted"."""
    return AcceptLabels(tuple(labels))


@registry.misc("hybrid_ner.accept_reliable.v1")
def create_accept_reliable(
    min_precision: float = DEFAULT_MIN_PRECISION,
    label_thresholds: Dict[str, float] = {},
    min_support: int = DEFAULT_MIN_SUPPORT,
    prior: float = DEFAULT_PRIOR,
    strength: float = DEFAULT_PRIOR_STRENGTH,
) -> AcceptancePolicy:
    """Acceptance policy: a threshold on the LLM's smoothed precision against the human
    (``label_thresholds`` override ``min_precision``); below ``min_support`` proposals: accept."""
    values = {"min_precision": min_precision, "prior": prior, **label_thresholds}
    bad = [f"{name} = {value}" for name, value in values.items() if not 0.0 <= value <= 1.0]
    if min_support < 0 or strength <= 0:
        bad.append(f"min_support = {min_support} (>= 0), strength = {strength} (> 0)")
    if bad:
        raise OptionError(f"accept_reliable: out of range: {', '.join(bad)}; thresholds in [0, 1]")
    thresholds = tuple(sorted(label_thresholds.items()))
    return AcceptReliable(min_precision, thresholds, min_support, prior, strength)
