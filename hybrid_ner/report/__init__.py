"""The experiment report: markdown tables, PNG figures and displaCy sample
pages built from the result files of the training grid."""

from .build import ReportFiles, write_report
from .results import Cell, DatasetResults, Stat, aggregate, load_cells, load_grid
from .samples import render_samples
from .targets import TARGETS, Target, TargetSpec, evaluate_targets
from .transformer import StackComparison, TransformerResults, compare_stacks, load_transformer_grid

__all__ = [
    "Cell",
    "DatasetResults",
    "ReportFiles",
    "Stat",
    "StackComparison",
    "TARGETS",
    "Target",
    "TargetSpec",
    "TransformerResults",
    "aggregate",
    "compare_stacks",
    "evaluate_targets",
    "load_cells",
    "load_grid",
    "load_transformer_grid",
    "render_samples",
    "write_report",
]
