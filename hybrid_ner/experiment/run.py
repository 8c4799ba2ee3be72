"""Run the grid: train the cells not yet scored, one result file each.

Every cell trains the same config (the soft-target NER, so the comparison is
fair) for the same number of steps and is scored on the clean test set; its
result is one small JSON file, so the grid resumes where it stopped and a
report can be built from any part of it. ``run.json`` (:class:`RunLog`)
records how the grid was run, across interrupted and resumed runs.
"""

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import srsly

from .cells import Cell, needs_teacher, teacher_cell
from .costs import Costs
from .data import GridData
from .jsonio import write_json
from .result import CellResult
from .training import run_cell

CELLS_DIR = "cells"
RUN_FILE = "run.json"
#: Called after each planned cell: with its result, or None when it was done before.
ProgressCallback = Callable[[Cell, Optional[CellResult]], None]


def completed(out_dir: Path) -> Dict[str, Path]:
    """The cells already scored in a dataset's ``cells`` directory, by cell id."""
    return {path.stem: path for path in sorted((out_dir / CELLS_DIR).glob("*.json"))}


def run_grid(
    cells: Iterable[Cell],
    data: GridData,
    dev: Path,
    test: Path,
    config: Path,
    steps: int,
    costs: Costs,
    out_dir: Path,
    dev_limit: int = 0,
    keep_models: bool = False,
    max_minutes: float = 0.0,
    progress: Optional[ProgressCallback] = None,
    overrides: Optional[Dict[str, object]] = None,
) -> List[CellResult]:
    """Run the cells not yet scored, writing ``out_dir/cells/<cell_id>.json`` after each.

    A calibrated cell first trains its teacher (the human-only cell of the
    same setting) when that has no model yet.

    max_minutes (float): Start no new cell after this long (0: no limit); the
        grid resumes from the written cells on the next call.
    progress (Optional[ProgressCallback]): Called after each planned cell.
    overrides (Optional[Dict[str, object]]): Extra config overrides for every cell.
    RETURNS (List[CellResult]): The results computed in this call.
    """
    cells = list(cells)
    done = completed(out_dir)
    planned = {cell.cell_id for cell in cells}
    started = time.perf_counter()
    results: List[CellResult] = []

    def train(cell: Cell) -> None:
        model_dir = data.work_dir / "models" / data.name / cell.cell_id
        log_file = data.work_dir / "logs" / data.name / f"{cell.cell_id}.log"
        result = run_cell(
            cell,
            data,
            dev,
            test,
            config,
            steps,
            costs,
            model_dir,
            dev_limit,
            keep_models,
            log_file=log_file,
            overrides=overrides,
        )
        if cell.cell_id in done or cell.cell_id not in planned:
            return  # trained only as a teacher: recorded when (if) its own cell is planned
        path = out_dir / CELLS_DIR / f"{cell.cell_id}.json"
        write_json(path, result.to_json())
        done[cell.cell_id] = path
        results.append(result)
        if progress:
            progress(cell, result)

    for cell in cells:
        if cell.cell_id in done:
            if progress:
                progress(cell, None)
            continue
        if max_minutes and (time.perf_counter() - started) / 60 > max_minutes:
            break
        if needs_teacher(cell) and not data.has_teacher(teacher_cell(cell)):
            # The human-only model of the same setting is the cell's prior.
            train(teacher_cell(cell))
        train(cell)
    return results


def machine() -> str:
    """The machine the grid runs on, in words."""
    return f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}"


class RunLog:
    """``run.json``: the commands that produced a grid, their summed wall
    time and progress, kept up to date across interrupted and resumed runs.

    path (Path): The file (read when it exists: a resumed run adds to it).
    command (str): The command of this run.
    planned (int): The cells this run planned.
    """

    def __init__(self, path: Path, command: str, planned: int) -> None:
        self.path = path
        self.previous = dict(srsly.read_json(path)) if path.exists() else {}
        self.command = command
        self.planned = planned
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.start = time.perf_counter()

    def update(self, cells_done: int) -> None:
        """Write the file with the cells scored so far.

        cells_done (int): The cells scored in the dataset's folder.
        """
        previous = self.previous
        seconds = previous.get("wall_seconds", 0.0) + time.perf_counter() - self.start
        write_json(
            self.path,
            {
                "commands": list(dict.fromkeys([*previous.get("commands", []), self.command])),
                "wall_seconds": round(seconds, 1),
                "started": previous.get("started", self.started),
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": previous.get("machine", machine()),
                "cells_done": cells_done,
                "cells_planned": self.planned,
            },
        )
