"""Load the grid runner's result files.

A grid directory holds one folder per dataset (``<grid>/<dataset>/``) with one
JSON file per trained model in ``cells/`` plus the optional ``annotators.json``
(quality of the proposals) and ``run.json`` (how the grid was run). Everything
here is pure data handling; the aggregation over seeds is in ``stats``,
``coverage`` and ``calibration`` (re-exported here), tables and plots are
built from their results.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import HybridNerError
from ..experiment import conditions as _conditions
from ..experiment.annotators import ANNOTATORS_FILE
from ..experiment.conditions import (
    CALIBRATED_CONDITIONS,
    FULL_BUDGET_EQUIVALENT,
    UPPER_BOUND,
    condition_order,
    is_simulated,
)
from ..experiment.jsonio import optional_object, read_json
from ..experiment.result import CellResult, GroupKey, setting_value
from ..experiment.run import CELLS_DIR
from ..experiment.runlog import RUN_FILE
from ..experiment.samples import SAMPLES_FILE
from ..simulation.omissions import DEFAULT_OMISSION_MODEL
from .calibration import (
    OmissionEstimate,
    calibrated_cells,
    calibration_cell,
    omission_estimates,
)
from .coverage import Incomplete, incomplete_groups, unknown_conditions
from .stats import (
    Metric,
    Stat,
    aggregate,
    budgets,
    closest_rate,
    cost_part,
    f1,
    label_f1,
    labels,
    precision,
    rates,
    recall,
    stat_at,
    stat_for,
)

__all__ = [
    "ANNOTATORS_FILE",
    "BEFORE_CALIBRATION",
    "BUDGET_CONDITIONS",
    "CALIBRATED_CONDITIONS",
    "CELLS_DIR",
    "CONDITIONS",
    "Cell",
    "DatasetResults",
    "FULL_BUDGET_EQUIVALENT",
    "GroupKey",
    "Incomplete",
    "Metric",
    "OmissionEstimate",
    "RATE_CONDITIONS",
    "RATE_INDEPENDENT",
    "RUN_FILE",
    "SAMPLES_FILE",
    "Stat",
    "UPPER_BOUND",
    "aggregate",
    "budgets",
    "calibrated_cells",
    "calibration_cell",
    "closest_rate",
    "condition_order",
    "cost_part",
    "f1",
    "incomplete_groups",
    "is_simulated",
    "label_f1",
    "labels",
    "load_cells",
    "load_dataset",
    "load_grid",
    "omission_estimates",
    "parse_cell",
    "precision",
    "rates",
    "recall",
    "setting_value",
    "stat_at",
    "stat_for",
    "unknown_conditions",
]

#: Conditions in display order (the grid's). Unknown conditions, e.g. from
#: cells of an older grid, are shown after these.
CONDITIONS: Tuple[str, ...] = tuple(_conditions.CONDITIONS)
#: Trained without omissions: one reference value drawn at every rate.
RATE_INDEPENDENT: Tuple[str, ...] = _conditions.FIXED_CONDITIONS
BUDGET_CONDITIONS: Tuple[str, ...] = _conditions.BUDGET_CONDITIONS
RATE_CONDITIONS: Tuple[str, ...] = _conditions.RATE_CONDITIONS
#: Appended to a calibrated condition whose cell has no calibration record:
#: such a cell was written by an older grid, when the condition of that
#: name trained another method, and is kept apart from the current ones.
BEFORE_CALIBRATION = "-before-calibration"
#: The result of one cell, as the report reads it (one class with the grid's).
Cell = CellResult


@dataclass
class DatasetResults:
    """Everything the grid runner wrote for one dataset."""

    name: str
    path: Path
    #: The cells with uniform omissions (every table but the field comparison).
    cells: List[CellResult]
    annotators: Optional[Dict[str, Any]] = None
    run: Optional[Dict[str, Any]] = None
    #: The cells with another omission model ("hard"), kept apart so that no
    #: table mixes them with the uniform ones.
    other_omissions: List[CellResult] = field(default_factory=list)

    @property
    def all_cells(self) -> List[CellResult]:
        """The cells of every omission model."""
        return self.cells + self.other_omissions

    @property
    def samples_path(self) -> Optional[Path]:
        """The dataset's sample sentences, if the grid wrote them."""
        path = self.path / SAMPLES_FILE
        return path if path.is_file() else None


