"""Calibrated evidence: how far each annotation source deserves to be trusted.

* :mod:`.estimate`: the annotator's noise model P(observation | true label),
  measured on documents with trustworthy gold (the calibration sample), and
  the human annotation's omission rate.
* :mod:`.evidence`: per-token tag likelihoods from all the evidence (human
  entities, human silence, LLM proposals, LLM silence).
* :mod:`.mixing`: the registered ``hybrid_ner.calibrated_mixing.v1`` that
  the training reader uses to attach the evidence to each Doc.
"""

from .estimate import AnnotatorCalibration, estimate_calibration, estimate_omission_rate
from .evidence import TAG_LIKELIHOODS, token_likelihoods
from .mixing import CalibratedMixing

__all__ = [
    "AnnotatorCalibration",
    "estimate_calibration",
    "estimate_omission_rate",
    "TAG_LIKELIHOODS",
    "token_likelihoods",
    "CalibratedMixing",
]
