"""``hybrid_ner.calibrated_mixing.v1``: calibrated per-token evidence for training.

The recommended way to train on human + LLM annotation (see :mod:`.evidence`
for the likelihoods). Used as the ``mixing`` block of
``hybrid_ner.MergedCorpus.v1``: at each read the reader calls :meth:`fit` on
the training Docs, then :meth:`attach_all`; no merge happens (the evidence
reads the human annotation and the proposals itself).

The target of a token is a posterior: prior × likelihood of what the
annotators did, q(y) ∝ p(y | x) · L(y); where the evidence does not depend on
the tag (an annotator at chance, a useless annotator's silence) the token
gets no target at all, so with a useless annotator training equals training
on the human annotation alone. The prior p(y | x):

* in Docs (and tokens) the human annotated: the model in training (an
  EM-style posterior, recomputed at every step);
* in Docs nobody annotated: a *teacher*, the same NER trained on the human
  annotation alone, which never saw these Docs. A fixed prior matters there:
  measured with a low-recall annotator, the model's own prediction as prior
  lets the annotator's silence on thousands of unannotated tokens pull
  entities towards "outside" step after step (F1 0.310 vs 0.374 for the
  human annotation alone, WikiGold, 10% budget); with the teacher 0.397.
  Inside human-annotated Docs the teacher is the wrong prior: it learned
  those very tokens, omissions included, as "outside" (0.353 vs 0.410 with
  the model's own prediction, 40% omissions).

Without a teacher the model in training is the prior everywhere.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from spacy.vocab import Vocab

from ...corpus import read_docbin
from ...errors import HybridNerError
from ...layers import LLM_KEY
from ...tags import TAG_LIKELIHOODS, tag_names
from ..reliability import is_human_annotated
from .estimate import DEFAULT_STRENGTH, AnnotatorCalibration, estimate_calibration
from .evidence import token_likelihoods
from .negative_sampling import NegativeSampling
from .omission import (
    DEFAULT_MAX_WIDTH,
    OmissionEstimate,
    agreement_omission_rate,
    combined_omission_rate,
    density_omission_rate,
)

#: The factory of the teacher's component (``hybrid_ner.training.soft_ner``).
SOFT_NER = "hybrid_ner_soft_ner"


@dataclass
class FittedEvidence:
    """What :meth:`CalibratedMixing.fit` found: the noise model and ω.

    calibration (Optional[AnnotatorCalibration]): The annotator's noise
        model; None when the annotator is not used (human silence alone).
    omission_rate (float): ω used for human silence.
    omission_source (str): "given", "estimated (...)" or "default: ...".
    labels (List[str]): The entity labels of the targets.
    spans_key (str): The proposals' span group.
    omission (Optional[OmissionEstimate]): The entity-density estimate of ω
        (used when there is no annotator).
    agreement (Optional[OmissionEstimate]): The annotator-agreement estimate
        (used when there is an annotator).
    no_evidence (bool): The annotator was asked for but proposed nothing in
        the calibration sample: its proposals are ignored.
    """

    calibration: Optional[AnnotatorCalibration]
    omission_rate: float
    omission_source: str
    labels: List[str]
    spans_key: str = LLM_KEY
    omission: Optional[OmissionEstimate] = None
    agreement: Optional[OmissionEstimate] = None
    no_evidence: bool = False

    def summary(self) -> Dict[str, object]:
        """The calibration's summary with ω, its source and both estimates."""
        summary: Dict[str, object] = (
            dict(self.calibration.summary())
            if self.calibration is not None
            else {
                "source": "no evidence from the annotator" if self.no_evidence else "no annotator",
                "biased": False,
                "labels": {},
            }
        )
        if self.no_evidence:
            summary["no_evidence"] = True
        summary["omission_rate"] = round(self.omission_rate, 4)
        summary["omission_source"] = self.omission_source
        for key, estimate in (
            ("omission_estimate", self.omission),
            ("omission_agreement", self.agreement),
        ):
            if estimate is not None and estimate.rate is not None:
                summary[key] = {
                    "rate": round(estimate.rate, 4),
                    "low": None if estimate.low is None else round(estimate.low, 4),
                    "high": None if estimate.high is None else round(estimate.high, 4),
                }
        return summary

    def describe(self) -> str:
        """One line per fact, for training logs."""
        omission = f"omission rate {self.omission_rate:.2f} ({self.omission_source})"
        if (
            self.agreement is not None
            and self.agreement.rate is not None
            and self.omission is not None
            and self.omission.rate is not None
        ):
            omission += f"; from entity density {self.omission.describe()}"
            if self.omission.rate - self.agreement.rate > 0.1:
                omission += (
                    " (higher: the dev set is unlike the training set, or the human omits "
                    "what the annotator misses too)"
                )
        if self.no_evidence:
            return (
                "No evidence from the annotator: its calibration sample holds no proposals, so "
                "they are ignored and this is human-only training (human silence softened by "
                f"ω); check the proposals (`hybrid-ner score-proposals`): {omission}"
            )
        if self.calibration is None:
            return f"No annotator (human silence softened by ω): {omission}"
        cal = self.calibration.summary()
        per_label = ", ".join(
            f"{label} P {v['precision']:.2f} R {v['recall']:.2f} LR+ {v['lr_proposed']:g}"  # type: ignore[index]
            for label, v in cal["labels"].items()  # type: ignore[union-attr]
        )
        warning = (
            " (BIASED: measured against the incomplete human annotation; give a calibration file)"
            if self.calibration.biased
            else ""
        )
        ratios = [
            float(v[key])  # type: ignore[index]
            for v in cal["labels"].values()  # type: ignore[union-attr]
            for key in ("lr_proposed", "lr_silence")
        ]
        if all(0.8 <= r <= 1.25 for r in ratios):
            warning += (
                " (NO EVIDENCE: the annotator's answers hardly depend on the truth, so the "
                "targets are about those of human-only training)"
            )
        return f"Calibration from {cal['source']}{warning}: {per_label}; {omission}"


