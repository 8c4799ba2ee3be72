"""The experiment report: markdown tables, PNG figures and displaCy sample
pages built from the result files of the training grid."""

from .build import ReportFiles, write_report
from .results import DatasetResults, Stat, aggregate, load_cells, load_grid
from .samples import render_samples
from .transformer import StackComparison, TransformerResults, compare_stacks, load_transformer_grid

__all__ = [
    "DatasetResults",
    "ReportFiles",
    "Stat",
    "StackComparison",
    "TransformerResults",
    "aggregate",
    "compare_stacks",
    "load_cells",
    "load_grid",
    "load_transformer_grid",
    "render_samples",
    "write_report",
]
