"""The transformer grid next to the CPU grid.

A second grid, trained with the transformer config (``configs/ner_soft.cfg``),
writes its cells in the CPU grid's layout (``<dir>/<dataset>/cells/*.json``).
Next to its cells a dataset folder may hold the scores of spaCy's transition
NER on the same transformer stack, trained on the clean data and written by
``spacy evaluate ... --output <dir>/<dataset>/transition-clean_r0_s<seed>.json``
(keys ``ents_p``, ``ents_r``, ``ents_f``). ``compare_stacks`` puts both
grids side by side; ``transformer_section`` writes the report's section.
"""

import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from wasabi import MarkdownRenderer

from ..errors import HybridNerError
from ..experiment.conditions import FOCUS_RATE, UPPER_BOUND, condition_order
from ..experiment.jsonio import number, read_json
from ..experiment.result import CellResult, GroupKey, setting_value
from ..experiment.run import CELLS_DIR
from .format import DASH, at_rate, condition_name, format_rate, format_stat, md
from .results import (
    Stat,
    aggregate,
    closest_rate,
    load_cells,
    precision,
    rates,
    recall,
    stat_at,
)

#: The transformer grid of ``<grid>`` is ``<grid>-trf`` next to it by default
#: (``metrics/grid`` → ``metrics/grid-trf``).
TRANSFORMER_SUFFIX = "-trf"
#: spaCy evaluate's output of the transition NER trained on the clean data, one per seed.
TRANSITION_GLOB = "transition-clean_*.json"
_TRANSITION_SEED = re.compile(r"_s(\d+)$")
#: The gap reported for each stack: GAP[0] − GAP[1] in mean F1.
GAP: Tuple[str, str] = ("hybrid-label-mixing", "human-omit")


@dataclass(frozen=True)
class TransitionScore:
    """Test scores of spaCy's transition NER (clean data) from ``spacy evaluate``."""

    path: Path
    seed: int
    p: float
    r: float
    f: float


@dataclass
class TransformerResults:
    """What the transformer grid holds for one dataset."""

    name: str
    path: Path
    cells: List[CellResult]
    transition: List[TransitionScore]


@dataclass(frozen=True)
class Timing:
    """Training time of a group of cells.

    cells (int): Cells with a training time.
    steps (Tuple[int, ...]): The distinct step counts, ascending.
    median_seconds (float): Median training seconds per cell.
    seconds_per_step (Optional[float]): Median over cells of seconds / steps
        (None when no cell records its steps).
    """

    cells: int
    steps: Tuple[int, ...]
    median_seconds: float
    seconds_per_step: Optional[float]


@dataclass(frozen=True)
class StackRow:
    """One condition on both stacks at the comparison's omission rate."""

    condition: str
    f1: Optional[Stat]
    p: Optional[Stat]
    r: Optional[Stat]
    cpu_f1: Optional[Stat]


@dataclass(frozen=True)
class StackComparison:
    """The transformer grid of one dataset next to the CPU grid.

    rate (Optional[float]): The transformer grid's omission rate shown (the
        one closest to the target rate); None without rate cells.
    rows (Tuple[StackRow, ...]): One per transformer condition, display order.
    gap, cpu_gap (Optional[float]): GAP[0] − GAP[1] in mean F1 on the
        transformer and on the CPU grid at ``rate`` (None: a side is missing).
    transition_f1, transition_p, transition_r (Optional[Stat]): spaCy's
        transition NER trained on the clean data, over its seeds.
    transition_files (Tuple[str, ...]): The file names they come from.
    timing, cpu_timing (Optional[Timing]): Training time of the cells in the
        table on each stack.
    configs, cpu_configs (Tuple[str, ...]): The training configs of those cells.
    """

    dataset: str
    path: Path
    rate: Optional[float]
    rows: Tuple[StackRow, ...]
    gap: Optional[float]
    cpu_gap: Optional[float]
    transition_f1: Optional[Stat]
    transition_p: Optional[Stat]
    transition_r: Optional[Stat]
    transition_files: Tuple[str, ...]
    timing: Optional[Timing]
    cpu_timing: Optional[Timing]
    configs: Tuple[str, ...]
    cpu_configs: Tuple[str, ...]

    @property
    def soft_clean(self) -> Optional[Stat]:
        """The soft NER's F1 on the clean data (the transformer's upper bound)."""
        return next((row.f1 for row in self.rows if row.condition == UPPER_BOUND), None)


