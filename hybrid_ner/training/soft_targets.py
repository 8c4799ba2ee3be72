"""The per-token training targets of the soft-target NER
(:mod:`hybrid_ner.training.soft_ner`), as arrays in the component's tag order.

* :func:`evidence_targets`: from ``reference.user_data["tag_likelihoods"]``
  (:data:`hybrid_ner.tags.TAG_LIKELIHOODS`, the one format of soft targets):
  calibrated evidence, i.e. the posterior of the current prediction and the
  annotators' likelihoods, or in rows marked ``fixed`` a static target
  distribution (a teacher's posterior, λ label mixing);
* :func:`example_targets`: else one-hot from the reference ``doc.ents``.
"""

from typing import Dict, Iterable, List, MutableMapping, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from spacy.training import Example

from ..errors import HybridNerError
from ..layers import describe_doc
from ..tags import OUTSIDE, TAG_LIKELIHOODS, TagScheme, biluo_to_bio

EPSILON = 1e-9

#: Cache of :func:`evidence_targets`: per (evidence tags, model tags, scheme)
#: the evidence columns of each model tag.
ColumnCache = MutableMapping[tuple, List[List[int]]]


def target_labels(references: Iterable[Doc]) -> List[str]:
    """The entity labels the targets of these reference Docs use: their
    entities and soft targets.

    references (Iterable[Doc]): The reference Docs of the training examples.
    RETURNS (List[str]): The labels, sorted.
    """
    found = set()
    for doc in references:
        found.update(ent.label_ for ent in doc.ents)
        evidence = doc.user_data.get(TAG_LIKELIHOODS)
        if evidence is not None:
            found.update(tag[2:] for tag in evidence["tags"] if tag != OUTSIDE)
    return sorted(found)


def check_same_tokens(eg: Example, what: str) -> None:
    """Per-token targets need the predicted Doc to have the reference's tokens.

    eg (Example): The example.
    what (str): The kind of targets, for the message.
    RAISES (HybridNerError): If the tokens differ.
    """
    if [t.text for t in eg.predicted] != [t.text for t in eg.reference]:
        raise HybridNerError(
            f"{describe_doc(eg.reference)}: {what} need the predicted Doc to have exactly the "
            f"reference Doc's tokens; read the corpus with hybrid_ner.MergedCorpus.v1"
        )


def _evidence_columns(source: Sequence[str], tags: Sequence[str], scheme: TagScheme) -> list:
    """Per model tag, the evidence columns it stands for (BIO folds B/U and I/L)."""
    position = {tag: i for i, tag in enumerate(source)}
    columns = []
    for tag in tags:
        if scheme == "BILUO" or tag == OUTSIDE:
            names = [tag]
        elif tag.startswith("B-"):
            names = [tag, "U-" + tag[2:]]
        else:
            names = [tag, "L-" + tag[2:]]
        columns.append([position[n] for n in names if n in position])
    return columns


def evidence_targets(
    eg: Example,
    evidence: Dict[str, object],
    probs: numpy.ndarray,
    tags: Sequence[str],
    scheme: TagScheme,
    cache: ColumnCache,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Targets (n_tokens, n_tags) in the order of ``tags``, and the mask of
    tokens with a target: the posterior ∝ probs · likelihood, or for rows
    marked ``fixed`` the distribution the evidence holds (a teacher's
    posterior, λ label mixing).

    eg (Example): The example; its reference carries the evidence.
    evidence (Dict[str, object]): ``tags``, ``values``, ``mask``, ``fixed``.
    probs (numpy.ndarray): The model's tag probabilities (n_tokens, n_tags).
    tags (Sequence[str]): The model's tags, in order.
    scheme (TagScheme): The model's tag scheme.
    cache (ColumnCache): Reused between calls; holds the last column map.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): Targets and mask (n_tokens, 1).
    """
    check_same_tokens(eg, "soft targets")
    values = numpy.asarray(evidence["values"], dtype="f")
    if len(values) != len(eg.reference):
        raise HybridNerError(
            f"{describe_doc(eg.reference)}: evidence for {len(values)} tokens, "
            f"the Doc has {len(eg.reference)}"
        )
    source: List[str] = list(evidence["tags"])  # type: ignore[call-overload]
    key = (tuple(source), tuple(tags), scheme)
    if key not in cache:
        columns = _evidence_columns(source, tags, scheme)
        cache.clear()
        cache[key] = columns
    columns = cache[key]
    # Likelihoods average what folds together; a tag the evidence does not
    # know (a label only the model has) gets the row's smallest likelihood:
    # the annotators never supported it.
    floor = values.min(axis=1)
    likelihood = numpy.stack(
        [values[:, cols].mean(axis=1) if cols else floor for cols in columns], axis=1
    )
    joint = probs * likelihood
    target = joint / numpy.maximum(joint.sum(axis=1, keepdims=True), EPSILON)
    fixed = evidence.get("fixed")
    if fixed is not None:
        fixed = numpy.asarray(fixed, dtype=bool)
        _check_fixed_tags(eg, source, values[fixed], columns, tags)
        # Probabilities sum what folds together; unknown tags get none.
        zero = numpy.zeros((len(values),), dtype="f")
        summed = numpy.stack(
            [values[:, cols].sum(axis=1) if cols else zero for cols in columns], axis=1
        )
        static = summed / numpy.maximum(summed.sum(axis=1, keepdims=True), EPSILON)
        target = numpy.where(fixed[:, None], static, target)
    return target, numpy.asarray(evidence["mask"], dtype="f").reshape((-1, 1))


def _check_fixed_tags(
    eg: Example,
    source: Sequence[str],
    rows: numpy.ndarray,
    columns: Sequence[Sequence[int]],
    tags: Sequence[str],
) -> None:
    """A fixed target with mass on a tag the model lacks cannot be learned:
    say so instead of renormalizing it away."""
    known = {col for cols in columns for col in cols}
    for col, tag in enumerate(source):
        if col not in known and rows[:, col].any():
            raise HybridNerError(
                f"{describe_doc(eg.reference)}: a target has tag {tag!r}, but the model only "
                f"knows the tags {list(tags)}; include the label when initializing"
            )


def example_targets(
    eg: Example,
    index: Dict[str, int],
    scheme: TagScheme,
    name: str,
    labels: Sequence[str],
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """One-hot targets (n_tokens, n_tags) from the reference ``doc.ents``,
    aligned to the predicted tokens like spaCy's own NER, and a mask of
    tokens with a target (missing tokens have none).

    eg (Example): The example.
    index (Dict[str, int]): Column of each of the model's tags.
    scheme (TagScheme): The model's tag scheme (BILUO tags fold into BIO).
    name (str): The component's name, for messages.
    labels (Sequence[str]): The component's labels, for messages.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): Targets and mask (n_tokens, 1).
    """
    target = numpy.zeros((len(eg.predicted), len(index)), dtype="f")
    mask = numpy.zeros((len(eg.predicted), 1), dtype="f")
    bio = scheme == "BIO"
    for i, tag in enumerate(eg.get_aligned_ner()):
        if tag in (None, "-"):
            continue
        column = index.get(biluo_to_bio(tag) if bio else tag)
        if column is None:
            raise HybridNerError(
                f"{describe_doc(eg.reference)}: token {i} has tag {tag!r}, but '{name}' "
                f"only knows the labels {list(labels)}; include the label when initializing"
            )
        mask[i] = 1.0
        target[i, column] = 1.0
    return target, mask
