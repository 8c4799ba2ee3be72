"""Calibrated evidence: how far each annotation source deserves to be trusted.

* :mod:`.estimate`: the annotator's noise model P(observation | true label),
  measured on documents with trustworthy gold (the calibration sample).
* :mod:`.omission`: the human annotation's omission rate ω, with its interval.
* :mod:`.evidence`: per-token tag likelihoods from all the evidence (human
  entities, human silence, LLM proposals, LLM silence).
* :mod:`.mixing`: the registered ``hybrid_ner.calibrated_mixing.v1`` that
  the training reader uses to attach the evidence to each Doc.
"""

from .estimate import AnnotatorCalibration, estimate_calibration
from .evidence import TAG_LIKELIHOODS, token_likelihoods
from .mixing import CalibratedMixing
from .omission import OmissionEstimate, agreement_omission_rate, density_omission_rate

__all__ = [
    "AnnotatorCalibration",
    "estimate_calibration",
    "OmissionEstimate",
    "agreement_omission_rate",
    "density_omission_rate",
    "TAG_LIKELIHOODS",
    "token_likelihoods",
    "CalibratedMixing",
]
