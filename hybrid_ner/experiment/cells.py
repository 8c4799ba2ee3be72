"""The cells of the grid: which models to train, in which order.

One *cell* is one trained model: a dataset, a condition, the omission rate
of the simulated human annotation and its omission model, the fraction of
documents a human annotated (budget) and a seed.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..errors import HybridNerError
from ..simulation.omissions import DEFAULT_OMISSION_MODEL, OMISSION_MODELS
from .conditions import (
    CONDITIONS,
    EVIDENCE_CORPORA,
    FIXED_CONDITIONS,
    FOCUS_RATE,
    LLM_FREE_CONDITIONS,
    MAIN_CONDITIONS,
    RATE_CONDITIONS,
    Condition,
)


@dataclass(frozen=True)
class Cell:
    """One trained model of the grid (its settings, not its result)."""

    dataset: str
    condition: str
    omit_rate: float
    budget: float
    seed: int
    omission_model: str = DEFAULT_OMISSION_MODEL

    @property
    def cell_id(self) -> str:
        """The cell's name, also the stem of its result file (cells of the
        default omission model keep the names of older grids)."""
        model = "" if self.omission_model == DEFAULT_OMISSION_MODEL else f"_{self.omission_model}"
        return f"{self.condition}_r{self.omit_rate:g}_b{self.budget:g}_s{self.seed}{model}"

    @property
    def spec(self) -> Condition:
        """How the cell's condition builds its training data."""
        return CONDITIONS[self.condition]


def _check_settings(
    wanted: Sequence[str],
    rates: Sequence[float],
    budgets: Sequence[float],
    omit: float,
    models: Sequence[str],
) -> None:
    unknown = [c for c in wanted if c not in CONDITIONS]
    if unknown:
        raise HybridNerError(
            f"Unknown condition(s) {', '.join(unknown)}: use {', '.join(CONDITIONS)}"
        )
    unknown = [m for m in models if m not in OMISSION_MODELS]
    if unknown or not models:
        raise HybridNerError(
            f"Unknown omission model(s) {', '.join(unknown) or '(none given)'}: "
            f"use {', '.join(OMISSION_MODELS)}"
        )
    for value in [*rates, omit]:
        if not 0.0 <= value <= 1.0:
            raise HybridNerError(f"Omission rate must be in [0, 1], got {value}")
    for value in budgets:
        if not 0.0 <= value < 1.0:
            raise HybridNerError(
                f"Budget fraction must be in [0, 1), got {value} "
                "(1.0 is the human-clean / hybrid cell)"
            )


def plan_cells(
    dataset: str,
    rates: Sequence[float],
    seeds: Sequence[int],
    budgets: Sequence[float] = (),
    budget_omit_rate: float = 0.0,
    conditions: Optional[Sequence[str]] = None,
    focus_rate: float = FOCUS_RATE,
    omission_models: Sequence[str] = (DEFAULT_OMISSION_MODEL,),
) -> List[Cell]:
    """The cells of a grid, most informative first, so a partial run answers
    the main question: every seed of the main comparison (and the LLM-free
    baselines) at ``focus_rate``, then the other rates, then the budget curve.

    dataset (str): Dataset name.
    rates (Sequence[float]): Omission rates of the human annotation.
    seeds (Sequence[int]): Seeds (training, omissions, merge, simulated annotator).
    budgets (Sequence[float]): Fractions of documents a human annotated (< 1).
    budget_omit_rate (float): Omission rate of the human part of budget cells.
    conditions (Optional[Sequence[str]]): Subset of ``CONDITIONS`` (None: all).
    focus_rate (float): The rate computed first.
    omission_models (Sequence[str]): Omission models of the rate conditions
        ("uniform", "hard"); fixed and budget cells use the default one.
    RETURNS (List[Cell]): Unique cells in run order.
    """
    wanted = list(conditions) if conditions is not None else list(CONDITIONS)
    _check_settings(wanted, rates, budgets, budget_omit_rate, omission_models)
    cells: List[Tuple[Tuple[int, int, float, int, int], Cell]] = []
    for seed in seeds:
        for condition in wanted:
            order = list(CONDITIONS).index(condition)
            main = condition in MAIN_CONDITIONS or condition in LLM_FREE_CONDITIONS
            if condition in FIXED_CONDITIONS:
                cell = Cell(dataset, condition, 0.0, 1.0, seed)
                cells.append(((0 if main else 1, 0, 0.0, seed, order), cell))
            elif condition in RATE_CONDITIONS:
                for m, model in enumerate(omission_models):
                    for rate in rates:
                        if rate == 0.0 and (condition == "human-omit" or model != "uniform"):
                            continue  # identical to human-clean / to the uniform cell
                        focus = abs(rate - focus_rate) < 1e-9
                        tier = (0 if main else 1) if focus else (2 if main else 3)
                        cell = Cell(dataset, condition, rate, 1.0, seed, model)
                        cells.append(((tier, m, rate, seed, order), cell))
            else:
                for budget in budgets:
                    cell = Cell(dataset, condition, budget_omit_rate, budget, seed)
                    cells.append(((4, 0, budget, seed, order), cell))
    return [cell for _, cell in sorted(cells, key=lambda item: item[0])]


def needs_teacher(cell: Cell) -> bool:
    """Whether a cell's targets take a human-only teacher as the prior: the
    teacher predicts the tokens nobody annotated, so only the calibrated and
    LLM-free evidence cells where some documents have no human annotation
    (budget) need one; with omissions every token was annotated."""
    return cell.spec.corpus in EVIDENCE_CORPORA and cell.spec.data == "budget"


def teacher_cell(cell: Cell) -> Cell:
    """The human-only cell whose model is the prior of a calibrated cell."""
    if cell.spec.data == "budget":
        return Cell(cell.dataset, "human-budget", cell.omit_rate, cell.budget, cell.seed)
    if cell.omit_rate == 0.0:
        return Cell(cell.dataset, "human-clean", 0.0, 1.0, cell.seed)
    return Cell(cell.dataset, "human-omit", cell.omit_rate, 1.0, cell.seed, cell.omission_model)