def default_transformer_dir(grid_dir: Union[str, Path]) -> Path:
    """The transformer grid that belongs to a grid by default: ``<grid>-trf`` next to it."""
    grid_dir = Path(grid_dir)
    if not grid_dir.name:  # "." or "/": name the folder itself
        grid_dir = grid_dir.resolve()
    return grid_dir.with_name(grid_dir.name + TRANSFORMER_SUFFIX)


def resolve_transformer_dir(
    grid_dir: Union[str, Path], given: Optional[Union[str, Path]] = None
) -> Optional[Path]:
    """The transformer grid to report: the given one, else the default one
    (``default_transformer_dir``) if it exists, else None."""
    if given is not None:
        return Path(given)
    found = default_transformer_dir(grid_dir)
    return found if found.is_dir() else None


def parse_transition(path: Union[str, Path]) -> TransitionScore:
    """Read one ``spacy evaluate --output`` file of the transition NER.

    path (Union[str, Path]): ``transition-clean_r0_s<seed>.json`` (no seed in the name: seed 0).
    RETURNS (TransitionScore): Its entity scores.
    RAISES (HybridNerError): If the file is unreadable or lacks ``ents_p/r/f``.
    """
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise HybridNerError(
            f"{path}: expected a JSON object (spacy evaluate --output), got {type(data).__name__}"
        )
    match = _TRANSITION_SEED.search(path.stem)
    seed = int(match.group(1)) if match else 0
    p, r, f = (number(path, data, key) for key in ("ents_p", "ents_r", "ents_f"))
    return TransitionScore(path=path, seed=seed, p=p, r=r, f=f)


def load_transformer_dataset(path: Union[str, Path]) -> TransformerResults:
    """Read one dataset folder of the transformer grid.

    path (Union[str, Path]): ``<transformer grid>/<dataset>``.
    RETURNS (TransformerResults): Its cells and transition NER scores (either may be empty).
    """
    path = Path(path)
    transition = [parse_transition(file) for file in sorted(path.glob(TRANSITION_GLOB))]
    return TransformerResults(
        name=path.name, path=path, cells=load_cells(path / CELLS_DIR), transition=transition
    )


def load_transformer_grid(grid_dir: Union[str, Path]) -> List[TransformerResults]:
    """Read the datasets of a transformer grid that have cells, sorted by name.

    A directory that itself holds ``cells/`` is read as a single dataset.

    grid_dir (Union[str, Path]): The transformer grid, e.g. ``metrics/grid-trf``.
    RETURNS (List[TransformerResults]): The datasets with at least one cell.
    RAISES (HybridNerError): If the directory is missing or a file is malformed.
    """
    grid_dir = Path(grid_dir)
    if not grid_dir.is_dir():
        raise HybridNerError(f"{grid_dir}: transformer grid directory not found")
    folders = (
        [grid_dir]
        if (grid_dir / CELLS_DIR).is_dir()
        else sorted(p for p in grid_dir.iterdir() if p.is_dir())
    )
    datasets = [
        load_transformer_dataset(folder) for folder in folders if (folder / CELLS_DIR).is_dir()
    ]
    return [ds for ds in datasets if ds.cells]


def shown_conditions(cells: Sequence[CellResult]) -> List[str]:
    """The full-budget conditions of the transformer cells, in display order."""
    return condition_order(cell.condition for cell in cells if cell.group[1] != "budget")


