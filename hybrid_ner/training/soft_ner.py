"""A trainable NER that learns from per-token tag distributions (soft targets).

It tags tokens (BILUO or BIO) with a softmax, trains with a soft
cross-entropy, and decodes with Viterbi under the scheme's transition
constraints, so ``doc.ents`` is always a valid entity sequence.

Targets per training Example:

* ``reference.user_data["tag_likelihoods"]`` when present (the one format of
  soft targets, :data:`hybrid_ner.tags.TAG_LIKELIHOODS`): for calibrated
  evidence (see :mod:`hybrid_ner.merge.calibration.evidence`) the target of a
  token is the posterior q ∝ p · L of the current prediction p and the
  likelihood L of what the annotators did, so evidence that says nothing
  gives no gradient; rows marked ``fixed`` hold a static distribution (a
  teacher's posterior, λ label mixing from :mod:`hybrid_ner.merge.mixing`).
  The predicted Doc must have the reference's tokens
  (``hybrid_ner.MergedCorpus.v1`` does that);
* otherwise one-hot targets from the reference ``doc.ents``, aligned like
  spaCy's own NER; missing tokens are ignored by the loss.

So every condition (human-only, random selection, label mixing) trains the
same architecture; only the targets differ.
"""

from itertools import islice
from typing import Callable, Dict, Iterable, List, MutableMapping, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.pipeline.ner import ner_score
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer
from thinc.types import Floats2d

from ..errors import HybridNerError
from ..layers import describe_doc
from ..tags import (
    OUTSIDE,
    TAG_LIKELIHOODS,
    TagScheme,
    biluo_to_bio,
    check_scheme,
    constrained_decode,
    tag_names,
    tags_to_spans,
    transition_constraints,
)
from .soft_tagger_model import DEFAULT_MODEL, scaled_update  # registers SoftTagger.v1

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


@Language.factory(
    "hybrid_ner_soft_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={
        "model": DEFAULT_MODEL,
        "tag_scheme": "BILUO",
        "learn_rate_scale": 1.0,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_soft_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    tag_scheme: TagScheme,
    learn_rate_scale: float,
    scorer: Optional[Callable],
) -> "SoftNER":
    """Create a soft-target NER component.

    model (Model[List[Doc], List[Floats2d]]): Per-token tag probabilities,
        e.g. "hybrid_ner.SoftTagger.v1".
    tag_scheme (str): "BILUO" or "BIO".
    learn_rate_scale (float): The head's weights (the layers after the token
        features: hidden layer and softmax) learn at this multiple of the
        optimizer's rate; token features (a cased tok2vec) and a shared
        upstream encoder (updated by its own component) keep the plain rate:
        fine-tuning rates leave a fresh head far from trained after a few
        hundred steps (issue 12; configs/ner_soft.cfg, ``scaled_update``).
    scorer (Optional[Callable]): Scoring method; spaCy's NER scorer by default.
    """
    return SoftNER(
        nlp.vocab,
        model,
        name,
        tag_scheme=tag_scheme,
        learn_rate_scale=learn_rate_scale,
        scorer=scorer,
    )


