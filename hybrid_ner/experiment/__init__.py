"""The experiment grid: conditions × omission rates × budgets × seeds, each
cell a training run scored on the test set.

``conditions`` (what each condition trains on), ``cells`` (which cells, in
which order), ``data`` (their training files), ``costs``, ``training`` (one
cell), ``run`` (the grid, resumable), ``result`` (one typed result per cell,
read back by :mod:`hybrid_ner.report`), ``annotators`` and ``samples``.
"""

from .annotators import AnnotatorReport, annotator_report
from .cells import Cell, plan_cells, teacher_cell
from .conditions import CONDITIONS, FOCUS_RATE, Condition
from .costs import Costs, llm_cost_per_sentence
from .data import GridData
from .result import CellResult
from .run import completed, run_grid
from .samples import sample_docs
from .training import run_cell, score_model, train_overrides

__all__ = [
    "AnnotatorReport",
    "CONDITIONS",
    "Cell",
    "CellResult",
    "Condition",
    "Costs",
    "FOCUS_RATE",
    "GridData",
    "annotator_report",
    "completed",
    "llm_cost_per_sentence",
    "plan_cells",
    "run_cell",
    "run_grid",
    "sample_docs",
    "score_model",
    "teacher_cell",
    "train_overrides",
]