def cells_at(
    cells: Sequence[CellResult], conditions: Sequence[str], rate: Optional[float]
) -> List[CellResult]:
    """The cells behind ``stat_at`` for these conditions at one omission rate."""
    wanted = set(conditions)
    at = setting_value(rate) if rate is not None else None
    return [
        cell
        for cell in cells
        if cell.condition in wanted
        and (cell.group[1] == "reference" or (cell.group[1] == "rate" and cell.group[2] == at))
    ]


def timing(cells: Sequence[CellResult]) -> Optional[Timing]:
    """Median training time per cell and per step (None without training times)."""
    timed = [cell for cell in cells if cell.train_seconds is not None]
    if not timed:
        return None
    per_step = [cell.train_seconds / cell.steps for cell in timed if cell.steps]  # type: ignore[operator]
    return Timing(
        cells=len(timed),
        steps=tuple(sorted({cell.steps for cell in timed if cell.steps is not None})),
        median_seconds=statistics.median(cell.train_seconds for cell in timed),  # type: ignore[type-var]
        seconds_per_step=statistics.median(per_step) if per_step else None,
    )


def gap(stats: Dict[GroupKey, Stat], rate: Optional[float]) -> Optional[float]:
    """GAP[0] − GAP[1] in mean F1 at an omission rate (None if either is missing)."""
    better, reference = (stat_at(stats, condition, rate) for condition in GAP)
    return better.mean - reference.mean if better is not None and reference is not None else None


def _configs(cells: Sequence[CellResult]) -> Tuple[str, ...]:
    return tuple(sorted({cell.config for cell in cells if cell.config}))


def compare_stacks(
    trf: TransformerResults, cpu_cells: Sequence[CellResult], target_rate: float = FOCUS_RATE
) -> StackComparison:
    """Put the transformer grid of a dataset next to the CPU grid at the
    transformer's omission rate closest to ``target_rate``.

    trf (TransformerResults): The transformer grid's dataset.
    cpu_cells (Sequence[CellResult]): The CPU grid's cells of the same dataset (may be empty).
    target_rate (float): The omission rate wanted.
    RETURNS (StackComparison): Rows, gaps, transition NER scores and timing.
    """
    rate = closest_rate(rates(trf.cells), target_rate)
    f1s, ps, rs, cpu = (
        aggregate(trf.cells),
        aggregate(trf.cells, precision),
        aggregate(trf.cells, recall),
        aggregate(cpu_cells),
    )
    conditions = shown_conditions(trf.cells)
    rows = tuple(
        StackRow(
            c,
            stat_at(f1s, c, rate),
            stat_at(ps, c, rate),
            stat_at(rs, c, rate),
            stat_at(cpu, c, rate),
        )
        for c in conditions
    )
    # Conditions trained at other rates only have nothing to show here.
    rows = tuple(row for row in rows if row.f1 is not None)
    shown = [row.condition for row in rows]
    transition = trf.transition
    trf_cells, cpu_shown = cells_at(trf.cells, shown, rate), cells_at(cpu_cells, shown, rate)
    return StackComparison(
        dataset=trf.name,
        path=trf.path,
        rate=rate,
        rows=rows,
        gap=gap(f1s, rate),
        cpu_gap=gap(cpu, rate),
        transition_f1=Stat.of([t.f for t in transition]) if transition else None,
        transition_p=Stat.of([t.p for t in transition]) if transition else None,
        transition_r=Stat.of([t.r for t in transition]) if transition else None,
        transition_files=tuple(t.path.name for t in transition),
        timing=timing(trf_cells),
        cpu_timing=timing(cpu_shown),
        configs=_configs(trf_cells),
        cpu_configs=_configs(cpu_shown),
    )


def stack_table(comparison: StackComparison) -> str:
    """Per condition: transformer F1, the CPU grid's F1 at the same rate, and
    the transformer's P and R, each ``mean ± sd (n)``."""
    rows = [
        [
            condition_name(row.condition),
            format_stat(row.f1),
            format_stat(row.cpu_f1),
            format_stat(row.p),
            format_stat(row.r),
        ]
        for row in comparison.rows
    ]
    header = ["Condition", "Transformer F1", "CPU F1", "Transformer P", "Transformer R"]
    return md.table(rows, header, ["l", "r", "r", "r", "r"])