@dataclass
class CalibratedMixing:
    """Settings of the calibrated targets.

    calibration (Optional[Path]): DocBin with clean gold ``doc.ents`` (the dev
        set) and, when ``annotator`` is on, the same annotator's proposals (the
        dev set run through ``propose``). It measures the annotator's noise and
        ω. None: the annotator is measured against the human annotation
        (biased) and ω cannot be estimated.
    omission_rate (Optional[float]): ω; None estimates it (:mod:`.omission`):
        from the annotator's agreement with the human, or without an annotator
        from the entity density of the human annotation against the
        calibration sample.
    default_omission_rate (float): ω when it is not given and no trusted
        estimate exists (0: human silence is trusted, as when training on the
        human annotation alone).
    strength (float): Pseudo-tokens shrinking the likelihoods towards chance.
    teacher (Optional[Path]): A pipeline trained on the human annotation alone
        with a ``hybrid_ner_soft_ner`` component: its tag probabilities are the
        prior of the tokens nobody annotated (module docstring). None: the
        model in training is the prior everywhere.
    annotator (bool): Use the annotator's proposals. False: the LLM-free
        variant, human silence softened by ω (and, with a teacher, the
        teacher's own predictions where nobody annotated: self-training).
    max_omission_width (float): The widest 90% interval of an ω estimate
        whose point value is used; with a wider one (a small sample) the
        interval's lower end is used instead.
    negative_sampling (Optional[NegativeSampling]): Human silence is evidence
        on a sample of the silent tokens only (Li et al. 2021); None: on all.
    """

    calibration: Optional[Path] = None
    omission_rate: Optional[float] = None
    default_omission_rate: float = 0.0
    strength: float = DEFAULT_STRENGTH
    teacher: Optional[Path] = None
    annotator: bool = True
    max_omission_width: float = DEFAULT_MAX_WIDTH
    negative_sampling: Optional[NegativeSampling] = None
    _calibration_docs: Dict[str, List[Doc]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name, value in (
            ("omission_rate", self.omission_rate),
            ("default_omission_rate", self.default_omission_rate),
            ("max_omission_width", self.max_omission_width),
        ):
            if value is not None and not 0.0 <= value <= 1.0:
                raise HybridNerError(f"calibrated_mixing: {name} must be in [0, 1], got {value}")
        if self.strength < 0:
            raise HybridNerError(f"calibrated_mixing: strength must be >= 0, got {self.strength}")

    def _sample(self, vocab: Vocab) -> List[Doc]:
        assert self.calibration is not None
        key = str(self.calibration)
        if key not in self._calibration_docs:
            if not Path(self.calibration).exists():
                raise HybridNerError(
                    f"{self.calibration}: calibration file not found "
                    "(the dev set with gold entities; after `hybrid-ner propose` when the "
                    "annotator is used)"
                )
            docs = read_docbin(self.calibration, vocab)
            if not docs:
                raise HybridNerError(
                    f"{self.calibration}: the calibration file holds no documents "
                    "(give the dev set with gold entities)"
                )
            self._calibration_docs = {key: docs}
        return self._calibration_docs[key]

    def _annotator_calibration(
        self, docs: Sequence[Doc], sample: Optional[List[Doc]], spans_key: str
    ) -> AnnotatorCalibration:
        if sample is None:
            return estimate_calibration(
                docs,
                spans_key,
                source="agreement with the human annotation",
                biased=True,
                strength=self.strength,
            )
        missing = sum(spans_key not in doc.spans for doc in sample)
        if missing:
            raise HybridNerError(
                f"{self.calibration}: {missing} of {len(sample)} calibration Docs have no "
                f"doc.spans['{spans_key}'] (run the same annotator on them)"
            )
        return estimate_calibration(
            sample, spans_key, source=str(self.calibration), strength=self.strength
        )

    def fit(self, docs: Sequence[Doc], spans_key: str = LLM_KEY) -> FittedEvidence:
        """Estimate the noise model and ω for a training set (before any merge)."""
        sample = (
            self._sample(docs[0].vocab if docs else Vocab())
            if self.calibration is not None
            else None
        )
        calibration = (
            self._annotator_calibration(docs, sample, spans_key) if self.annotator else None
        )
        silent_annotator = calibration is not None and not any(
            q.proposed for q in calibration.quality.values()
        )
        if silent_annotator:
            # Nothing proposed: no evidence either way, nothing to calibrate.
            calibration = None
        density = density_omission_rate(docs, sample) if sample is not None else None
        agreement = (
            agreement_omission_rate(docs, calibration, spans_key, sample=sample)
            if calibration is not None and not calibration.biased
            else None
        )
        # Both estimates, each weighed by how precise it is.
        estimate = combined_omission_rate([e for e in (agreement, density) if e is not None])
        if estimate is None:  # neither has an interval: the one that can tell, if any
            estimate = next(
                (e for e in (agreement, density) if e is not None and e.rate is not None),
                density or agreement,
            )
        if self.omission_rate is not None:
            omission, how = self.omission_rate, "given"
        elif estimate is None or estimate.rate is None:
            reason = (
                estimate.describe()
                if estimate is not None
                else "no calibration sample with complete gold to estimate it from"
            )
            omission, how = self.default_omission_rate, f"default: {reason}"
        elif estimate.trusted(self.max_omission_width) or estimate.low is None:
            omission, how = (
                estimate.rate,
                f"estimated from {estimate.method}: {estimate.describe()}",
            )
        else:
            omission, how = (
                max(estimate.low, self.default_omission_rate),
                f"cautious, the lower end of the interval: {estimate.method} estimate "
                f"{estimate.describe()} is too uncertain (interval wider than "
                f"{self.max_omission_width:g}; a larger dev set narrows it)",
            )
        labels = sorted(
            {
                *(calibration.labels if calibration is not None else ()),
                *(e.label_ for doc in docs for e in doc.ents),
                *(e.label_ for doc in sample or () for e in doc.ents),
            }
        )
        return FittedEvidence(
            calibration, omission, how, labels, spans_key, density, agreement, silent_annotator
        )

    def attach(self, doc: Doc, fitted: FittedEvidence) -> Doc:
        """Store the tag likelihoods in ``doc.user_data["tag_likelihoods"]``, in place."""
        doc.user_data[TAG_LIKELIHOODS] = token_likelihoods(
            doc,
            fitted.calibration,
            fitted.omission_rate,
            fitted.spans_key,
            fitted.labels,
            self.negative_sampling.silence_mask(doc) if self.negative_sampling else None,
        )
        return doc

    def attach_all(self, docs: Sequence[Doc], fitted: FittedEvidence) -> List[Doc]:
        """Attach the evidence to every Doc; with a teacher, as fixed posteriors."""
        for doc in docs:
            self.attach(doc, fitted)
        if self.teacher is not None:
            # Tokens the human left unannotated: the teacher never learned them.
            rows_of = {
                id(doc): numpy.array(
                    [not is_human_annotated(doc) or t.ent_iob == 0 for t in doc], dtype=bool
                )
                for doc in docs
            }
            unseen = [doc for doc in docs if rows_of[id(doc)].any()]
            for doc, probs in zip(
                unseen, teacher_probabilities(self.teacher, unseen, fitted.labels)
            ):
                evidence = doc.user_data[TAG_LIKELIHOODS]
                rows = rows_of[id(doc)]
                values = evidence["values"]
                joint = probs * values
                total = joint.sum(axis=1, keepdims=True)
                posterior = numpy.where(
                    total > 1e-12,
                    joint / numpy.maximum(total, 1e-12),
                    values / values.sum(axis=1, keepdims=True),
                )
                evidence["values"] = numpy.where(rows[:, None], posterior, values).astype("float32")
                evidence["fixed"] = rows
        return list(docs)


def teacher_probabilities(
    path: Path, docs: Sequence[Doc], labels: Sequence[str], batch_size: int = 256
) -> List[numpy.ndarray]:
    """The teacher's tag probabilities for each Doc, in the order of
    ``tag_names(labels)`` (tags the teacher lacks get 0).

    path (Path): A pipeline with a ``hybrid_ner_soft_ner`` component (BILUO).
    docs (Sequence[Doc]): The Docs (their tokens are kept).
    labels (Sequence[str]): The entity labels of the evidence.
    RETURNS (List[numpy.ndarray]): (n_tokens, n_tags) per Doc.
    """
    import spacy

    if not Path(path).exists():
        raise HybridNerError(
            f"{path}: teacher pipeline not found (train on the human annotation alone first)"
        )
    nlp = spacy.load(path)
    # By factory name: importing the component would make the merge depend on training.
    names = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == SOFT_NER]
    if not names:
        raise HybridNerError(f"{path}: the teacher has no hybrid_ner_soft_ner component")
    ner: Any = nlp.get_pipe(names[0])
    if ner.tag_scheme != "BILUO":
        raise HybridNerError(
            f"{path}: the teacher's NER uses {ner.tag_scheme}; calibrated targets need BILUO"
        )
    wanted = tag_names(labels)
    own = {tag: i for i, tag in enumerate(ner.tags)}
    columns = [own.get(tag) for tag in wanted]
    result: List[numpy.ndarray] = []
    for i in range(0, len(docs), batch_size):
        copies = [
            Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
            for doc in docs[i : i + batch_size]
        ]
        with nlp.select_pipes(disable=names):
            copies = list(nlp.pipe(copies))
        for probs in ner.tag_probabilities(copies):
            out = numpy.zeros((len(probs), len(wanted)), dtype="float32")
            for j, column in enumerate(columns):
                if column is not None:
                    out[:, j] = probs[:, column]
            result.append(out)
    return result


