"""Acceptance policies of the merge: which LLM labels may be added at all.

A policy decides per label, from the per-label reliability
(:mod:`hybrid_ner.merge.reliability`): ``None`` to accept, or the reason of
the rejection. Each is registered as ``hybrid_ner.accept_<name>.v1``; the
``merge`` command's ``--accept <name>`` picks one by that name.
"""

from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from spacy.util import registry

from ..errors import OptionError
from .reliability import DEFAULT_PRIOR, DEFAULT_PRIOR_STRENGTH, LabelStats

REASON_LABEL = "label_not_accepted"
REASON_RELIABILITY = "low_reliability"

#: Name of the default policy (``hybrid_ner.accept_all.v1``, :class:`AcceptAll`).
DEFAULT_ACCEPT = "all"
#: Default minimum smoothed precision of ``hybrid_ner.accept_reliable.v1``.
DEFAULT_MIN_PRECISION = 0.3
#: Default number of proposals below which ``accept_reliable`` cannot judge a label.
DEFAULT_MIN_SUPPORT = 10

#: Registered names of the policies: ``ACCEPT_PREFIX + name + ACCEPT_SUFFIX``.
ACCEPT_PREFIX = "hybrid_ner.accept_"
ACCEPT_SUFFIX = ".v1"

#: Decides per label: None to accept, or the rejection reason.
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
    """Accept a label when the LLM's estimated precision against the human
    reaches a threshold. Labels with fewer than ``min_support`` proposals on
    doubly annotated Docs cannot be judged and are accepted."""

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
        return (
            None
            if label_stats.precision(self.prior, self.strength) >= threshold
            else REASON_RELIABILITY
        )


def accept_policy_name(name: str) -> str:
    """The registered name of the acceptance policy called ``name``.

    name (str): E.g. "all", "labels" or "reliable".
    RETURNS (str): E.g. "hybrid_ner.accept_reliable.v1".
    """
    return f"{ACCEPT_PREFIX}{name}{ACCEPT_SUFFIX}"


def accept_policy_choices() -> List[str]:
    """The names of the registered acceptance policies, sorted ("all", ...)."""
    return sorted(
        key[len(ACCEPT_PREFIX) : -len(ACCEPT_SUFFIX)]
        for key in registry.misc.get_all()
        if key.startswith(ACCEPT_PREFIX) and key.endswith(ACCEPT_SUFFIX)
    )


@registry.misc("hybrid_ner.accept_all.v1")
def create_accept_all() -> AcceptancePolicy:
    """Acceptance policy: every LLM label is accepted."""
    return AcceptAll()


@registry.misc("hybrid_ner.accept_labels.v1")
def create_accept_labels(labels: List[str]) -> AcceptancePolicy:
    """Acceptance policy: only the listed labels are accepted.

    labels (List[str]): Accepted labels; proposals with other labels are
        rejected as "label_not_accepted".
    """
    return AcceptLabels(tuple(labels))


@registry.misc("hybrid_ner.accept_reliable.v1")
def create_accept_reliable(
    min_precision: float = DEFAULT_MIN_PRECISION,
    label_thresholds: Dict[str, float] = {},
    min_support: int = DEFAULT_MIN_SUPPORT,
    prior: float = DEFAULT_PRIOR,
    strength: float = DEFAULT_PRIOR_STRENGTH,
) -> AcceptancePolicy:
    """Acceptance policy: a per-label reliability threshold.

    min_precision (float): Minimum smoothed precision of the LLM against the
        human (see reliability.LabelStats.precision), for every label.
    label_thresholds (Dict[str, float]): Per-label thresholds overriding it.
    min_support (int): Labels with fewer proposals on Docs both annotated are
        accepted (too little evidence to reject them).
    prior (float): Prior precision used for smoothing.
    strength (float): Weight of the prior, in pseudo-proposals.
    """
    # OptionError is a ValueError that the CLI prints as one line, not a traceback.
    for name, value in [
        ("min_precision", min_precision),
        *label_thresholds.items(),
        ("prior", prior),
    ]:
        if not 0.0 <= value <= 1.0:
            raise OptionError(f"accept_reliable: {name} must be in [0, 1], got {value}")
    if min_support < 0 or not strength > 0:
        raise OptionError(
            "accept_reliable: min_support must be >= 0 and strength > 0, "
            f"got {min_support} and {strength}"
        )
    return AcceptReliable(
        min_precision, tuple(sorted(label_thresholds.items())), min_support, prior, strength
    )
