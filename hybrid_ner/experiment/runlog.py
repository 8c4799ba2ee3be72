"""``run.json``: how a grid was run, kept up to date across resumed runs."""

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import srsly

from .jsonio import write_json

RUN_FILE = "run.json"


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