@registry.misc("hybrid_ner.calibrated_mixing.v1")
def create_calibrated_mixing(
    calibration: Optional[str] = None,
    omission_rate: Optional[float] = None,
    default_omission_rate: float = 0.0,
    strength: float = DEFAULT_STRENGTH,
    teacher: Optional[str] = None,
    annotator: bool = True,
    max_omission_width: float = DEFAULT_MAX_WIDTH,
    negative_sampling: Optional[NegativeSampling] = None,
) -> CalibratedMixing:
    """Calibrated per-token evidence (the recommended training targets).

    calibration (Optional[str]): DocBin with clean gold (the dev set), with
        the annotator's proposals when ``annotator`` is on (the dev set after
        ``hybrid-ner propose``); None: estimate against the human annotation
        (biased, said in the log) and no estimate of ω.
    omission_rate (Optional[float]): The human's omission rate ω; None
        estimates it (from agreement with the annotator, or without one from
        entity densities, calibration sample vs training).
    default_omission_rate (float): ω when it is not given and cannot be
        estimated.
    strength (float): Shrinkage towards chance, in pseudo-tokens.
    teacher (Optional[str]): A pipeline trained on the human annotation alone
        (soft NER): the prior of the tokens nobody annotated. Recommended when
        some documents have no human annotation (budget).
    annotator (bool): Use the proposals (False: the LLM-free variant, human
        silence softened by ω, self-training where nobody annotated).
    max_omission_width (float): The widest 90% interval of an ω estimate
        whose point value is used (wider: its lower end).
    negative_sampling (Optional[NegativeSampling]):
        "hybrid_ner.negative_sampling.v1": human silence is evidence on a
        sample of the silent tokens only; None: on all of them.
    """
    return CalibratedMixing(
        Path(calibration) if calibration else None,
        omission_rate,
        default_omission_rate,
        strength,
        Path(teacher) if teacher else None,
        annotator,
        max_omission_width,
        negative_sampling,
    )
