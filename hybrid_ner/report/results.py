"""The grid's results read back and aggregated over seeds."""

import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from ..errors import HybridNerError
from ..experiment.cells import DEFAULT_SELECTION
from ..experiment.conditions import (
    BUDGET_CONDITIONS,
    CONDITIONS,
    FIXED_CONDITIONS,
    FULL_BUDGET_EQUIVALENT,
    UPPER_BOUND,
    condition_order,
)
from ..experiment.result import (
    DIGITS,
    CellResult,
    GroupKey,
    optional_object,
    read_json,
    setting_value,
)
from ..experiment.run import ANNOTATORS_FILE, CELLS_DIR, RUN_FILE
from ..simulation.omissions import DEFAULT_OMISSION_MODEL

Metric = Callable[[CellResult], Optional[float]]


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (n - 1) of one value over seeds."""

    mean: float
    sd: Optional[float]
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stat":
        """Summarize values (at least one)."""
        sd = statistics.stdev(values) if len(values) > 1 else None
        return cls(statistics.fmean(values), sd, len(values))


@dataclass
class DatasetResults:
    """Everything the grid runner wrote for one dataset."""

    name: str
    path: Path
    #: The cells with uniform omissions.
    cells: List[CellResult]
    annotators: Optional[Dict[str, Any]] = None
    run: Optional[Dict[str, Any]] = None
    #: Cells of other omission models ("hard"), kept apart so no table mixes them.
    other_omissions: List[CellResult] = field(default_factory=list)
    #: Budget cells that chose their documents by uncertainty: the budget section only.
    other_selections: List[CellResult] = field(default_factory=list)
    #: ``spacy evaluate --output`` scores next to the cells, by name (seed suffix dropped).
    evaluated: Dict[str, List[Dict[str, float]]] = field(default_factory=dict)


def load_cells(cells_dir: Union[str, Path]) -> List[CellResult]:
    """Every ``*.json`` cell file of a directory (missing: none), sorted by name."""
    paths = sorted(Path(cells_dir).glob("*.json"))
    return [CellResult.from_json(path, read_json(path)) for path in paths]


def load_dataset(path: Path) -> DatasetResults:
    """Read one dataset directory: cells, annotator, run and ``spacy evaluate`` files."""
    annotators = optional_object(path / ANNOTATORS_FILE)
    if annotators is not None and not isinstance(annotators.get("annotators"), dict):
        raise HybridNerError(
            f'{path / ANNOTATORS_FILE}: missing key "annotators" (an object per annotator)'
        )
    cells = load_cells(path / CELLS_DIR)
    evaluated: Dict[str, List[Dict[str, float]]] = {}
    for file in sorted(path.glob("*.json")):
        data = read_json(file) if file.name not in (ANNOTATORS_FILE, RUN_FILE) else None
        if isinstance(data, dict) and isinstance(data.get("ents_f"), (int, float)):
            evaluated.setdefault(re.sub(r"_s\d+$", "", file.stem), []).append(data)
    return DatasetResults(
        name=path.name,
        path=path,
        cells=[c for c in cells if c.cell.suffix == ""],
        annotators=annotators,
        run=optional_object(path / RUN_FILE),
        other_omissions=[c for c in cells if c.omission_model != DEFAULT_OMISSION_MODEL],
        other_selections=[c for c in cells if c.selection != DEFAULT_SELECTION],
        evaluated=evaluated,
    )


def load_grid(grid_dir: Union[str, Path]) -> List[DatasetResults]:
    """Read all dataset directories of a grid (or one that holds ``cells/``), sorted."""
    grid_dir = Path(grid_dir)
    if not grid_dir.is_dir():
        raise HybridNerError(f"{grid_dir}: grid directory not found (run the grid first)")
    if (grid_dir / CELLS_DIR).is_dir():
        return [load_dataset(grid_dir)]
    datasets = [
        load_dataset(path)
        for path in sorted(grid_dir.iterdir())
        if (path / CELLS_DIR).is_dir() or (path / ANNOTATORS_FILE).is_file()
    ]
    if not datasets:
        raise HybridNerError(
            f"{grid_dir}: no results found "
            f"(expected <dataset>/cells/*.json or <dataset>/{ANNOTATORS_FILE})"
        )
    return datasets


def f1(cell: CellResult) -> Optional[float]:
    return cell.f


def aggregate(cells: Iterable[CellResult], metric: Metric = f1) -> Dict[GroupKey, Stat]:
    """Mean, sd and number of seeds of a metric (None: skipped) per group of cells."""
    values: Dict[GroupKey, List[float]] = {}
    for cell in cells:
        value = metric(cell)
        if value is not None:
            values.setdefault(cell.group, []).append(value)
    return {key: Stat.of(vals) for key, vals in values.items()}


def settings(cells: Iterable[CellResult], kind: str) -> List[float]:
    """The omission rates (kind "rate") or budget fractions ("budget") of the cells, ascending."""
    return sorted({c.group[2] for c in cells if c.group[1] == kind})  # type: ignore[type-var]


def labels(cells: Iterable[CellResult]) -> List[str]:
    """All entity labels in any cell's per-type scores."""
    return sorted({label for cell in cells for label in cell.per_type})


