"""Calibrated evidence: how far each annotation source deserves to be trusted.

* :mod:`.estimate`: the annotator's noise model P(observation | true label),
  measured on documents with trustworthy gold (the calibration sample).
* :mod:`.omission`: the human annotation's omission rate ω, with its interval.
* :mod:`.negative_sampling`: the sample of silent tokens whose silence counts.
* :mod:`.evidence`: per-token tag likelihoods from all the evidence (human
  entities, human silence, LLM proposals, LLM silence).
* :mod:`.mixing`: the registered ``hybrid_ner.calibrated_mixing.v1`` that
  the training reader uses to attach the evidence to each Doc.
"""
