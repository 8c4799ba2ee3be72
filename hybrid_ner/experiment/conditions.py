"""The conditions of the experiment grid and the settings they share.

Conditions (``CONDITIONS``):

* ``human-clean``: the gold annotation (upper bound).
* ``human-omit``: the gold with simulated omissions (the human-only baseline).
* ``llm-only`` / ``sim-only``: the proposals alone, no human annotation.
* ``hybrid-random`` / ``sim-hybrid-random``: merge, human wins, overlapping
  proposals resolved by a seeded random choice, hard labels (paper baseline).
* ``hybrid-label-mixing`` / ``sim-hybrid-label-mixing``: the recommended
  method: calibrated per-token evidence (:mod:`hybrid_ner.merge.calibration`),
  the annotator calibrated on the dev set, labels mixed by their calibrated
  likelihoods.
* ``hybrid-lambda-mixing`` / ``sim-hybrid-lambda-mixing``: the earlier
  label mixing (λ per label from agreement with the human, uncovered tokens
  outside), kept for comparison.
* ``human-budget`` / ``hybrid-budget`` / ``sim-hybrid-budget``: a human
  annotated only a fraction of the documents (the rest MISSING), alone or
  with the proposals (calibrated evidence) that cover the rest.
* The strongest LLM-free answers to omitted entities, the baselines the
  hybrid must beat: ``human-negsample`` (negative sampling of the human's
  silent tokens, Li et al. 2021), ``human-silence`` (human silence softened
  by ω, estimated from the dev set's entity density, no annotator) and, under
  a budget, ``human-selftrain`` (the same, with the human-only teacher's own
  predictions on the documents nobody annotated).

``sim-*`` use the simulated annotator (:mod:`hybrid_ner.simulation.annotator`),
never called an LLM. The grid runs them in the order of ``CONDITIONS`` and the
report shows them in that order.
"""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from ..layers import LLM_KEY
from ..simulation.annotator import SIMULATED_KEY

#: The omission rate of the main comparison: computed first by the grid,
#: shown in the report's detail tables, calibration section and sample pages.
FOCUS_RATE = 0.4
#: The ``[corpora]`` block of the calibrated conditions (they need a teacher).
CALIBRATED_CORPUS = "corpora.hybrid_calibrated"
#: The ``[corpora]`` block of the λ label-mixing conditions (their cells record λ).
LAMBDA_CORPUS = "corpora.hybrid_mixing"
#: The ``[corpora]`` block of the human-only conditions (their models are teachers).
HUMAN_CORPUS = "corpora.human"
#: The LLM-free treatments of human silence.
NEGSAMPLE_CORPUS = "corpora.human_negsample"
SILENCE_CORPUS = "corpora.human_silence"


@dataclass(frozen=True)
class Condition:
    """How a condition builds its training data.

    annotator (str): "none", "llm" or "simulated": whose proposals it uses.
    corpus (str): The ``[corpora]`` block of the config it trains on.
    data (str): "clean", "omit" (gold with omissions), "unannotated" (no
        human annotation at all) or "budget" (a fraction of documents).
    """

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
    "human-negsample": Condition("none", NEGSAMPLE_CORPUS, "omit"),
    "human-silence": Condition("none", SILENCE_CORPUS, "omit"),
    "human-selftrain": Condition("none", SILENCE_CORPUS, "budget"),
}
#: Trained at every omission rate.
RATE_CONDITIONS: Tuple[str, ...] = (
    "human-omit",
    "hybrid-random",
    "hybrid-label-mixing",
    "hybrid-lambda-mixing",
    "sim-hybrid-random",
    "sim-hybrid-label-mixing",
    "sim-hybrid-lambda-mixing",
    "human-negsample",
    "human-silence",
)
#: Trained without omissions: one reference value drawn at every rate.
FIXED_CONDITIONS: Tuple[str, ...] = ("human-clean", "llm-only", "sim-only")
#: Trained at every budget fraction.
BUDGET_CONDITIONS: Tuple[str, ...] = (
    "human-budget",
    "hybrid-budget",
    "sim-hybrid-budget",
    "human-selftrain",
)
#: The LLM-free baselines: per omission rate, and under a budget.
LLM_FREE_CONDITIONS: Tuple[str, ...] = ("human-negsample", "human-silence")
LLM_FREE_BUDGET_CONDITIONS: Tuple[str, ...] = ("human-selftrain",)
#: The main comparison: planned first, so a partial grid answers it.
MAIN_CONDITIONS: Tuple[str, ...] = (
    "human-clean",
    "human-omit",
    "hybrid-label-mixing",
    "hybrid-random",
    "sim-hybrid-label-mixing",
)
#: Conditions whose annotator is calibrated on a sample (their cells carry "calibration").
CALIBRATED_CONDITIONS: Tuple[str, ...] = tuple(
    name for name, spec in CONDITIONS.items() if spec.corpus == CALIBRATED_CORPUS
)
#: Conditions that estimate ω and may use a teacher (their cells carry "calibration").
EVIDENCE_CORPORA: Tuple[str, ...] = (CALIBRATED_CORPUS, SILENCE_CORPUS)
#: The upper bound: the clean gold annotation.
UPPER_BOUND = "human-clean"
#: The full-budget (budget 1.0) condition that continues each budget curve.
FULL_BUDGET_EQUIVALENT: Dict[str, str] = {
    "human-budget": "human-clean",
    "hybrid-budget": "hybrid-label-mixing",
    "sim-hybrid-budget": "sim-hybrid-label-mixing",
}
#: The span group of each annotator's proposals.
SPANS_KEYS: Dict[str, str] = {"llm": LLM_KEY, "simulated": SIMULATED_KEY}


def is_simulated(condition: str, annotator: str = "") -> bool:
    """Whether a condition uses the simulated annotator."""
    return annotator == "simulated" or condition.startswith("sim-")


def condition_order(conditions: Iterable[str]) -> List[str]:
    """Conditions in display order: the known ones first, then the rest sorted."""
    present = set(conditions)
    known = [c for c in CONDITIONS if c in present]
    return known + sorted(present - set(CONDITIONS))