class SoftNER(TrainablePipe):
    """Token-tagging NER trained on soft targets, with constrained decoding."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "hybrid_ner_soft_ner",
        *,
        tag_scheme: TagScheme = "BILUO",
        learn_rate_scale: float = 1.0,
        scorer: Optional[Callable] = ner_score,
    ) -> None:
        """Initialize the component.

        vocab (Vocab): The shared vocabulary.
        model (Model[List[Doc], List[Floats2d]]): The tagging model.
        name (str): The component name.
        tag_scheme (TagScheme): "BILUO" or "BIO".
        learn_rate_scale (float): Multiple of the optimizer's rate for the
            head's weights (see ``make_soft_ner``).
        scorer (Optional[Callable]): The scoring method.
        """
        check_scheme(tag_scheme)
        if not learn_rate_scale > 0:
            raise ValueError(f"'{name}': learn_rate_scale must be > 0, got {learn_rate_scale}")
        self.learn_rate_scale = float(learn_rate_scale)
        self.vocab = vocab
        self.model = model
        self.name = name
        self.cfg: Dict[str, object] = {"labels": [], "tag_scheme": tag_scheme}
        self.scorer = scorer
        self._constraints: Dict[
            Tuple[str, ...], Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]
        ] = {}
        self._columns: Dict[tuple, List[List[int]]] = {}

    @property
    def labels(self) -> Tuple[str, ...]:
        """The entity labels."""
        return tuple(self.cfg["labels"])  # type: ignore[arg-type]

    @property
    def label_data(self) -> List[str]:
        """The labels, for ``spacy init labels``."""
        return list(self.labels)

    @property
    def tag_scheme(self) -> TagScheme:
        """The tag scheme, "BILUO" or "BIO"."""
        return self.cfg["tag_scheme"]  # type: ignore[return-value]

    @property
    def tags(self) -> List[str]:
        """The model's output classes, in order."""
        return tag_names(self.labels, self.tag_scheme)

    def add_label(self, label: str) -> int:
        """Add an entity label before initialization.

        label (str): The label.
        RETURNS (int): 0 if the label was already present, otherwise 1.
        """
        if not isinstance(label, str) or not label:
            raise ValueError(f"Invalid entity label {label!r}")
        if label in self.labels:
            return 0
        output_layer = self.model.get_ref("output_layer")
        if output_layer.has_dim("nO"):
            raise ValueError(
                f"Cannot add label {label!r} to '{self.name}': its output layer is already "
                f"initialized with {output_layer.get_dim('nO')} tags. "
                "Add labels before nlp.initialize()."
            )
        self.cfg["labels"] = sorted(self.labels + (label,))
        return 1

    def tag_probabilities(self, docs: Iterable[Doc]) -> List[numpy.ndarray]:
        """Per Doc, the model's tag probabilities (n_tokens, len(self.tags)).
        Upstream components (tok2vec, transformer) must have run on the Docs.

        docs (Iterable[Doc]): The Docs.
        RETURNS (List[ndarray]): Probabilities in the order of ``self.tags``.
        """
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [numpy.zeros((len(doc), len(self.tags)), dtype="f") for doc in docs]
        ops = self.model.ops
        return [ops.to_numpy(scores) for scores in self.model.predict(docs)]

    def predict(self, docs: Iterable[Doc]) -> List[numpy.ndarray]:
        """The best valid tag sequence of each Doc.

        docs (Iterable[Doc]): The Docs.
        RETURNS (List[ndarray]): Tag indices per Doc.
        """
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [numpy.zeros((len(doc),), dtype="i") for doc in docs]
        scores = self.model.predict(docs)
        allowed, start, end = self._transition_constraints()
        ops = self.model.ops
        return [
            constrained_decode(numpy.log(ops.to_numpy(doc_scores) + EPSILON), allowed, start, end)
            for doc_scores in scores
        ]

    def set_annotations(self, docs: Iterable[Doc], batch_tag_ids: Sequence[numpy.ndarray]) -> None:
        """Set ``doc.ents`` from predicted tags; other tokens become outside.

        docs (Iterable[Doc]): The Docs.
        batch_tag_ids (Sequence[ndarray]): From :meth:`predict`.
        """
        tags = self.tags
        for doc, tag_ids in zip(docs, batch_tag_ids):
            spans = [
                Span(doc, s, e, label=label)
                for s, e, label in tags_to_spans([tags[i] for i in tag_ids])
            ]
            doc.set_ents(spans, default="outside")

    def get_loss(
        self, examples: Iterable[Example], scores: List[Floats2d]
    ) -> Tuple[float, List[Floats2d]]:
        """Soft cross-entropy against the token distributions.

        With softmax outputs p and a target distribution q the gradient with
        respect to the logits is p − q; tokens without a target get none.

        examples (Iterable[Example]): The batch.
        scores (List[Floats2d]): Predicted probabilities per Doc.
        RETURNS (Tuple[float, List[Floats2d]]): The loss and the gradients.
        """
        validate_examples(examples, "SoftNER.get_loss")
        ops = self.model.ops
        index = {tag: i for i, tag in enumerate(self.tags)}
        loss = 0.0
        d_scores = []
        for eg, doc_scores in zip(examples, scores):
            probs = ops.to_numpy(doc_scores)
            evidence = eg.reference.user_data.get(TAG_LIKELIHOODS)
            if evidence is not None:
                target, mask = evidence_targets(
                    eg, evidence, probs, self.tags, self.tag_scheme, self._columns
                )
            else:
                target, mask = example_targets(eg, index, self.tag_scheme, self.name, self.labels)
            loss += float(-(target * numpy.log(probs + EPSILON)).sum())
            d_scores.append(ops.asarray2f((probs - target) * mask))
        return loss, d_scores

    def finish_update(self, sgd: Optimizer) -> None:
        """Update this component's weights, the head's at ``learn_rate_scale``
        times the optimizer's rate (see ``soft_tagger_model.scaled_update``).

        sgd (Optimizer): The optimizer.
        """
        scaled_update(self.model, sgd, self.learn_rate_scale)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Set the labels (given, or found in the examples) and initialize the model.

        get_examples (Callable[[], Iterable[Example]]): Training examples.
        nlp (Optional[Language]): The pipeline.
        labels (Optional[List[str]]): Labels to use instead of those found.
        """
        validate_get_examples(get_examples, "SoftNER.initialize")
        if labels is None:
            labels = target_labels(eg.reference for eg in get_examples())
        if not labels:
            raise HybridNerError(
                f"'{self.name}' found no entity labels in the training examples and none were given"
            )
        self.cfg["labels"] = sorted(set(labels))
        output_layer = self.model.get_ref("output_layer")
        if output_layer.has_dim("nO") and output_layer.get_dim("nO") != len(self.tags):
            raise ValueError(
                f"'{self.name}': the output layer has nO={output_layer.get_dim('nO')} but "
                f"{len(self.labels)} labels need {len(self.tags)} {self.tag_scheme} tags; "
                "set nO = null"
            )
        output_layer.set_dim("nO", len(self.tags))
        doc_sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)

    def _transition_constraints(self) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        key = tuple(self.tags)
        if key not in self._constraints:
            self._constraints = {key: transition_constraints(key, self.tag_scheme)}
        return self._constraints[key]
