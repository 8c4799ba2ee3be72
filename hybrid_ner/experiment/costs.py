"""What the annotation of a cell's training data costs, for the budget curve."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import srsly

from ..errors import HybridNerError
from .cells import Cell

#: The ``cost`` record of a cell: "human", "llm" and "total" (None: unknown).
CellCost = Dict[str, Optional[float]]


@dataclass
class Costs:
    """Money per sentence, for the budget curve.

    human_per_sentence (float): What a human annotation of one sentence costs.
    llm_per_sentence (Optional[float]): What the LLM's proposals for one
        sentence cost (from the usage report and the prices); None if unknown.
    price_in_per_1k, price_out_per_1k (Optional[float]): The LLM's prices per
        1,000 prompt and completion tokens, for the record.
    """

    human_per_sentence: float = 0.0
    llm_per_sentence: Optional[float] = None
    price_in_per_1k: Optional[float] = None
    price_out_per_1k: Optional[float] = None

    @classmethod
    def from_usage(
        cls,
        human_per_sentence: float,
        usage: Optional[Mapping[str, float]],
        price_in_per_1k: float,
        price_out_per_1k: float,
    ) -> "Costs":
        """The costs of a grid: the LLM's from its usage report and prices.

        usage (Optional[Mapping[str, float]]): ``hybrid-ner propose``'s usage
            report (None: the LLM's cost is unknown).
        """
        per_sentence = (
            llm_cost_per_sentence(usage, price_in_per_1k, price_out_per_1k) if usage else None
        )
        return cls(human_per_sentence, per_sentence, price_in_per_1k, price_out_per_1k)

    def assumptions(self, n_sentences: int) -> Dict[str, Optional[float]]:
        """The cost assumptions, as recorded in ``annotators.json``.

        n_sentences (int): The training sentences (for the LLM's total).
        """
        per_sentence = self.llm_per_sentence
        return {
            "human_per_sentence": self.human_per_sentence,
            "llm_price_in_per_1k": self.price_in_per_1k,
            "llm_price_out_per_1k": self.price_out_per_1k,
            "llm_per_sentence": per_sentence,
            "llm_all_sentences": None if per_sentence is None else per_sentence * n_sentences,
        }

    def of(self, cell: Cell, n_sentences: int) -> CellCost:
        """The human, LLM and total cost of a cell's training data.

        cell (Cell): The cell.
        n_sentences (int): Its training sentences.
        RETURNS (CellCost): The costs; "llm" and "total" are None when the
            LLM's price is unknown.
        """
        human = (
            0.0
            if cell.spec.data == "unannotated"
            else self.human_per_sentence * n_sentences * cell.budget
        )
        llm: Optional[float] = 0.0
        if cell.spec.annotator != "none":
            # The annotator proposes for every sentence (the merge needs the
            # doubly annotated ones).
            llm = None if self.llm_per_sentence is None else self.llm_per_sentence * n_sentences
        total = None if llm is None else human + llm
        return {"human": human, "llm": llm, "total": total}


def llm_cost_per_sentence(
    usage: Mapping[str, float], price_in_per_1k: float, price_out_per_1k: float
) -> Optional[float]:
    """Cost of one sentence's proposals from a ``hybrid-ner propose`` usage report.

    usage (Mapping[str, float]): The usage report (requests, cache hits, tokens).
    price_in_per_1k (float): Price per 1,000 prompt tokens.
    price_out_per_1k (float): Price per 1,000 completion tokens.
    RETURNS (Optional[float]): The cost, or None without requests.
    """
    requests = usage.get("requests", 0) + usage.get("cache_hits", 0)
    if not requests:
        return None
    cost = (
        usage.get("prompt_tokens", 0) / 1000 * price_in_per_1k
        + usage.get("completion_tokens", 0) / 1000 * price_out_per_1k
    )
    # Cached answers were paid once too: the usage report counts the tokens
    # of sent requests only.
    return cost / max(usage.get("requests", 0), 1)


def read_usage(path: Optional[Path]) -> Optional[Dict[str, Any]]:
    """Read a ``hybrid-ner propose`` usage report.

    path (Optional[Path]): The report (None: no report).
    RETURNS (Optional[Dict[str, Any]]): The report, or None when there is no file.
    RAISES (HybridNerError): If the file is not a JSON object.
    """
    if path is None or not path.is_file():
        return None
    try:
        return dict(srsly.read_json(path))
    except (ValueError, TypeError) as err:  # not JSON, or not an object
        raise HybridNerError(
            f"{path}: not a usage report of `hybrid-ner propose` ({err})"
        ) from None
