"""How good the LLM's and the simulated annotator's proposals are against the
gold of the training sentences (``annotators.json``)."""

from typing import Any, Dict, Mapping, Optional

from ..evaluation import proposal_quality
from ..layers import LLM_KEY
from .costs import Costs
from .data import GridData

ANNOTATORS_FILE = "annotators.json"


def annotator_report(
    data: GridData, seed: int, llm_name: str, usage: Optional[Mapping[str, Any]], costs: Costs
) -> Dict[str, Any]:
    """The content of ``annotators.json``: the dataset's gold counts, P/R/F1
    of each annotator overall and per label, the LLM's usage and the costs.

    seed (int): The simulated annotator's seed.
    llm_name (str): The LLM's name, for the report.
    """
    docs = data.annotated(seed)
    llm = proposal_quality(docs, LLM_KEY)
    simulated = data.simulated(seed)
    return {
        "dataset": data.name,
        "sentences": len(docs),
        "gold_entities": llm["overall"]["gold"],
        "gold_distribution": llm["gold_distribution"],
        "annotators": {
            "llm": {"name": llm_name, "simulated": False, **llm},
            "simulated": {
                "name": simulated.name,
                "simulated": True,
                "params": simulated.params(),
                **proposal_quality(docs, simulated.spans_key),
            },
        },
        "usage": dict(usage or {}),
        "costs": costs.assumptions(len(docs)),
    }
