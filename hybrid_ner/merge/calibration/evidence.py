"""Per-token tag likelihoods L(y) = P(human obs | y) · P(annotator obs | y), rows
scaled to a maximum of 1; a row that does not depend on the tag is masked."""

from typing import Collection, Dict, Optional, Sequence, Tuple

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
    omission_rate: float,
    labels: Sequence[str],
    spans_key: str = LLM_KEY,
    silence_evidence: Optional[numpy.ndarray] = None,
    trusted: Optional[Collection[str]] = None,
) -> Dict[str, object]:
    """The tag likelihoods (``tags``, ``values``, ``mask``) of every token of a Doc.

    calibration (Optional[AnnotatorCalibration]): None ignores the proposals.
    omission_rate (float): ω, the chance that the human left a true entity out.
    silence_evidence (Optional[numpy.ndarray]): Per token, whether the human's
        silence is evidence (negative sampling); None: everywhere.
    trusted (Optional[Collection[str]]): Labels whose evidence counts on human silence; None: all.
    """
    tags = tag_names(labels)
    column = {tag: i for i, tag in enumerate(tags)}
    values = numpy.ones((len(doc), len(tags)), dtype="float32")
    fixed = numpy.zeros((len(doc),), dtype=bool)
    for span in human_spans(doc):
        for i, tag in enumerate(span_tags(len(span), span.label_), span.start):
            values[i] = 0.0
            values[i, column[tag]] = 1.0
            fixed[i] = True
    human = is_human_annotated(doc)
    silent = numpy.array([human and not fixed[t.i] and t.ent_iob != 0 for t in doc], dtype=bool)
    sampled = silent if silence_evidence is None else silent & numpy.asarray(silence_evidence, bool)
    values[sampled, 1:] *= omission_rate
    if calibration is not None and spans_key in doc.spans:
        spans = list(doc.spans[spans_key])
        kept = zip(spans, overlaps_human(doc, spans))
        proposals = [span for span, loses in kept if not loses and span.label_ in labels]
        # Column order per row: O, then B/I/L/U of each label (as tag_names).
        cache: Dict[object, Tuple[numpy.ndarray, numpy.ndarray]] = {}
        # Where the human was silent the model in training is the prior, and training hardens
        # what the evidence favours: there an untrusted label is as likely as "outside".
        trusted = labels if trusted is None else trusted
        untrusted = [column[tag] for tag in tags[1:] if tag[2:] not in trusted]
        for i, key in enumerate(token_observations(doc, proposals)):
            if fixed[i]:
                continue
            if key not in cache:
                obs, position = key
                factors = [
                    1.0 if position is None else calibration.position_likelihood(position, p)
                    for p in (OUTSIDE, *_POSITIONS)
                ]
                row = [calibration.likelihood(obs, OUTSIDE) * factors[0]]
                for label in sorted(set(labels)):
                    like = calibration.likelihood(obs, label)
                    row.extend(like * factor for factor in factors[1:])
                measured = numpy.array(row, dtype="float32")
                on_silence = measured.copy()
                on_silence[untrusted] = measured[0]
                cache[key] = (measured, on_silence)
            values[i] *= cache[key][int(silent[i])]
    values = values / numpy.maximum(values.max(axis=1, keepdims=True), 1e-30)
    mask = (values.min(axis=1) < 1.0 - 1e-6).astype("float32")
    return {"tags": tags, "values": values, "mask": mask}
