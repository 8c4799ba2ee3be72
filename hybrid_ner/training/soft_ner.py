"""A NER trained on per-token tag distributions (the reference's ``TAG_LIKELIHOODS``,
else its ``doc.ents``) with constrained Viterbi decoding, so ``doc.ents`` is valid."""

from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.pipeline.ner import ner_score
from spacy.tokens import Doc
from spacy.training import (
    Example,
    biluo_tags_to_spans,
    iob_to_biluo,
    validate_examples,
    validate_get_examples,
)
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
    transition_constraints,
)
from .soft_tagger_model import DEFAULT_MODEL, scaled_update

EPSILON = 1e-9


def evidence_targets(
    eg: Example,
    evidence: Dict[str, object],
    probs: numpy.ndarray,
    tags: Sequence[str],
    scheme: TagScheme,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Targets (n_tokens, n_tags) and mask (n_tokens, 1) from ``evidence`` and ``probs``."""
    where = describe_doc(eg.reference)
    if [t.text for t in eg.predicted] != [t.text for t in eg.reference]:
        raise HybridNerError(
            f"{where}: soft targets need the predicted Doc to have exactly the reference "
            "Doc's tokens; read the corpus with hybrid_ner.MergedCorpus.v1"
        )
    values = numpy.asarray(evidence["values"], dtype="f")
    if len(values) != len(eg.reference):
        raise HybridNerError(f"{where}: evidence for {len(values)} tokens, not {len(eg.reference)}")
    source: List[str] = list(evidence["tags"])  # type: ignore[call-overload]
    fold = biluo_to_bio if scheme == "BIO" else str
    columns = [[i for i, name in enumerate(source) if fold(name) == tag] for tag in tags]
    # Likelihoods average what folds together; a tag the evidence does not
    # know gets the row's smallest likelihood: the annotators never supported it.
    floor = values.min(axis=1)
    likelihood = numpy.stack([values[:, c].mean(axis=1) if c else floor for c in columns], 1)
    joint = probs * likelihood
    target = joint / numpy.maximum(joint.sum(axis=1, keepdims=True), EPSILON)
    if evidence.get("fixed") is not None:
        fixed = numpy.asarray(evidence["fixed"], dtype=bool)
        known = {col for cols in columns for col in cols}
        for col, tag in enumerate(source):
            # Mass on a tag the model lacks cannot be learned: not renormalized away.
            if col not in known and values[fixed, col].any():
                raise HybridNerError(
                    f"{where}: a target has tag {tag!r}, but the model only knows the tags "
                    f"{list(tags)}; include the label when initializing"
                )
        zero = numpy.zeros((len(values),), dtype="f")
        summed = numpy.stack([values[:, c].sum(axis=1) if c else zero for c in columns], 1)
        static = summed / numpy.maximum(summed.sum(axis=1, keepdims=True), EPSILON)
        target = numpy.where(fixed[:, None], static, target)
    return target, numpy.asarray(evidence["mask"], dtype="f").reshape((-1, 1))


def example_targets(
    eg: Example, tags: Sequence[str], scheme: TagScheme
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """One-hot targets from the reference ``doc.ents`` (aligned as spaCy's NER) and their mask."""
    index = {tag: i for i, tag in enumerate(tags)}
    target = numpy.zeros((len(eg.predicted), len(index)), dtype="f")
    mask = numpy.zeros((len(eg.predicted), 1), dtype="f")
    for i, tag in enumerate(eg.get_aligned_ner()):
        if tag in (None, "-"):
            continue
        column = index.get(biluo_to_bio(tag) if scheme == "BIO" else tag)
        if column is None:
            raise HybridNerError(
                f"{describe_doc(eg.reference)}: token {i} has tag {tag!r}, but the NER only "
                f"knows the tags {list(tags)}; include the label when initializing"
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
    """Create a soft-target NER; ``learn_rate_scale``: the head's multiple of the learn rate."""
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
        check_scheme(tag_scheme)
        if not learn_rate_scale > 0:
            raise ValueError(f"'{name}': learn_rate_scale must be > 0, got {learn_rate_scale}")
        self.learn_rate_scale = float(learn_rate_scale)
        self.vocab, self.model, self.name = vocab, model, name
        self.cfg: Dict[str, object] = {"labels": [], "tag_scheme": tag_scheme}
        self.scorer = scorer

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])  # type: ignore[arg-type]

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def tag_scheme(self) -> TagScheme:
        return self.cfg["tag_scheme"]  # type: ignore[return-value]

    @property
    def tags(self) -> List[str]:
        return tag_names(self.labels, self.tag_scheme)

    def add_label(self, label: str) -> int:
        """Add an entity label before initialization; 1 if it is new, else 0."""
        if not isinstance(label, str) or not label:
            raise ValueError(f"Invalid entity label {label!r}")
        if label in self.labels:
            return 0
        if self.model.get_ref("output_layer").has_dim("nO"):
            raise ValueError(
                f"Cannot add label {label!r} to '{self.name}': add it before nlp.initialize()"
            )
        self.cfg["labels"] = sorted(self.labels + (label,))
        return 1

    def tag_probabilities(self, docs: Iterable[Doc]) -> List[numpy.ndarray]:
        """Per Doc, the tag probabilities (n_tokens, n_tags); upstream components must have run."""
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [numpy.zeros((len(doc), len(self.tags)), dtype="f") for doc in docs]
        return [self.model.ops.to_numpy(scores) for scores in self.model.predict(docs)]

    def predict(self, docs: Iterable[Doc]) -> List[numpy.ndarray]:
        """The best valid tag sequence (tag indices) of each Doc."""
        allowed, start, end = transition_constraints(self.tags, self.tag_scheme)
        return [
            constrained_decode(numpy.log(probs + EPSILON), allowed, start, end)
            for probs in self.tag_probabilities(docs)
        ]

    def set_annotations(self, docs: Iterable[Doc], batch_tag_ids: Sequence[numpy.ndarray]) -> None:
        """Set ``doc.ents`` from predicted tags; other tokens become outside."""
        for doc, tag_ids in zip(docs, batch_tag_ids):
            tags = [self.tags[i] for i in tag_ids]
            tags = iob_to_biluo(tags) if self.tag_scheme == "BIO" else tags
            doc.set_ents(biluo_tags_to_spans(doc, tags), default="outside")

    def get_loss(
        self, examples: Iterable[Example], scores: List[Floats2d]
    ) -> Tuple[float, List[Floats2d]]:
        """Soft cross-entropy: the logits' gradient is p − q, 0 where there is no target."""
        validate_examples(examples, "SoftNER.get_loss")
        loss = 0.0
        d_scores = []
        for eg, doc_scores in zip(examples, scores):
            probs = self.model.ops.to_numpy(doc_scores)
            evidence = eg.reference.user_data.get(TAG_LIKELIHOODS)
            if evidence is not None:
                target, mask = evidence_targets(eg, evidence, probs, self.tags, self.tag_scheme)
            else:
                target, mask = example_targets(eg, self.tags, self.tag_scheme)
            loss += float(-(target * numpy.log(probs + EPSILON)).sum())
            d_scores.append(self.model.ops.asarray2f((probs - target) * mask))
        return loss, d_scores

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the weights, the head's at ``learn_rate_scale`` times the rate."""
        scaled_update(self.model, sgd, self.learn_rate_scale)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Set the labels (given, or those the examples' targets use); initialize the model."""
        validate_get_examples(get_examples, "SoftNER.initialize")
        if labels is None:
            labels = []
            for eg in get_examples():
                labels.extend(ent.label_ for ent in eg.reference.ents)
                evidence = eg.reference.user_data.get(TAG_LIKELIHOODS)
                if evidence is not None:
                    labels.extend(tag[2:] for tag in evidence["tags"] if tag != OUTSIDE)
        if not labels:
            raise HybridNerError(f"'{self.name}': no entity labels in the examples, none given")
        self.cfg["labels"] = sorted(set(labels))
        # thinc refuses a different nO already set (in the config: set it to null)
        self.model.get_ref("output_layer").set_dim("nO", len(self.tags))
        self.model.initialize(X=[eg.predicted for eg in islice(get_examples(), 10)])
