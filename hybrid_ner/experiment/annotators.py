"""How good the proposals are: the LLM's and the simulated annotator's,
against the gold of the training sentences (``annotators.json``)."""

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from ..evaluation import proposal_quality
from ..layers import LLM_KEY
from .costs import Costs
from .data import GridData

ANNOTATORS_FILE = "annotators.json"


@dataclass
class AnnotatorReport:
    """The quality of each annotator's proposals on a dataset's training sentences.

    dataset (str): The dataset.
    sentences (int): Its training sentences.
    gold_entities (int): Their gold entities.
    gold_distribution (Dict[str, float]): Each label's share of the gold entities.
    annotators (Dict[str, Dict[str, Any]]): Per annotator ("llm", "simulated"):
        its name, whether it is simulated, and P/R/F1 overall and per label.
    usage (Dict[str, Any]): The LLM's usage report (empty without one).
    costs (Dict[str, Optional[float]]): The cost assumptions.
    """

    dataset: str
    sentences: int
    gold_entities: int
    gold_distribution: Dict[str, float]
    annotators: Dict[str, Dict[str, Any]]
    usage: Dict[str, Any] = field(default_factory=dict)
    costs: Dict[str, Optional[float]] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        """The content of ``annotators.json``."""
        return {
            "dataset": self.dataset,
            "sentences": self.sentences,
            "gold_entities": self.gold_entities,
            "gold_distribution": self.gold_distribution,
            "annotators": self.annotators,
            "usage": self.usage,
            "costs": self.costs,
        }


def annotator_report(
    data: GridData,
    seed: int,
    llm_name: str,
    usage: Optional[Mapping[str, Any]],
    costs: Costs,
) -> AnnotatorReport:
    """Quality of the LLM's and the simulated annotator's proposals against the gold.

    data (GridData): The dataset.
    seed (int): The simulated annotator's seed.
    llm_name (str): The LLM's name, for the report.
    usage (Optional[Mapping[str, Any]]): The LLM's usage report, if any.
    costs (Costs): The grid's costs (recorded as assumptions).
    RETURNS (AnnotatorReport): The report.
    """
    docs = data.annotated(seed)
    llm = proposal_quality(docs, LLM_KEY)
    simulated_annotator = data.simulated(seed)
    simulated = proposal_quality(docs, simulated_annotator.spans_key)
    return AnnotatorReport(
        dataset=data.name,
        sentences=len(docs),
        gold_entities=llm["overall"]["gold"],  # type: ignore[index]
        gold_distribution=llm["gold_distribution"],  # type: ignore[arg-type]
        annotators={
            "llm": {"name": llm_name, "simulated": False, **llm},
            "simulated": {
                "name": simulated_annotator.name,
                "simulated": True,
                "params": simulated_annotator.params(),
                **simulated,
            },
        },
        usage=dict(usage or {}),
        costs=costs.assumptions(len(docs)),
    )
