"""The cells of the grid, one trained model each, and their order."""

from dataclasses import dataclass, replace
from typing import List, Optional, Sequence

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

#: How the budget cells choose the documents the human annotates (hybrid_ner.merge.selection).
SELECTIONS = ("random", "uncertainty")
DEFAULT_SELECTION = "random"


@dataclass(frozen=True)
class Cell:
    """The settings of one trained model of the grid."""

    dataset: str
    condition: str
    omit_rate: float
    budget: float
    seed: int
    omission_model: str = DEFAULT_OMISSION_MODEL
    selection: str = DEFAULT_SELECTION

    @property
    def cell_id(self) -> str:
        """The cell's name and the stem of its result file (a suffix per non-default)."""
        name = f"{self.condition}_r{self.omit_rate:g}_b{self.budget:g}_s{self.seed}"
        return name + self.suffix

    @property
    def suffix(self) -> str:
        """``_hard``, ``_uncertainty``: the settings other than the defaults."""
        pairs = [(self.omission_model, DEFAULT_OMISSION_MODEL), (self.selection, DEFAULT_SELECTION)]
        return "".join(f"_{value}" for value, default in pairs if value != default)

    @property
    def spec(self) -> Condition:
        """How the cell's condition builds its training data."""
        return CONDITIONS[self.condition]


def plan_cells(
    dataset: str,
    rates: Sequence[float],
    seeds: Sequence[int],
    budgets: Sequence[float] = (),
    budget_omit_rate: float = 0.0,
    conditions: Optional[Sequence[str]] = None,
    omission_models: Sequence[str] = (DEFAULT_OMISSION_MODEL,),
    selections: Sequence[str] = (DEFAULT_SELECTION,),
) -> List[Cell]:
    """The unique cells of a grid, most informative first so a partial run answers the main
    question: the main comparison and LLM-free baselines at ``FOCUS_RATE``, other rates, budgets."""
    wanted = list(CONDITIONS) if conditions is None else list(conditions)
    unknown = ", ".join(c for c in wanted if c not in CONDITIONS)
    if unknown:
        raise HybridNerError(f"Unknown condition(s) {unknown}: use {', '.join(CONDITIONS)}")
    for what, given, known in [
        ("omission model", omission_models, OMISSION_MODELS),
        ("selection", selections, SELECTIONS),
    ]:
        unknown = [m for m in given if m not in known]
        if unknown or not given:
            raise HybridNerError(
                f"Unknown {what}(s) {', '.join(unknown) or '(none given)'}: use {', '.join(known)}"
            )
    for value in [*rates, budget_omit_rate]:
        if not 0.0 <= value <= 1.0:
            raise HybridNerError(f"Omission rate must be in [0, 1], got {value}")
    for value in budgets:
        if not 0.0 <= value < 1.0:
            raise HybridNerError(f"Budget fraction must be in [0, 1), got {value}")
    cells = []
    for seed in seeds:
        for condition in wanted:
            order = list(CONDITIONS).index(condition)
            main = 0 if condition in MAIN_CONDITIONS or condition in LLM_FREE_CONDITIONS else 1
            if condition in FIXED_CONDITIONS:
                cell = Cell(dataset, condition, 0.0, 1.0, seed)
                cells.append(((main, 0, 0.0, seed, order), cell))
            elif condition in RATE_CONDITIONS:
                for m, model in enumerate(omission_models):
                    for rate in rates:
                        if rate == 0.0 and (condition == "human-omit" or model != "uniform"):
                            continue  # the same as human-clean / the uniform cell
                        tier = main if abs(rate - FOCUS_RATE) < 1e-9 else main + 2
                        cell = Cell(dataset, condition, rate, 1.0, seed, model)
                        cells.append(((tier, m, rate, seed, order), cell))
            else:
                for s, selection in enumerate(selections):
                    if condition == "sim-human-budget" and selection == DEFAULT_SELECTION:
                        continue  # random documents: the same as human-budget
                    for budget in budgets:
                        settings = (condition, budget_omit_rate, budget, seed)
                        cell = Cell(dataset, *settings, selection=selection)
                        cells.append(((4, s, budget, seed, order), cell))
    return [cell for _, cell in sorted(cells, key=lambda item: item[0])]


def needs_teacher(cell: Cell) -> bool:
    """Whether a cell takes a human-only teacher as the prior (budget evidence cells)."""
    return cell.spec.corpus in EVIDENCE_CORPORA and cell.spec.data == "budget"


def teacher_cell(cell: Cell) -> Cell:
    """The human-only cell whose model is the prior of a calibrated cell."""
    if cell.spec.data == "budget":
        # Chosen by the simulated annotator's uncertainty: other documents than the LLM's.
        own = cell.spec.annotator == "simulated" and cell.selection != DEFAULT_SELECTION
        return replace(cell, condition="sim-human-budget" if own else "human-budget")
    if cell.omit_rate == 0.0:
        return Cell(cell.dataset, "human-clean", 0.0, 1.0, cell.seed)
    return Cell(cell.dataset, "human-omit", cell.omit_rate, 1.0, cell.seed, cell.omission_model)
