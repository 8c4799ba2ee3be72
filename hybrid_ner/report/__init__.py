"""The experiment report: markdown tables, PNG figures and displaCy sample
pages built from the result files of the training grid."""

from .build import ReportFiles, write_report
from .results import DatasetResults, Stat, aggregate, load_cells, load_grid
from .samples import render_samples

__all__ = [
    "DatasetResults",
    "ReportFiles",
    "Stat",
    "aggregate",
    "load_cells",
    "load_grid",
    "render_samples",
    "write_report",
]
