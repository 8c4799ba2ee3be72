"""What the annotation of a cell's training data costs, for the budget curve."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import srsly

from ..errors import HybridNerError
from .cells import DEFAULT_SELECTION, Cell


@dataclass
class Costs:
    """Money per sentence (the LLM's None when unknown) and the token prices per 1,000."""

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
        """The costs, the LLM's from a ``hybrid-ner propose`` usage report (None: unknown)."""
        usage = usage or {}
        answers = usage.get("requests", 0) + usage.get("cache_hits", 0)
        per_sentence = None
        if answers:  # cached answers were paid for once too: priced by their recorded tokens
            both = ("prompt_tokens", "completion_tokens")
            n_in, n_out = (usage.get(k, 0) + usage.get(f"cached_{k}", 0) for k in both)
            cost = n_in / 1000 * price_in_per_1k + n_out / 1000 * price_out_per_1k
            per_sentence = cost / (usage.get("sentences_done") or answers)
        return cls(human_per_sentence, per_sentence, price_in_per_1k, price_out_per_1k)

    def assumptions(self, n_sentences: int) -> Dict[str, Optional[float]]:
        """The cost assumptions recorded in ``annotators.json``."""
        per_sentence = self.llm_per_sentence
        return {
            "human_per_sentence": self.human_per_sentence,
            "llm_price_in_per_1k": self.price_in_per_1k,
            "llm_price_out_per_1k": self.price_out_per_1k,
            "llm_per_sentence": per_sentence,
            "llm_all_sentences": None if per_sentence is None else per_sentence * n_sentences,
        }

    def of(self, cell: Cell, n_sentences: int) -> Dict[str, Optional[float]]:
        """The human, LLM and total cost of a cell's training data (None: unknown)."""
        human = 0.0
        if cell.spec.data != "unannotated":
            human = self.human_per_sentence * n_sentences * cell.budget
        llm: Optional[float] = 0.0
        # It proposes for every sentence (also to choose a budget's documents by uncertainty).
        if cell.spec.annotator != "none" or cell.selection != DEFAULT_SELECTION:
            llm = None if self.llm_per_sentence is None else self.llm_per_sentence * n_sentences
        return {"human": human, "llm": llm, "total": None if llm is None else human + llm}


def read_usage(path: Optional[Path]) -> Optional[Dict[str, Any]]:
    """A ``hybrid-ner propose`` usage report, or None without the file."""
    if path is None or not path.is_file():
        return None
    try:
        return dict(srsly.read_json(path))
    except (ValueError, TypeError) as err:
        raise HybridNerError(
            f"{path}: not a usage report of `hybrid-ner propose` ({err})"
        ) from None
