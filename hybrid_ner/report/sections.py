"""The sections of a dataset's report that stand apart: the run, missing
cells, unknown conditions, calibration and the transformer pipeline."""

from typing import Dict, List, Optional, Sequence

from wasabi import MarkdownRenderer

from ..experiment.conditions import CALIBRATED_CONDITIONS
from .annotator_tables import (
    annotator_name,
    calibration_lines,
    calibration_table,
    omission_table,
)
from .calibration import calibration_cell, omission_estimates
from .coverage import incomplete_groups, unknown_conditions
from .format import format_rate
from .results import BEFORE_CALIBRATION, DatasetResults
from .stack_tables import gap_line, stack_table, timing_line, transition_line
from .transformer import TRANSITION_GLOB, StackComparison


def run_lines(md: MarkdownRenderer, run: Dict) -> None:
    facts = []
    if isinstance(run.get("wall_seconds"), (int, float)):
        seconds = run["wall_seconds"]
        facts.append(f"wall time {seconds / 3600:.2f} h ({seconds:.0f} s)")
    for key in ("machine", "started", "finished"):
        if run.get(key):
            facts.append(f"{key} {run[key]}")
    if facts:
        md.add("Run: " + "; ".join(facts) + ".")
    commands = [str(c) for c in run.get("commands") or []]
    if commands:
        md.add(md.code_block("\n".join(commands), "bash"))


def at_rate(rate: Optional[float]) -> str:
    return (
        f" at {format_rate(rate)} omissions"
        if rate is not None
        else " (no omission rates in the grid yet)"
    )


def missing_lines(ds: DatasetResults) -> List[str]:
    incomplete, absent, max_n = incomplete_groups(ds.cells)
    lines = []
    for item in incomplete:
        where = ""
        if item.value is not None:
            where = (
                f" at {format_rate(item.value)} omissions"
                if item.kind == "rate"
                else f" at budget {format_rate(item.value)}"
            )
        seeds = ", ".join(map(str, item.missing_seeds))
        line = f"`{item.condition}`{where}: {item.n} of {max_n} seeds"
        lines.append(line + (f" (missing seeds: {seeds})" if seeds else ""))
    if absent:
        lines.append("No cells at all for: " + ", ".join(f"`{c}`" for c in absent))
    return lines


def unknown_line(ds: DatasetResults) -> Optional[str]:
    unknown = unknown_conditions(ds.cells)
    if not unknown:
        return None
    listed = ", ".join(f"`{c}` ({n} cell{'s' if n != 1 else ''})" for c, n in unknown.items())
    return (
        "Conditions not in the current grid (cells of an older grid run), shown after the "
        f"others: {listed}."
    )


#: The annotators of the calibration section: key in the cells, heading.
CALIBRATED_ANNOTATORS = {"llm": "LLM", "simulated": "Simulated annotator"}


def calibration_section(md: MarkdownRenderer, ds: DatasetResults, target_rate: float) -> None:
    md.add(md.title(3, "Calibration"))
    cells = ds.cells
    conditions = ", ".join(f"`{c}`" for c in CALIBRATED_CONDITIONS)
    md.add(
        f"The calibrated conditions ({conditions}) measure their annotator on a calibration "
        "sample with "
        "clean gold (the dev set) and mix labels by the per-token evidence. Per label: precision "
        "and recall of "
        "the proposals on that sample; LR proposed: how much likelier the annotator proposes the "
        "label on a "
        "true token of that label than on an outside token; LR silence: how much likelier silence "
        "is on a "
        f"true entity token than on an outside one (1: silence says nothing). Shown for seed 0 at "
        f"{format_rate(target_rate)} omissions where that cell exists, else for another "
        "calibrated cell."
    )
    annotators = (ds.annotators or {}).get("annotators") or {}
    found = False
    for key, heading in CALIBRATED_ANNOTATORS.items():
        cell = calibration_cell(cells, key, target_rate)
        if cell is None:
            continue
        found = True
        info = annotators.get(key)
        name = (
            f": {annotator_name(key, info)}" if isinstance(info, dict) and info.get("name") else ""
        )
        md.add(md.title(4, f"{heading}{name}"))
        for line in calibration_lines(cell):
            md.add(line)
        md.add(calibration_table(cell.calibration or {}))
    if not found:
        md.add("No cell carries a calibration record.")
    estimates = omission_estimates(cells)
    if estimates:
        md.add(md.title(4, "Estimated omission rate"))
        md.add(
            "The human omission rate each calibrated setting estimated (mean ± sd over seeds (n)) "
            "next to the "
            "rate the grid simulated."
        )
        md.add(omission_table(estimates))
    old = sorted(c.name for c in cells if c.condition.endswith(BEFORE_CALIBRATION))
    if old:
        md.add(
            f"{len(old)} cell(s) of calibrated conditions have no calibration record, e.g. "
            f"`{old[0]}`: an older "
            "grid wrote them when those conditions trained another method, so they are shown "
            "apart, as "
            f"`<condition>{BEFORE_CALIBRATION}`."
        )


TRANSFORMER_TITLE = "Transformer pipeline"


def code_list(items: Sequence[str]) -> str:
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
    configs = f" ({code_list(comparison.configs)})" if comparison.configs else ""
    cpu_configs = f" ({code_list(comparison.cpu_configs)})" if comparison.cpu_configs else ""
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
