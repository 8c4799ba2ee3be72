"""Run the grid: every cell trains the same config for the same steps, scored on the clean
test set; a result file per cell, so the grid resumes where it stopped."""

import contextlib
import os
import platform
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

import srsly
from spacy.tokens import Doc, Span

from ..atomic import write_json
from ..evaluation import proposal_quality
from ..layers import LLM_ADDED_KEY, LLM_KEY, OMITTED_KEY
from ..merge.merger import Merger
from ..simulation.omissions import omit_entities
from .cells import Cell, needs_teacher, teacher_cell
from .conditions import FOCUS_RATE
from .costs import Costs
from .data import GridData
from .result import CellResult
from .training import TrainSettings, prepare_cell, train_cell

CELLS_DIR = "cells"
RUN_FILE = "run.json"
ANNOTATORS_FILE = "annotators.json"
SAMPLES_FILE = "samples.spacy"


def completed(out_dir: Path) -> Dict[str, Path]:
    """The cells already scored in a dataset's ``cells`` directory, by cell id."""
    return {path.stem: path for path in sorted((out_dir / CELLS_DIR).glob("*.json"))}


def run_grid(
    cells: Iterable[Cell],
    data: GridData,
    settings: TrainSettings,
    out_dir: Path,
    max_minutes: float = 0.0,
    progress: Optional[Callable[[Cell, CellResult], None]] = None,
    jobs: int = 1,
) -> List[CellResult]:
    """Train the cells not yet scored, writing ``out_dir/cells/<cell_id>.json`` after each;
    missing teachers train first. ``jobs``: cells trained at once, each in a process."""
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
        spawn = get_context("spawn")
        pool = ProcessPoolExecutor(jobs, spawn, _worker_threads, (threads,)) if jobs > 1 else None
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
    """``run.json``: the commands of a grid, their summed wall time and progress."""

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


def annotator_report(
    data: GridData, seed: int, llm_name: str, usage: Optional[Mapping[str, Any]], costs: Costs
) -> Dict[str, Any]:
    """``annotators.json``: gold counts, each annotator's P/R/F1, the LLM's usage, the costs."""
    docs = data.annotated(seed)
    llm = proposal_quality(docs, LLM_KEY)
    simulated = data.simulated(seed)
    return {
        "dataset": data.name,
        "sentences": len(docs),
        "gold_entities": llm["overall"]["gold"],
        "gold_distribution": llm["gold_distribution"],
        "annotators": {
            "llm": {"name": llm_name, "simulated": False, **llm},
            "simulated": {
                "name": simulated.name,
                "simulated": True,
                "params": simulated.params(),
                **proposal_quality(docs, simulated.spans_key),
            },
        },
        "usage": dict(usage or {}),
        "costs": costs.assumptions(len(docs)),
    }


def sample_docs(data: GridData, seed: int, omit_rate: float = FOCUS_RATE, n: int = 10) -> List[Doc]:
    """``n`` sentences with every layer, first those where the LLM filled a human omission."""
    merger = Merger()
    docs = [omit_entities(doc, omit_rate, seed) for doc in data.annotated(seed)]
    for original, doc in zip(data.annotated(seed), docs):
        doc.spans["gold"] = [Span(doc, e.start, e.end, label=e.label_) for e in original.ents]
    merger.merge_all(docs)

    def filled(doc: Doc) -> int:
        omitted = {(s.start, s.end, s.label_) for s in doc.spans.get(OMITTED_KEY, [])}
        added = doc.spans.get(LLM_ADDED_KEY, [])
        return sum((s.start, s.end, s.label_) in omitted for s in added)

    ranked = sorted(range(len(docs)), key=lambda i: (-min(filled(docs[i]), 2), i))
    return [docs[i] for i in ranked[:n]]
