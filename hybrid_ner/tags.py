"""Entity tag schemes (BILUO, BIO), constrained decoding, and the one format of
per-token training targets; targets are built in BILUO, a BIO model folds them."""

from typing import Dict, Iterable, List, Literal, Mapping, Optional, Sequence, Tuple

import numpy

TagScheme = Literal["BILUO", "BIO"]
OUTSIDE = "O"
_PREFIXES: Dict[str, Tuple[str, ...]] = {"BILUO": ("B", "I", "L", "U"), "BIO": ("B", "I")}

#: ``doc.user_data`` key of per-token targets: {"tags": BILUO tags, "values": (n_tokens,
#: n_tags) likelihoods (target ∝ prediction · likelihood) or, in "fixed" rows, the
#: target itself, "mask": (n_tokens,) 0 for no target, "fixed": optional (n_tokens,) bool}.
TAG_LIKELIHOODS = "tag_likelihoods"


def check_scheme(scheme: str) -> None:
    if scheme not in _PREFIXES:
        raise ValueError(f"Unknown tag scheme {scheme!r}: use 'BILUO' or 'BIO'")


def tag_names(labels: Iterable[str], scheme: TagScheme = "BILUO") -> List[str]:
    """All tags of a scheme: "O", then per label (sorted); the model's output order."""
    check_scheme(scheme)
    return [OUTSIDE] + [f"{p}-{label}" for label in sorted(set(labels)) for p in _PREFIXES[scheme]]


def span_tags(length: int, label: str, scheme: TagScheme = "BILUO") -> List[str]:
    """The tags of the tokens of one entity of ``length`` tokens."""
    if length < 1:
        raise ValueError(f"An entity has at least one token, got length {length}")
    check_scheme(scheme)
    inside = [f"B-{label}"] + [f"I-{label}"] * (length - 2) + [f"L-{label}"]
    tags = [f"U-{label}"] if length == 1 else inside
    return [biluo_to_bio(tag) for tag in tags] if scheme == "BIO" else tags


def biluo_to_bio(tag: str) -> str:
    """Map one BILUO tag to its BIO tag (U→B, L→I)."""
    return {"U-": "B-", "L-": "I-"}.get(tag[:2], tag[:2]) + tag[2:]


def transition_constraints(
    tags: Sequence[str], scheme: TagScheme = "BILUO"
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Masks of valid sequences: ``allowed[prev, next]``, and the tags that may start and end."""
    check_scheme(scheme)
    split = [tag.partition("-")[::2] for tag in tags]
    opens = numpy.array([p in (OUTSIDE, "B", "U") for p, _ in split])  # may follow a closed entity
    allowed = numpy.tile(opens, (len(tags), 1))
    for i, (prev, label) in enumerate(split):
        if scheme == "BILUO" and prev in ("B", "I"):
            # An open BILUO entity must continue with I or L of its own label.
            allowed[i] = [p in ("I", "L") and lab == label for p, lab in split]
        elif scheme == "BIO" and prev != OUTSIDE:
            allowed[i] |= [p == "I" and lab == label for p, lab in split]
    end = numpy.array([scheme == "BIO" or p in (OUTSIDE, "L", "U") for p, _ in split])
    return allowed, opens, end


def constrained_decode(
    log_probs: numpy.ndarray, allowed: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray
) -> numpy.ndarray:
    """Viterbi: the most probable valid tag sequence under :func:`transition_constraints`."""
    n_tokens, n_tags = log_probs.shape
    if n_tokens == 0:
        return numpy.zeros((0,), dtype="i")
    forbid = numpy.where(allowed, 0.0, -numpy.inf)
    score = numpy.where(start, log_probs[0], -numpy.inf)
    back = numpy.zeros((n_tokens, n_tags), dtype="i")
    for i in range(1, n_tokens):
        candidates = score[:, None] + forbid  # (prev, next)
        back[i] = candidates.argmax(axis=0)
        score = candidates[back[i], numpy.arange(n_tags)] + log_probs[i]
    score = numpy.where(end, score, -numpy.inf)
    path = numpy.zeros((n_tokens,), dtype="i")
    path[-1] = int(score.argmax())
    for i in range(n_tokens - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def fixed_targets(
    dists: Sequence[Optional[Mapping[str, float]]], labels: Iterable[str]
) -> Dict[str, object]:
    """Per-token distributions over BILUO tags (None: no target) as fixed ``TAG_LIKELIHOODS``."""
    tags = tag_names(labels)
    column = {tag: i for i, tag in enumerate(tags)}
    values = numpy.zeros((len(dists), len(tags)), dtype="float32")
    mask = numpy.zeros((len(dists),), dtype="float32")
    for i, dist in enumerate(dists):
        if dist is not None:
            mask[i] = 1.0
            for tag, prob in dist.items():
                values[i, column[tag]] += prob
    return {"tags": tags, "values": values, "mask": mask, "fixed": numpy.ones(len(dists), bool)}
