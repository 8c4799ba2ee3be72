"""Parameters of simulated annotators (:mod:`hybrid_ner.simulation.annotator`):
named presets, the rates of labels no preset names, and their checks."""

from typing import Dict, Mapping

from ..errors import HybridNerError

#: The preset ``hybrid_ner.SimulatedAnnotator.v1`` starts from.
DEFAULT_PRESET = "gpt-3.5-class"

#: Parameters of a GPT-3.5-class few-shot annotator on CoNLL-2003 news text.
#: Chosen by us, not measured: overall F1 ≈ 0.8, in the range published for
#: few-shot GPT-3/3.5-class prompting on CoNLL-2003 (GPT-NER, arXiv 2304.10428,
#: reports comparable-to-supervised F1 with kNN examples; GPT4NER reports 83.15),
#: with the per-label
#: pattern every LLM evaluation shows and our embedded LLM repeats: PER and LOC
#: easy, ORG and MISC hard, ORG often proposed as LOC, LOC over-produced.
PRESETS: Dict[str, Dict[str, object]] = {
    "gpt-3.5-class": {
        "precision": {"PER": 0.90, "LOC": 0.78, "ORG": 0.75, "MISC": 0.60},
        "recall": {"PER": 0.92, "LOC": 0.88, "ORG": 0.70, "MISC": 0.62},
        "confusion": {
            "ORG": {"LOC": 0.10},
            "MISC": {"ORG": 0.05, "LOC": 0.05},
            "LOC": {"ORG": 0.03},
        },
        "boundary_error": 0.05,
    },
    # A deliberately weak annotator, close to what the embedded 0.5B LLM measures.
    "weak": {
        "precision": {"PER": 0.65, "LOC": 0.25, "ORG": 0.35, "MISC": 0.25},
        "recall": {"PER": 0.60, "LOC": 0.50, "ORG": 0.10, "MISC": 0.10},
        "confusion": {"ORG": {"LOC": 0.20}},
        "boundary_error": 0.10,
    },
}

#: Rates of a label no preset or argument names (e.g. ``person`` in a
#: non-CoNLL label set): the presets are keyed to the CoNLL labels PER, ORG,
#: LOC and MISC. Such labels get these rates, no label confusion, and a
#: warning naming them (:meth:`SimulatedAnnotator.fit`).
DEFAULT_PRECISION = 0.8
DEFAULT_RECALL = 0.8

#: "single": one query, one label per found entity; "per-type": one query per label.
QUERY_MODES = ("single", "per-type")


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise HybridNerError(f"Simulated annotator: {name} must be in [0, 1], got {value}")


def _check_precision(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise HybridNerError(f"Simulated annotator: {name} must be in (0, 1], got {value}")


def check_parameters(
    query: str,
    precision: Mapping[str, float],
    recall: Mapping[str, float],
    confusion: Mapping[str, Mapping[str, float]],
    boundary_error: float,
    default_precision: float,
    default_recall: float,
) -> None:
    """Refuse parameters no annotator can have (see ``SimulatedAnnotator``).

    RAISES (HybridNerError): Naming the first bad parameter.
    """
    if query not in QUERY_MODES:
        raise HybridNerError(
            f"Simulated annotator: query must be one of {', '.join(QUERY_MODES)}, got {query!r}"
        )
    for label, value in precision.items():
        _check_precision(f"precision of {label}", value)
    for label, value in recall.items():
        _check_probability(f"recall of {label}", value)
    for label, row in confusion.items():
        for other, value in row.items():
            _check_probability(f"confusion {label}->{other}", value)
        if sum(row.values()) > 1.0:
            raise HybridNerError(
                f"Simulated annotator: confusion probabilities of {label} sum to more than 1"
            )
    _check_probability("boundary_error", boundary_error)
    _check_probability("default_recall", default_recall)
    _check_precision("default_precision", default_precision)
