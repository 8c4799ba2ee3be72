"""Run the grid: every cell trains the same config for the same steps and
is scored on the clean test set; one result file per cell, so the grid
resumes where it stopped and a report can be built from any part of it."""

import contextlib
import os
import platform
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import srsly

from ..atomic import write_json
from .cells import Cell, needs_teacher, teacher_cell
from .data import GridData
from .result import CellResult
from .training import TrainSettings, prepare_cell, train_cell

CELLS_DIR = "cells"
RUN_FILE = "run.json"
ProgressCallback = Callable[[Cell, CellResult], None]


def completed(out_dir: Path) -> Dict[str, Path]:
    """The cells already scored in a dataset's ``cells`` directory, by cell id."""
    return {path.stem: path for path in sorted((out_dir / CELLS_DIR).glob("*.json"))}


def run_grid(
    cells: Iterable[Cell],
    data: GridData,
    settings: TrainSettings,
    out_dir: Path,
    max_minutes: float = 0.0,
    progress: Optional[ProgressCallback] = None,
    jobs: int = 1,
) -> List[CellResult]:
    """Train the cells not yet scored, writing ``out_dir/cells/<cell_id>.json``
    after each; missing teachers (human-only cells) train first.

    max_minutes (float): Start no new cell after this long (0: no limit).
    progress (Optional[ProgressCallback]): Called with each new result.
    jobs (int): Cells trained at the same time, each in its own process with
        an equal share of the cores (1: here). Results do not depend on it.
    RETURNS (List[CellResult]): The results computed in this call.
    """
    cells = list(cells)
    done = completed(out_dir)
    planned = {cell.cell_id for cell in cells}
    started = time.perf_counter()
    results: List[CellResult] = []

    def record(cell: Cell, result: CellResult) -> None:
        if cell.cell_id in done or cell.cell_id not in planned:
            return  # trained only as a teacher
        path = out_dir / CELLS_DIR / f"{cell.cell_id}.json"
        write_json(path, result.to_json())
        done[cell.cell_id] = path
        results.append(result)
        if progress:
            progress(cell, result)

    def out_of_time() -> bool:
        return bool(max_minutes) and (time.perf_counter() - started) / 60 > max_minutes

    todo = [cell for cell in cells if cell.cell_id not in done]
    teachers = {
        teacher_cell(cell).cell_id: teacher_cell(cell)
        for cell in todo
        if needs_teacher(cell) and not data.has_teacher(teacher_cell(cell))
    }
    threads = max(1, (os.cpu_count() or 1) // jobs)
    for stage in (list(teachers.values()), todo):
        pool = None
        if jobs > 1:
            context = get_context("spawn")
            pool = ProcessPoolExecutor(jobs, context, _worker_threads, (threads,))
        with pool or contextlib.nullcontext():
            running: Dict[Future, Cell] = {}
            while stage or running:
                while stage and len(running) < jobs and not out_of_time():
                    cell = stage.pop(0)
                    cell_job = prepare_cell(cell, data, settings)
                    if pool is None:
                        future: Future = Future()
                        future.set_result(train_cell(cell_job))
                    else:
                        future = pool.submit(train_cell, cell_job)
                    running[future] = cell
                if not running:
                    return results
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(running.pop(future), future.result())
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


class RunLog:
    """``run.json``: the commands that produced a grid, their summed wall time
    and progress, kept up to date across interrupted and resumed runs."""

    def __init__(self, path: Path, command: str, planned: int) -> None:
        previous = dict(srsly.read_json(path)) if path.exists() else {}
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.path, self.start = path, time.perf_counter()
        self.seconds = previous.get("wall_seconds", 0.0)
        machine = f"{os.cpu_count()} CPU cores, {platform.machine()}, "
        self.log = {
            "commands": list(dict.fromkeys([*previous.get("commands", []), command])),
            "started": previous.get("started", now),
            "machine": previous.get("machine", machine + f"Python {platform.python_version()}"),
            "cells_planned": planned,
        }

    def update(self, cells_done: int) -> None:
        """Write the file with the number of cells scored so far."""
        seconds = round(self.seconds + time.perf_counter() - self.start, 1)
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        log = {**self.log, "wall_seconds": seconds, "finished": finished, "cells_done": cells_done}
        write_json(self.path, log)
