"""The calibration as ``hybrid-ner stats`` shows it, and the Docs it is fitted on."""

from typing import List

from spacy.tokens import Doc

from ...layers import HUMAN_KEY
from ..reliability import human_spans, is_human_annotated
from .mixing import FittedEvidence

#: Columns of :func:`calibration_table`.
CALIBRATION_HEADER = (
    "label",
    "precision",
    "recall",
    "proposed",
    "gold",
    "LR proposed",
    "LR silence",
)


def as_before_merge(docs: List[Doc]) -> List[Doc]:
    """The Docs as the training reader fits the calibration on them: human
    ``doc.ents`` + proposals. A merged Doc is copied with its human entities
    (``doc.spans["human"]``) as ``doc.ents``, the rest outside (missing in a
    Doc the human did not annotate), so neither added proposals nor
    ``--uncovered missing`` change the estimate.

    docs (List[Doc]): Docs, merged or not; not changed.
    RETURNS (List[Doc]): The Docs, merged ones replaced by such copies.
    """
    result = []
    for doc in docs:
        if HUMAN_KEY in doc.spans:
            doc = doc.copy()
            annotated = is_human_annotated(doc)
            doc.set_ents(
                human_spans(doc) if annotated else [],
                default="outside" if annotated else "missing",
            )
        result.append(doc)
    return result


def calibration_table(fitted: FittedEvidence) -> List[List[object]]:
    """Rows for printing (see CALIBRATION_HEADER), from ``FittedEvidence.summary()``.

    fitted (FittedEvidence): A fitted calibration.
    RETURNS (List[List[object]]): One row per label, numbers formatted.
    """
    labels = fitted.summary()["labels"]
    return [
        [
            label,
            f"{v['precision']:.3f}",
            f"{v['recall']:.3f}",
            v["proposed"],
            v["gold"],
            f"{v['lr_proposed']:g}",
            f"{v['lr_silence']:g}",
        ]
        for label, v in labels.items()  # type: ignore[union-attr]
    ]
