"""Named parameters of simulated annotators (:mod:`.annotator`)."""

from typing import Any, Dict

#: The preset ``hybrid_ner.SimulatedAnnotator.v1`` starts from.
DEFAULT_PRESET = "gpt-3.5-class"

#: "gpt-3.5-class": chosen, not measured: F1 ≈ 0.8 on CoNLL-2003 as published for few-shot
#: GPT-3.5 (GPT-NER, arXiv 2304.10428); PER, LOC easy, ORG, MISC hard, ORG often as LOC.
PRESETS: Dict[str, Dict[str, Any]] = {
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

#: Rates of labels no preset names (the presets know the CoNLL labels only).
DEFAULT_PRECISION = 0.8
DEFAULT_RECALL = 0.8
