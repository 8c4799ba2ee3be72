"""Rewrite the cells of older grids in the current format (a one-off migration).

``hybrid-ner report`` reads only cells in the current format. Older grids
wrote cells without ``omission_model`` (all of them uniform), some without
``budget`` (1.0) or ``annotator`` (the condition's), and, before calibration
existed, cells of today's calibrated conditions that trained another method
(no ``calibration`` record) or of conditions the grid no longer has. This
script adds the missing keys and moves the cells that stand for another
method to ``<dataset>/cells-old/`` (kept, but not reported).

    python scripts/migrate_cells.py metrics/grid metrics/grid-trf [--dry-run]
"""

import argparse
import json
from pathlib import Path
from typing import Any, Dict, Optional

from hybrid_ner.experiment.conditions import CALIBRATED_CORPUS, CONDITIONS
from hybrid_ner.simulation.omissions import DEFAULT_OMISSION_MODEL

OLD_CELLS = "cells-old"


def migrate(data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The cell in the current format, or None when it stands for a method
    the grid no longer trains under its condition's name."""
    condition = CONDITIONS.get(data.get("condition", ""))
    if condition is None:
        return None
    if condition.corpus == CALIBRATED_CORPUS and data.get("calibration") is None:
        return None  # written before calibration existed: another method
    return {
        "omission_model": DEFAULT_OMISSION_MODEL,
        "budget": 1.0,
        "annotator": condition.annotator,
        **data,
    }


def main(roots, dry_run: bool) -> None:
    for root in roots:
        for path in sorted(Path(root).glob("**/cells/*.json")):
            data = json.loads(path.read_text(encoding="utf8"))
            new = migrate(data)
            if new is None:
                target = path.parent.parent / OLD_CELLS / path.name
                print(f"{path}: another method under this name, moved to {target}")
                if not dry_run:
                    target.parent.mkdir(exist_ok=True)
                    path.replace(target)
            elif new != data:
                added = ", ".join(sorted(set(new) - set(data)))
                print(f"{path}: added {added}")
                if not dry_run:
                    path.write_text(json.dumps(new, indent=2, sort_keys=True), encoding="utf8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", help="Grid folders, e.g. metrics/grid")
    parser.add_argument("--dry-run", action="store_true", help="List the changes only")
    args = parser.parse_args()
    main(args.roots, args.dry_run)