def _signed(value: Optional[float]) -> str:
    return f"{value:+.3f}" if value is not None else DASH


def gap_line(comparison: StackComparison) -> str:
    """The gap GAP[0] − GAP[1] in mean F1 on each stack (plain text)."""
    where = f" at {format_rate(comparison.rate)} omissions" if comparison.rate is not None else ""
    return (
        f"Gap {GAP[0]} − {GAP[1]}{where} (mean F1): "
        f"CPU: {_signed(comparison.cpu_gap)}, transformer: {_signed(comparison.gap)}."
    )


def transition_line(comparison: StackComparison) -> Optional[str]:
    """spaCy's transition NER on the clean data next to the soft NER's
    ``human-clean`` F1 (plain text); None without a transition score."""
    if comparison.transition_f1 is None:
        return None
    p, r = comparison.transition_p, comparison.transition_r
    pr = (
        f"; transition NER P {p.mean:.3f}, R {r.mean:.3f}"
        if p is not None and r is not None
        else ""
    )
    return (
        "spaCy transition NER, same transformer stack, clean: F1 "
        f"{format_stat(comparison.transition_f1)} "
        f"vs soft NER {format_stat(comparison.soft_clean)} ({UPPER_BOUND}{pr})."
    )


def _steps(steps: Sequence[int]) -> str:
    if not steps:
        return "steps not recorded"
    return f"{steps[0]} steps" if len(steps) == 1 else f"{steps[0]}–{steps[-1]} steps"


def _timing(item: Optional[Timing]) -> str:
    if item is None:
        return "no training times"
    per_step = f", {item.seconds_per_step:.3g} s/step" if item.seconds_per_step is not None else ""
    cells = f"{item.cells} cell{'s' if item.cells != 1 else ''}"
    return f"{_steps(item.steps)}, median {item.median_seconds:.1f} s{per_step} ({cells})"


def timing_line(comparison: StackComparison) -> str:
    """Steps, median training seconds per cell and seconds per step of the
    cells in the table, on each stack (plain text)."""
    return (
        f"Training per cell: transformer {_timing(comparison.timing)}; "
        f"CPU {_timing(comparison.cpu_timing)}."
    )


TRANSFORMER_TITLE = "Transformer pipeline"


def _code_list(items: Sequence[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def transformer_section(
    comparison: StackComparison, level: int = 3, title: str = TRANSFORMER_TITLE
) -> str:
    """The transformer grid of one dataset next to the CPU grid: F1 per
    condition on both stacks, the gap of the recommended hybrid over the
    human baseline on each, spaCy's transition NER on the clean data and the
    training time per cell.

    comparison (StackComparison): See ``transformer.compare_stacks``.
    level (int): The heading level.
    title (str): The heading.
    RETURNS (str): Markdown.
    """
    md = MarkdownRenderer(no_emoji=True)
    md.add(md.title(level, title))
    configs = f" ({_code_list(comparison.configs)})" if comparison.configs else ""
    cpu_configs = f" ({_code_list(comparison.cpu_configs)})" if comparison.cpu_configs else ""
    md.add(
        f"The grid's conditions trained on the transformer stack{configs} from "
        f"`{comparison.path}`{at_rate(comparison.rate)}, "
        f"next to the CPU grid{cpu_configs} at the same rate. F1, P and R on the test set, mean ± "
        "sd over seeds "
        "(number of seeds); — = no cell."
    )
    md.add(stack_table(comparison))
    lines = [gap_line(comparison)]
    transition = transition_line(comparison)
    lines.append(
        transition
        if transition is not None
        else f"No spaCy transition NER score (`{comparison.dataset}/{TRANSITION_GLOB}`, written "
        "by `spacy evaluate --output`)."
    )
    lines.append(timing_line(comparison))
    md.add(md.list(lines))
    return md.text