def closest_rate(available: Sequence[float], target: float) -> Optional[float]:
    """The available rate closest to the target (the lower one on ties)."""
    # Rounded distances, so float noise cannot break a tie (0.3 vs 0.5 for 0.4).
    return min(sorted(available), key=lambda r: round(abs(r - target), DIGITS), default=None)


def stat_at(stats: Dict[GroupKey, Stat], condition: str, rate: Optional[float]) -> Optional[Stat]:
    """A condition's statistic at an omission rate; reference conditions hold at every rate."""
    if condition in FIXED_CONDITIONS:
        return stats.get((condition, "reference", None))
    if rate is None:
        return None
    if condition == "human-omit" and setting_value(rate) == 0.0:
        # No omissions is the clean gold: the grid trains it once, as human-clean.
        return stats.get((UPPER_BOUND, "reference", None))
    return stats.get((condition, "rate", setting_value(rate)))


def table_conditions(cells: Iterable[CellResult]) -> List[str]:
    """The conditions with full-budget cells, in display order."""
    return condition_order(
        c.condition
        for c in cells
        if c.group[1] != "budget" and c.condition not in BUDGET_CONDITIONS
    )


def budget_rows(cells: Sequence[CellResult]) -> List[Dict[str, Any]]:
    """The points of the budget curves per condition and selection, each budget condition's
    full-budget equivalent at budget 1.0; ``vs_human``: Δ mean F1 to human-budget."""
    rows = []
    for selection in sorted({c.selection for c in cells}, key=lambda s: s != DEFAULT_SELECTION):
        mine = [c for c in cells if c.selection == selection or c.group[1] != "budget"]
        rows += [{**row, "selection": selection} for row in _budget_rows(mine)]
    return sorted(rows, key=lambda row: row["budget"])


def reach_rows(rows: Sequence[Dict[str, Any]], share: float = 0.9) -> Tuple[float, List[Any]]:
    """The F1 ``share`` × human-clean's, and per (condition, selection) the least budget
    whose mean F1 reaches it (None: none does); no rows without human-clean."""
    clean = [row["f1"].mean for row in rows if row["source"] == UPPER_BOUND]
    if not clean:
        return 0.0, []
    reached: Dict[Tuple[str, str], Optional[float]] = {}
    for row in sorted(rows, key=lambda row: row["budget"]):
        key = (row["condition"], row["selection"])
        if reached.get(key) is None:
            reached[key] = row["budget"] if row["f1"].mean >= share * clean[0] else None
    return share * clean[0], [(*key, budget) for key, budget in reached.items()]


