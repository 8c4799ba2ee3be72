"""Write the report: read the grid, draw the figures and sample pages, write the markdown."""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import spacy

from ..corpus import read_docbin
from ..experiment.conditions import FOCUS_RATE
from ..experiment.run import SAMPLES_FILE
from ..progress import Progress
from .document import FIGURES, SAMPLES, report_markdown
from .plots import plot_budget, plot_f1_vs_omission, plot_per_label
from .results import budget_rows, closest_rate, load_grid, settings
from .samples import render_samples


@dataclass
class ReportFiles:
    """What ``write_report`` wrote."""

    report: Path
    figures: List[Path] = field(default_factory=list)
    samples: List[Path] = field(default_factory=list)
    datasets: List[str] = field(default_factory=list)
    #: The datasets of the second grid with cells.
    second: List[str] = field(default_factory=list)


def write_report(
    grid_dir: Union[str, Path],
    output: Union[str, Path],
    figures_dir: Union[str, Path],
    samples: Optional[Sequence[Path]] = None,
    max_samples: int = 10,
    target_rate: float = FOCUS_RATE,
    second_dir: Optional[Union[str, Path]] = None,
) -> ReportFiles:
    """Read a grid directory and write the markdown report, its PNG figures and the pages
    ``samples_<dataset>.html`` beside it; ``second_dir``: a grid shown beside the first."""
    output, figures_dir = Path(output), Path(figures_dir)
    datasets = load_grid(grid_dir)
    second = [ds for ds in load_grid(second_dir) if ds.cells] if second_dir is not None else []
    files = ReportFiles(output, datasets=[ds.name for ds in datasets])
    files.second = [ds.name for ds in second]
    links: Dict[str, Dict[str, str]] = {}
    other: Dict[str, str] = {}
    found = {ds.name: ds.path / SAMPLES_FILE for ds in datasets}
    pages = {name: path for name, path in found.items() if path.is_file() and not samples}
    for path in map(Path, samples or []):  # named by its dataset's folder, else by its stem
        by_folder = path.parent.name in found or (path.stem == "samples" and "samples" not in found)
        pages[path.parent.name if by_folder else path.stem] = path

    def relative(path: Path) -> str:
        return Path(os.path.relpath(path, output.parent)).as_posix()

    # One step per dataset's figures and per samples page: a bar on a terminal, lines in a log.
    with Progress(len(datasets) + len(pages), "report", "step") as progress:
        for ds in datasets:
            name, cells, budget = ds.name, ds.cells, budget_rows(ds.cells + ds.other_selections)
            rate = closest_rate(settings(cells, "rate"), target_rate)
            png = {kind: figures_dir / f"{kind}_{name}.png" for kind in FIGURES}
            drawn = {
                "f1_vs_omission": plot_f1_vs_omission(cells, name, png["f1_vs_omission"]),
                "per_label": plot_per_label(cells, name, rate, png["per_label"]),
                "budget": plot_budget(budget, name, png["budget"]),
            }
            links[name] = {kind: relative(path) for kind, path in drawn.items() if path}
            files.figures.extend(path for path in drawn.values() if path)
            progress.update(1)
        vocab = spacy.blank("en").vocab
        for name, source in pages.items():
            page = output.parent / f"samples_{name}.html"
            html = render_samples(read_docbin(source, vocab), name, max_samples)
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(html, encoding="utf-8")
            files.samples.append(page)
            if name in links:
                links[name][SAMPLES] = relative(page)
            else:
                other[name] = relative(page)
            progress.update(1)
    output.parent.mkdir(parents=True, exist_ok=True)
    second_name = str(second_dir) if second_dir is not None else None
    markdown = report_markdown(
        datasets, links, str(grid_dir), other, target_rate, second, second_name
    )
    output.write_text(markdown, encoding="utf-8")
    return files
