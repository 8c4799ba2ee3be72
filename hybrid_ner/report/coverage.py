"""Which settings of a dataset lack seeds, and which cells the grid does not know."""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..experiment.conditions import CONDITIONS, condition_order
from ..experiment.result import CellResult, GroupKey
from .stats import budgets, rates


@dataclass(frozen=True)
class Incomplete:
    """A setting with fewer seeds than the fullest setting of its dataset."""

    condition: str
    kind: str
    value: Optional[float]
    n: int
    missing_seeds: Tuple[int, ...]


def unknown_conditions(cells: Iterable[CellResult]) -> Dict[str, int]:
    """Conditions of cells that the current grid does not know (e.g. cells of
    an older grid), with their number of cells, in display order."""
    counts: Dict[str, int] = {}
    for cell in cells:
        if not cell.known:
            counts[cell.condition] = counts.get(cell.condition, 0) + 1
    return {condition: counts[condition] for condition in sorted(counts)}


def _expected(cells: List[CellResult], seeds: Dict[GroupKey, Set[int]]) -> List[GroupKey]:
    expected: List[GroupKey] = []
    for condition in condition_order(c.condition for c in cells):
        kinds = {key[1] for key in seeds if key[0] == condition}
        if "reference" in kinds:
            expected.append((condition, "reference", None))
        if "rate" in kinds:
            expected.extend(
                (condition, "rate", rate)
                for rate in rates(cells)
                # human-omit at 0% is never trained: it is human-clean (see stat_at).
                if not (condition == "human-omit" and rate == 0.0)
            )
        if "budget" in kinds:
            expected.extend((condition, "budget", budget) for budget in budgets(cells))
    return expected


def incomplete_groups(cells: Sequence[CellResult]) -> Tuple[List[Incomplete], List[str], int]:
    """Settings of a dataset with fewer seeds than the maximum, and known
    conditions without any cell.

    A condition that was run is expected at every rate (budget) run for any
    condition of its kind, with every seed seen anywhere in the dataset.
    Cells of conditions the grid does not know (older grids) are left out:
    the grid will never complete them.

    cells (Sequence[CellResult]): The cells of one dataset.
    RETURNS (Tuple[List[Incomplete], List[str], int]): The incomplete settings
        (n may be 0), the known conditions with no cell at all, and the maximum
        number of seeds of a setting.
    """
    known = [c for c in cells if c.known]
    all_seeds = {c.seed for c in known}
    seeds: Dict[GroupKey, Set[int]] = {}
    for cell in known:
        seeds.setdefault(cell.group, set()).add(cell.seed)
    max_n = max((len(s) for s in seeds.values()), default=0)
    incomplete = [
        Incomplete(
            key[0],
            key[1],
            key[2],
            len(seeds.get(key, ())),
            tuple(sorted(all_seeds - seeds.get(key, set()))),
        )
        for key in _expected(known, seeds)
        if len(seeds.get(key, ())) < max_n
    ]
    present = {c.condition for c in known}
    absent = [c for c in CONDITIONS if c not in present]
    return incomplete, absent, max_n
