"""Calibrated per-token evidence: targets q(y) ∝ p(y | x) · L(y), the model in training
(a *teacher* where nobody annotated) as the prior (docs/method.md, "Targets")."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from spacy.vocab import Vocab

from ...corpus import read_docbin
from ...errors import HybridNerError
from ...layers import LLM_KEY
from ...tags import TAG_LIKELIHOODS, tag_names
from ..reliability import is_human_annotated
from .estimate import AnnotatorCalibration, estimate_calibration
from .evidence import token_likelihoods
from .negative_sampling import NegativeSampling
from .omission import (
    MAX_WIDTH,
    OmissionEstimate,
    agreement_omission_rate,
    combined_omission_rate,
    density_omission_rate,
)

#: Where the human was silent the least share of a label's proposals that must be right there
#: (training hardens what evidence favours): on WikiGold it excludes the 0.5B LLM's labels (at
#: most 0.37), which cost F1, and keeps the simulated GPT-3.5-class MISC (0.42), which adds F1.
DEFAULT_MIN_POSTERIOR = 0.4
#: The teacher's factory (by name: importing it would make merge depend on training).
SOFT_NER = "hybrid_ner_soft_ner"


@dataclass
class FittedEvidence:
    """What :meth:`CalibratedMixing.fit` found (calibration None: proposals unused)."""

    calibration: Optional[AnnotatorCalibration]
    omission_rate: float
    omission_source: str
    labels: List[str]
    spans_key: str = LLM_KEY
    omission: Optional[OmissionEstimate] = None
    agreement: Optional[OmissionEstimate] = None
    no_evidence: bool = False
    trusted: Optional[Tuple[str, ...]] = None

    def summary(self) -> Dict[str, Any]:
        """The calibration's summary with ω, its source and both estimates (JSON)."""
        if self.calibration is not None:
            summary = self.calibration.summary()
        else:
            source = "no evidence from the annotator" if self.no_evidence else "no annotator"
            summary = {"source": source, "biased": False, "labels": {}}
        if self.no_evidence:
            summary["no_evidence"] = True
        summary["trusted"] = list(self.trusted or ())
        summary["omission_rate"] = round(self.omission_rate, 4)
        summary["omission_source"] = self.omission_source
        for key, e in (
            ("omission_estimate", self.omission),
            ("omission_agreement", self.agreement),
        ):
            if e is not None and e.rate is not None:
                values = {"rate": e.rate, "low": e.low, "high": e.high}
                summary[key] = {k: None if v is None else round(v, 4) for k, v in values.items()}
        return summary

    def describe(self) -> str:
        """One line for training logs and ``hybrid-ner stats``."""
        omission = f"omission rate {self.omission_rate:.3f} ({self.omission_source})"
        if self.calibration is None:
            head = "No evidence from the annotator (no proposals in its calibration sample)"
            head = head if self.no_evidence else "No annotator"
            return f"{head}: human-only training, human silence softened by ω; {omission}"
        cal = self.calibration.summary()
        per_label = ", ".join(
            f"{label} P {v['precision']:.3f} R {v['recall']:.3f} proposed {v['proposed']} gold "
            f"{v['gold']} LR+ {v['lr_proposed']:g} LR silence {v['lr_silence']:g}"
            for label, v in cal["labels"].items()
        )
        biased = " (BIASED: measured against the incomplete human annotation; give the "
        biased += "dev set after `hybrid-ner propose` as the calibration sample)"
        return (
            f"Calibration from {cal['source']}{biased if cal['biased'] else ''}: {cal['tokens']} "
            f"tokens, position match {cal['position_match']:.3f}; {per_label}; {omission}; "
            f"labels trusted on human silence: {', '.join(self.trusted or ()) or 'none'}"
        )


