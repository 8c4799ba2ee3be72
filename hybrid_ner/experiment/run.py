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
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import srsly

from .cells import Cell, needs_teacher, teacher_cell
from .costs import Costs
from .data import GridData
from .jsonio import write_json
from .result import CellResult
from .training import CellJob, prepare_cell, train_cell

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
    jobs: int = 1,
) -> List[CellResult]:
    """Run the cells not yet scored, writing ``out_dir/cells/<cell_id>.json`` after each.

    A calibrated cell first trains its teacher (the human-only cell of the
    same setting) when that has no model yet.

    max_minutes (float): Start no new cell after this long (0: no limit); the
        grid resumes from the written cells on the next call.
    progress (Optional[ProgressCallback]): Called after each planned cell.
    overrides (Optional[Dict[str, object]]): Extra config overrides for every cell.
    jobs (int): Cells trained at the same time, each in its own process with
        an equal share of the CPU cores (1: one after the other, here). The
        results do not depend on it: every cell trains with its own seed.
    RETURNS (List[CellResult]): The results computed in this call.
    """
    cells = list(cells)
    done = completed(out_dir)
    planned = {cell.cell_id for cell in cells}
    started = time.perf_counter()
    results: List[CellResult] = []

    def job(cell: Cell) -> CellJob:
        return prepare_cell(
            cell,
            data,
            dev,
            test,
            config,
            steps,
            costs,
            data.work_dir / "models" / data.name / cell.cell_id,
            dev_limit,
            keep_models,
            log_file=data.work_dir / "logs" / data.name / f"{cell.cell_id}.log",
            overrides=overrides,
        )

    def record(cell: Cell, result: CellResult) -> None:
        if cell.cell_id in done or cell.cell_id not in planned:
            return  # trained only as a teacher: recorded when (if) its own cell is planned
        path = out_dir / CELLS_DIR / f"{cell.cell_id}.json"
        write_json(path, result.to_json())
        done[cell.cell_id] = path
        results.append(result)
        if progress:
            progress(cell, result)

    def out_of_time() -> bool:
        return bool(max_minutes) and (time.perf_counter() - started) / 60 > max_minutes

    todo = []
    for cell in cells:
        if cell.cell_id in done:
            if progress:
                progress(cell, None)
        else:
            todo.append(cell)
    # The human-only model of the same setting is a calibrated cell's prior:
    # every missing teacher trains before the cells that need it.
    teachers = {
        teacher_cell(cell).cell_id: teacher_cell(cell)
        for cell in todo
        if needs_teacher(cell) and not data.has_teacher(teacher_cell(cell))
    }
    for stage in (list(teachers.values()), todo):
        if jobs <= 1:
            for cell in stage:
                if out_of_time():
                    return results
                record(cell, train_cell(job(cell)))
            continue
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(
            jobs, mp_context=get_context("spawn"), initializer=_worker_threads, initargs=(threads,)
        ) as pool:
            running: Dict[Future, Cell] = {}
            queue = list(stage)
            while queue or running:
                while queue and len(running) < jobs and not out_of_time():
                    cell = queue.pop(0)
                    running[pool.submit(train_cell, job(cell))] = cell
                if not running:
                    return results
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(running.pop(future), future.result())
        if out_of_time():
            return results
    return results


def _worker_threads(threads: int) -> None:
    """Give a grid worker its share of the cores (BLAS, OpenMP and torch)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


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