def parse_cell(path: Union[str, Path], data: Any) -> CellResult:
    """Validate one cell's JSON content.

    A calibrated condition's cell without a calibration record was written by
    an older grid: its condition gets ``BEFORE_CALIBRATION`` appended.

    path (Union[str, Path]): The file, named in errors.
    data (Any): The parsed JSON.
    RETURNS (CellResult): The cell.
    RAISES (HybridNerError): If a required key is missing or has the wrong type.
    """
    cell = CellResult.from_json(path, data)
    if cell.calibration is None and cell.condition in CALIBRATED_CONDITIONS:
        return replace(cell, condition=cell.condition + BEFORE_CALIBRATION)
    return cell


def load_cells(cells_dir: Union[str, Path]) -> List[CellResult]:
    """Read every ``*.json`` cell file of a directory, sorted by file name.

    cells_dir (Union[str, Path]): A ``cells/`` directory (missing = no cells).
    RETURNS (List[CellResult]): The cells.
    RAISES (HybridNerError): If a file is not a valid cell, naming the file.
    """
    cells_dir = Path(cells_dir)
    if not cells_dir.is_dir():
        return []
    return [parse_cell(path, read_json(path)) for path in sorted(cells_dir.glob("*.json"))]


def load_dataset(path: Union[str, Path]) -> DatasetResults:
    """Read one dataset directory of the grid.

    path (Union[str, Path]): ``<grid>/<dataset>``.
    RETURNS (DatasetResults): Cells plus the optional annotator and run files.
    """
    path = Path(path)
    annotators = optional_object(path / ANNOTATORS_FILE)
    if annotators is not None and not isinstance(annotators.get("annotators"), dict):
        raise HybridNerError(
            f'{path / ANNOTATORS_FILE}: missing key "annotators" (an object per annotator)'
        )
    cells = load_cells(path / CELLS_DIR)
    return DatasetResults(
        name=path.name,
        path=path,
        cells=[c for c in cells if c.omission_model == DEFAULT_OMISSION_MODEL],
        annotators=annotators,
        run=optional_object(path / RUN_FILE),
        other_omissions=[c for c in cells if c.omission_model != DEFAULT_OMISSION_MODEL],
    )


def load_grid(grid_dir: Union[str, Path]) -> List[DatasetResults]:
    """Read all dataset directories of a grid, sorted by name.

    A directory that itself holds ``cells/`` is read as a single dataset.

    grid_dir (Union[str, Path]): The grid directory, e.g. ``metrics/grid``.
    RETURNS (List[DatasetResults]): One entry per dataset.
    RAISES (HybridNerError): If the directory is missing, holds no results or
        a file in it is malformed.
    """
    grid_dir = Path(grid_dir)
    if not grid_dir.is_dir():
        raise HybridNerError(f"{grid_dir}: grid directory not found (run the grid first)")
    if (grid_dir / CELLS_DIR).is_dir():
        return [load_dataset(grid_dir)]
    datasets = [
        load_dataset(path)
        for path in sorted(grid_dir.iterdir())
        if path.is_dir() and ((path / CELLS_DIR).is_dir() or (path / ANNOTATORS_FILE).is_file())
    ]
    if not datasets:
        raise HybridNerError(
            f"{grid_dir}: no results found "
            f"(expected <dataset>/cells/*.json or <dataset>/{ANNOTATORS_FILE})"
        )
    return datasets