def _budget_rows(cells: Sequence[CellResult]) -> List[Dict[str, Any]]:
    budget_cells = [c for c in cells if c.group[1] == "budget"]
    if not budget_cells:
        return []
    stats = {"f1": aggregate(cells)}
    for part in ("human", "llm", "total"):
        stats[part] = aggregate(cells, lambda c, p=part: (c.cost or {}).get(p))  # type: ignore[misc]
    # The human part of budget cells is usually clean (omit_rate 0).
    omit_rates = [c.omit_rate for c in budget_cells]
    omit_rate = max(set(omit_rates), key=omit_rates.count)
    rows = []
    for condition in condition_order(c.condition for c in budget_cells):
        points = [
            (b, condition, (condition, "budget", b)) for b in settings(budget_cells, "budget")
        ]
        full = FULL_BUDGET_EQUIVALENT.get(condition)
        if full == UPPER_BOUND and omit_rate > 0:
            full = "human-omit"
        if full is not None:
            kind = "reference" if full in FIXED_CONDITIONS else "rate"
            value = None if full in FIXED_CONDITIONS else setting_value(omit_rate)
            points.append((1.0, full, (full, kind, value)))
        rows.extend(
            {"budget": budget, "condition": condition, "source": source}
            | {part: stat.get(key) for part, stat in stats.items()}
            for budget, source, key in points
            if key in stats["f1"]
        )
    human = {row["budget"]: row["f1"] for row in rows if row["condition"] == "human-budget"}
    for row in rows:
        reference = human.get(row["budget"]) if row["condition"] != "human-budget" else None
        row["vs_human"] = row["f1"].mean - reference.mean if reference is not None else None
    return sorted(rows, key=lambda row: row["budget"])


def omega_rows(
    cells: Iterable[CellResult],
) -> List[Tuple[Tuple[str, str, float, float], Dict[str, Stat]]]:
    """The ω each setting estimated over seeds ("density", "agreement", "used"), sorted."""
    values: Dict[Tuple[str, str, float, float], Dict[str, List[float]]] = {}
    for cell in cells:
        cal = cell.calibration or {}
        found = {
            "density": (cal.get("omission_estimate") or {}).get("rate"),
            "agreement": (cal.get("omission_agreement") or {}).get("rate"),
            "used": cal.get("omission_rate"),
        }
        key = (cell.omission_model, cell.condition, cell.budget, setting_value(cell.omit_rate))
        for name, value in found.items():  # a number, not NaN (not estimated)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                values.setdefault(key, {}).setdefault(name, []).append(float(value))
    order = {c: i for i, c in enumerate(CONDITIONS)}
    keys = sorted(
        values,
        key=lambda k: (k[0] != DEFAULT_OMISSION_MODEL, k[0], order.get(k[1], 99), k[2], k[3]),
    )
    return [(key, {name: Stat.of(vals) for name, vals in values[key].items()}) for key in keys]


def incomplete_groups(
    cells: Sequence[CellResult],
) -> Tuple[List[Tuple[GroupKey, int, List[int]]], List[str], int]:
    """Settings with fewer seeds than the maximum (n, missing seeds), the conditions
    without a cell, and the maximum: a condition run is expected at every setting run."""
    all_seeds = {c.seed for c in cells}
    seeds: Dict[GroupKey, Set[int]] = {}
    for cell in cells:
        seeds.setdefault(cell.group, set()).add(cell.seed)
    max_n = max((len(s) for s in seeds.values()), default=0)
    expected: List[GroupKey] = []
    for condition in condition_order(c.condition for c in cells):
        kinds = {key[1] for key in seeds if key[0] == condition}
        if "reference" in kinds:
            expected.append((condition, "reference", None))
        for kind in ("rate", "budget"):
            if kind in kinds:
                expected.extend(
                    (condition, kind, value)
                    for value in settings(cells, kind)
                    # human-omit at 0% is never trained: it is human-clean (see stat_at).
                    if not (condition == "human-omit" and value == 0.0)
                )
    found = {key: seeds.get(key, set()) for key in expected}
    incomplete = [(k, len(s), sorted(all_seeds - s)) for k, s in found.items() if len(s) < max_n]
    present = {c.condition for c in cells}
    return incomplete, [c for c in CONDITIONS if c not in present], max_n