@dataclass
class CalibratedMixing:
    """Settings of the calibrated targets (:func:`create_calibrated_mixing`)."""

    calibration: Optional[Path] = None
    omission_rate: Optional[float] = None
    teacher: Optional[Path] = None
    annotator: bool = True
    negative_sampling: Optional[NegativeSampling] = None
    min_posterior: float = DEFAULT_MIN_POSTERIOR

    def fit(self, docs: Sequence[Doc], spans_key: str = LLM_KEY) -> FittedEvidence:
        """Estimate the noise model and ω for a training set (before any merge)."""
        sample = None
        if self.calibration is not None:
            if not self.calibration.exists():
                raise HybridNerError(
                    f"{self.calibration}: calibration file not found (the dev set with gold "
                    "entities; after `hybrid-ner propose` when the annotator is used)"
                )
            sample = read_docbin(self.calibration, docs[0].vocab if docs else Vocab())
            if not sample:
                raise HybridNerError(f"{self.calibration}: the calibration file holds no documents")
            missing = sum(spans_key not in doc.spans for doc in sample)
            if self.annotator and missing:
                raise HybridNerError(
                    f"{self.calibration}: {missing} of {len(sample)} calibration Docs have no "
                    f"doc.spans['{spans_key}'] (run the same annotator on them)"
                )
        calibration = None
        if self.annotator:
            source = str(self.calibration or "agreement with the human annotation")
            calibration = estimate_calibration(sample or docs, spans_key, source, sample is None)
        # An annotator that proposed nothing gives no evidence either way.
        proposed = calibration is not None and any(q.proposed for q in calibration.quality.values())
        no_evidence = calibration is not None and not proposed
        calibration = calibration if proposed else None
        density = density_omission_rate(docs, sample) if sample is not None else None
        agreement = None
        if calibration is not None and not calibration.biased:
            agreement = agreement_omission_rate(docs, calibration, sample, spans_key)
        estimates = [e for e in (agreement, density) if e is not None]
        # Both weighed by their precision; else the one that can tell, if any.
        estimate = combined_omission_rate(estimates) or next(
            (e for e in estimates if e.rate is not None), estimates[-1] if estimates else None
        )
        if self.omission_rate is not None:
            omission, how = self.omission_rate, "given"
        elif estimate is None or estimate.rate is None:
            why = "no calibration sample with complete gold to estimate it from"
            omission, how = 0.0, f"default: {estimate.describe() if estimate else why}"
        else:
            cautious = not estimate.trusted() and estimate.low is not None
            omission = estimate.low if cautious else estimate.rate  # type: ignore[assignment]
            how = f"estimated from {estimate.method}: {estimate.describe()}"
            if cautious:  # a small sample never makes silence count for less than it may
                how = f"cautious, the lower end of the interval: {how} is too uncertain "
                how += f"(wider than {MAX_WIDTH:g}; a larger dev set narrows it)"
        labels = {e.label_ for doc in [*docs, *(sample or ())] for e in doc.ents}
        labels.update(calibration.labels if calibration is not None else ())
        trusted = calibration.trusted(omission, self.min_posterior) if calibration else None
        return FittedEvidence(
            calibration,
            omission,
            how,
            sorted(labels),
            spans_key,
            density,
            agreement,
            no_evidence,
            trusted,
        )

    def attach(self, doc: Doc, fitted: FittedEvidence) -> Doc:
        """Store the tag likelihoods in ``doc.user_data["tag_likelihoods"]``, in place."""
        silence = self.negative_sampling.silence_mask(doc) if self.negative_sampling else None
        args = (fitted.calibration, fitted.omission_rate, fitted.labels, fitted.spans_key)
        doc.user_data[TAG_LIKELIHOODS] = token_likelihoods(doc, *args, silence, fitted.trusted)
        return doc

    def attach_all(self, docs: Sequence[Doc], fitted: FittedEvidence) -> List[Doc]:
        """Attach the evidence; a teacher gives unannotated tokens its posterior (fixed rows)."""
        for doc in docs:
            self.attach(doc, fitted)
        if self.teacher is None:
            return list(docs)
        # Tokens the human left unannotated: the teacher never learned them.
        rows_of = [
            numpy.array([not is_human_annotated(d) or t.ent_iob == 0 for t in d]) for d in docs
        ]
        unseen = [(doc, rows) for doc, rows in zip(docs, rows_of) if rows.any()]
        probs_of = teacher_probabilities(self.teacher, [doc for doc, _ in unseen], fitted.labels)
        for (doc, rows), probs in zip(unseen, probs_of):
            evidence = doc.user_data[TAG_LIKELIHOODS]
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
    """Tag probabilities (``tag_names(labels)``, 0 where it lacks one) of a soft NER."""
    import spacy

    if not Path(path).exists():
        raise HybridNerError(f"{path}: teacher pipeline not found (train on the human alone)")
    nlp = spacy.load(path)
    names = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == SOFT_NER]
    if not names:
        raise HybridNerError(f"{path}: the teacher has no hybrid_ner_soft_ner component")
    ner: Any = nlp.get_pipe(names[0])
    if ner.tag_scheme != "BILUO":
        raise HybridNerError(f"{path}: the teacher's NER uses {ner.tag_scheme}, not BILUO")
    tags, own = tag_names(labels), {tag: i for i, tag in enumerate(ner.tags)}
    columns = [j for j, tag in enumerate(tags) if tag in own]
    sources = [own[tags[j]] for j in columns]
    result: List[numpy.ndarray] = []
    for i in range(0, len(docs), batch_size):
        copies = [
            Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
            for doc in docs[i : i + batch_size]
        ]
        with nlp.select_pipes(disable=names):
            copies = list(nlp.pipe(copies))
        for probs in ner.tag_probabilities(copies):
            out = numpy.zeros((len(probs), len(tags)), dtype="float32")
            out[:, columns] = probs[:, sources]
            result.append(out)
    return result


@registry.misc("hybrid_ner.calibrated_mixing.v1")
def create_calibrated_mixing(
    calibration: Optional[str] = None,
    omission_rate: Optional[float] = None,
    teacher: Optional[str] = None,
    annotator: bool = True,
    negative_sampling: Optional[NegativeSampling] = None,
    min_posterior: float = DEFAULT_MIN_POSTERIOR,
) -> CalibratedMixing:
    """Calibrated per-token evidence (the recommended training targets).

    calibration (Optional[str]): Clean gold DocBin (the dev set, with proposals when
        ``annotator``); None: noise measured against the human (biased), ω not estimated.
    omission_rate (Optional[float]): ω; None estimates it (0 where it cannot).
    teacher (Optional[str]): A soft NER trained on the human annotation alone.
    annotator (bool): Use the proposals; False: human silence softened by ω only.
    min_posterior (float): Where the human was silent, a label's proposals (and the
        annotator's silence) count only if at least this share of them is right there.
    """
    for name, value, top in [
        ("omission_rate", omission_rate, 1.0),
        ("min_posterior", min_posterior, 0.999),
    ]:
        if value is not None and not 0.0 <= value <= top:
            raise HybridNerError(f"calibrated_mixing: {name} must be in [0, {top:g}], got {value}")
    paths = [Path(path) if path else None for path in (calibration, teacher)]
    args = (omission_rate, paths[1], annotator, negative_sampling, min_posterior)
    return CalibratedMixing(paths[0], *args)
