"""Per-token tag likelihoods from all the evidence.

For every token and BILUO tag y we compute the likelihood of what the
annotators did given that y is the truth, L(y) = P(human obs | y) ·
P(annotator obs | y):

* inside a human entity: the human is trusted, L is one-hot on its tag;
* human silence (the token is annotated "outside"): L_h(O) = 1 and
  L_h(entity) = ω, the estimated omission rate (ω = 0: silence is certain);
  with negative sampling only on a sample of the silent tokens, the others
  getting L_h = 1 (:mod:`.negative_sampling`);
* a Doc nobody annotated, or a missing token: L_h = 1 (no evidence);
* the annotator's observation (a proposal of label l, several labels, or
  silence): P(obs | label of y) from the calibration, times, for covered
  tokens, P(the proposal's BILUO position | the position of y) (boundary
  errors; "O" for y = outside), also measured and shrunk towards chance.
  Proposals overlapping a human entity are ignored: the human wins, as in
  the merge (:func:`hybrid_ner.merge.merger.overlaps_human`).

The soft-target NER trains on the posterior q(y) ∝ p_model(y) · L(y), i.e.
on the likelihood of the observed annotation under the noise model: its
gradient is p − q. Evidence that does not depend on the truth (an annotator
at chance, silence of a useless annotator) leaves q = p and contributes no
gradient at all, so with a useless annotator training equals training on the
human annotation alone. Rows with no evidence are masked.
"""

from typing import Dict, List, Optional, Sequence

import numpy
from spacy.tokens import Doc

from ...layers import LLM_KEY
from ...tags import OUTSIDE, span_tags, tag_names
from ..merger import overlaps_human
from ..reliability import human_spans, is_human_annotated
from .estimate import AnnotatorCalibration, token_observations

_POSITIONS = ("B", "I", "L", "U")


def token_likelihoods(
    doc: Doc,
    calibration: Optional[AnnotatorCalibration],
    omission_rate: float = 0.0,
    spans_key: str = LLM_KEY,
    labels: Optional[Sequence[str]] = None,
    silence_evidence: Optional[numpy.ndarray] = None,
) -> Dict[str, object]:
    """The tag likelihoods of every token of a Doc (module docstring).

    doc (Doc): Human annotation in ``doc.ents`` (``doc.spans["human"]`` if
        merged), proposals in ``doc.spans[spans_key]``.
    calibration (Optional[AnnotatorCalibration]): The annotator's noise model;
        None ignores the proposals.
    omission_rate (float): ω, the chance that the human left a true entity out.
    spans_key (str): The proposals' span group.
    labels (Optional[Sequence[str]]): Entity labels (default: the calibration's
        and the Doc's).
    silence_evidence (Optional[numpy.ndarray]): Per token, whether the human's
        silence there is evidence (negative sampling); None: everywhere.
    RETURNS (Dict[str, object]): ``tags``, ``values`` and ``mask``.
    """
    if not 0.0 <= omission_rate <= 1.0:
        raise ValueError(f"omission_rate must be in [0, 1], got {omission_rate}")
    human = human_spans(doc)
    proposals = (
        list(doc.spans[spans_key]) if spans_key in doc.spans and calibration is not None else []
    )
    if labels is None:
        labels = sorted({*(calibration.labels if calibration else ()), *(s.label_ for s in human)})
    tags = tag_names(labels)
    column = {tag: i for i, tag in enumerate(tags)}
    label_columns = {label: [column[f"{p}-{label}"] for p in _POSITIONS] for label in labels}
    n = len(doc)
    values = numpy.ones((n, len(tags)), dtype="float32")
    fixed = numpy.zeros((n,), dtype=bool)
    for span in human:
        for i, tag in enumerate(span_tags(len(span), span.label_), span.start):
            values[i] = 0.0
            values[i, column[tag]] = 1.0
            fixed[i] = True
    if is_human_annotated(doc):
        silent = numpy.array([not fixed[t.i] and t.ent_iob != 0 for t in doc], dtype=bool)
        if silence_evidence is not None:
            silent &= numpy.asarray(silence_evidence, dtype=bool)
        values[silent, 1:] *= omission_rate
    proposals = [
        s
        for s, loses in zip(proposals, overlaps_human(doc, proposals))
        if not loses and s.label_ in label_columns
    ]
    if calibration is not None:
        cache: Dict[str, Dict[str, float]] = {}
        position_cache: Dict[str, List[float]] = {}
        for i, (obs, position) in enumerate(token_observations(doc, proposals)):
            if fixed[i]:
                continue
            if obs not in cache:
                cache[obs] = calibration.likelihoods(obs, labels)
            likelihood = cache[obs]
            if position is None:
                factors = [1.0] * 5
            else:
                if position not in position_cache:
                    position_cache[position] = [
                        calibration.position_likelihood(position, p) for p in (OUTSIDE, *_POSITIONS)
                    ]
                factors = position_cache[position]
            values[i, 0] *= likelihood[OUTSIDE] * factors[0]
            for label, columns in label_columns.items():
                for factor, col in zip(factors[1:], columns):
                    values[i, col] *= likelihood[label] * factor
    peak = values.max(axis=1, keepdims=True)
    values = values / numpy.maximum(peak, 1e-30)
    # A row whose likelihood does not depend on the tag carries no evidence.
    mask = (values.min(axis=1) < 1.0 - 1e-6).astype("float32")
    return {"tags": tags, "values": values, "mask": mask}
