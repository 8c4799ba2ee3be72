"""The conditions of the experiment grid and what each trains on (docs/experiments.md)."""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from ..layers import LLM_KEY
from ..simulation.annotator import SIMULATED_KEY

#: The omission rate of the main comparison: trained first, shown in detail.
FOCUS_RATE = 0.4
# The ``[corpora]`` blocks of the training config.
CALIBRATED_CORPUS = "corpora.hybrid_calibrated"
LAMBDA_CORPUS = "corpora.hybrid_mixing"
HUMAN_CORPUS = "corpora.human"
SILENCE_CORPUS = "corpora.human_silence"


@dataclass(frozen=True)
class Condition:
    """Whose proposals, the config's ``[corpora]`` block, and the human data
    ("clean", "omit", "unannotated" or "budget")."""

    annotator: str
    corpus: str
    data: str


CONDITIONS: Dict[str, Condition] = {
    "human-clean": Condition("none", HUMAN_CORPUS, "clean"),
    "human-omit": Condition("none", HUMAN_CORPUS, "omit"),
    "llm-only": Condition("llm", "corpora.hybrid_random", "unannotated"),
    "hybrid-random": Condition("llm", "corpora.hybrid_random", "omit"),
    "hybrid-label-mixing": Condition("llm", CALIBRATED_CORPUS, "omit"),
    "hybrid-lambda-mixing": Condition("llm", LAMBDA_CORPUS, "omit"),
    "sim-only": Condition("simulated", "corpora.hybrid_random", "unannotated"),
    "sim-hybrid-random": Condition("simulated", "corpora.hybrid_random", "omit"),
    "sim-hybrid-label-mixing": Condition("simulated", CALIBRATED_CORPUS, "omit"),
    "sim-hybrid-lambda-mixing": Condition("simulated", LAMBDA_CORPUS, "omit"),
    "human-budget": Condition("none", HUMAN_CORPUS, "budget"),
    "hybrid-budget": Condition("llm", CALIBRATED_CORPUS, "budget"),
    "sim-hybrid-budget": Condition("simulated", CALIBRATED_CORPUS, "budget"),
    # The human-only cell on the documents the simulated annotator's uncertainty chose.
    "sim-human-budget": Condition("simulated", HUMAN_CORPUS, "budget"),
    "human-negsample": Condition("none", "corpora.human_negsample", "omit"),
    "human-silence": Condition("none", SILENCE_CORPUS, "omit"),
    "human-selftrain": Condition("none", SILENCE_CORPUS, "budget"),
}


def _where(*data: str) -> Tuple[str, ...]:
    return tuple(name for name, spec in CONDITIONS.items() if spec.data in data)


#: Trained at every omission rate.
RATE_CONDITIONS = _where("omit")
#: Trained without omissions: one reference value drawn at every rate.
FIXED_CONDITIONS = _where("clean", "unannotated")
#: Trained at every budget fraction.
BUDGET_CONDITIONS = _where("budget")
#: The LLM-free baselines the hybrid must beat at each omission rate.
LLM_FREE_CONDITIONS = ("human-negsample", "human-silence")
#: The main comparison: planned first, so a partial grid answers it.
MAIN_CONDITIONS = (
    "human-clean",
    "human-omit",
    "hybrid-label-mixing",
    "hybrid-random",
    "sim-hybrid-label-mixing",
)
#: Corpora that estimate ω and may use a teacher (their cells carry "calibration").
EVIDENCE_CORPORA = (CALIBRATED_CORPUS, SILENCE_CORPUS)
UPPER_BOUND = "human-clean"
#: The full-budget (budget 1.0) condition that continues each budget curve.
FULL_BUDGET_EQUIVALENT = {
    "human-budget": "human-clean",
    "hybrid-budget": "hybrid-label-mixing",
    "sim-hybrid-budget": "sim-hybrid-label-mixing",
    "sim-human-budget": "human-clean",
}
#: The span group of each annotator's proposals.
SPANS_KEYS = {"llm": LLM_KEY, "simulated": SIMULATED_KEY}


def is_simulated(condition: str, annotator: str = "") -> bool:
    """Whether a condition uses the simulated annotator."""
    return annotator == "simulated" or condition.startswith("sim-")


def condition_order(conditions: Iterable[str]) -> List[str]:
    """Conditions in display order: the known ones first, then the rest sorted."""
    present = set(conditions)
    return [c for c in CONDITIONS if c in present] + sorted(present - set(CONDITIONS))
