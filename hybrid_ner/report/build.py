"""Write the report: read the grid, draw the figures and sample pages, and
put the markdown together. The IO edge of the report package."""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import spacy

from ..corpus import read_docbin
from ..experiment.conditions import FOCUS_RATE
from ..progress import Progress
from .budget import budget_rows
from .document import SAMPLES, report_markdown
from .plots import plot_annotator_quality, plot_budget, plot_f1_vs_omission, plot_per_label
from .results import DatasetResults, closest_rate, load_grid, rates
from .samples import write_samples_page
from .transformer import load_transformer_grid


@dataclass
class ReportFiles:
    """What ``write_report`` wrote."""

    report: Path
    figures: List[Path] = field(default_factory=list)
    samples: List[Path] = field(default_factory=list)
    datasets: List[str] = field(default_factory=list)
    #: Datasets with a "Transformer pipeline" section.
    transformer: List[str] = field(default_factory=list)


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def draw_figures(
    ds: DatasetResults, figures_dir: Path, target_rate: float = FOCUS_RATE
) -> Dict[str, Path]:
    """Draw the dataset's figures that have data.

    RETURNS (Dict[str, Path]): The PNGs written, by kind (see ``FIGURES``).
    """
    name = ds.name
    rate = closest_rate(rates(ds.cells), target_rate)
    drawn = {
        "f1_vs_omission": plot_f1_vs_omission(
            ds.cells, name, figures_dir / f"f1_vs_omission_{name}.png"
        ),
        "per_label": plot_per_label(ds.cells, name, rate, figures_dir / f"per_label_{name}.png"),
        "annotator_quality": plot_annotator_quality(
            ds.annotators, name, figures_dir / f"annotator_quality_{name}.png"
        )
        if ds.annotators
        else None,
        "budget": plot_budget(budget_rows(ds.cells), name, figures_dir / f"budget_{name}.png"),
    }
    return {kind: path for kind, path in drawn.items() if path is not None}


def sample_sources(
    datasets: Sequence[DatasetResults], samples: Optional[Sequence[Path]]
) -> Dict[str, Path]:
    """The samples DocBin of each page to write, by page name.

    Without explicit paths, each dataset's ``samples.spacy`` is used. An
    explicit path belongs to the dataset whose directory holds it (or whose
    name is its stem); otherwise its stem (or its folder, for ``samples.spacy``)
    names the page.
    """
    names = {ds.name for ds in datasets}
    if not samples:
        return {ds.name: ds.samples_path for ds in datasets if ds.samples_path is not None}
    sources = {}
    for path in samples:
        path = Path(path)
        if path.parent.name in names or path.stem in names:
            name = path.parent.name if path.parent.name in names else path.stem
        else:  # e.g. elsewhere/<name>/samples.spacy or elsewhere/<name>.spacy
            name = path.parent.name if path.stem == "samples" else path.stem
        sources[name] = path
    return sources


def write_report(
    grid_dir: Union[str, Path],
    output: Union[str, Path],
    figures_dir: Union[str, Path],
    samples: Optional[Sequence[Path]] = None,
    max_samples: int = 10,
    target_rate: float = FOCUS_RATE,
    transformer_dir: Optional[Union[str, Path]] = None,
) -> ReportFiles:
    """Read a grid directory and write the markdown report, its figures and
    the sample pages (``samples_<dataset>.html`` next to the report).

    grid_dir (Union[str, Path]): ``metrics/grid``, one folder per dataset.
    output (Union[str, Path]): The markdown file.
    figures_dir (Union[str, Path]): Folder of the PNG figures.
    samples (Optional[Sequence[Path]]): Samples DocBins; None = auto-detect
        ``<grid>/<dataset>/samples.spacy``.
    max_samples (int): Sentences shown per samples page.
    target_rate (float): Omission rate of the detail tables, the per-label
        figure and the calibration section.
    transformer_dir (Optional[Union[str, Path]]): The transformer grid (same
        layout, see ``transformer``): a "Transformer pipeline" section per
        dataset with transformer cells; None = none.
    RETURNS (ReportFiles): The files written.
    RAISES (HybridNerError): If a grid is missing or a file is malformed.
    """
    output, figures_dir = Path(output), Path(figures_dir)
    datasets = load_grid(grid_dir)
    transformer = load_transformer_grid(transformer_dir) if transformer_dir is not None else []
    files = ReportFiles(
        report=output,
        datasets=[ds.name for ds in datasets],
        transformer=[trf.name for trf in transformer],
    )
    links: Dict[str, Dict[str, str]] = {}
    pages = sample_sources(datasets, samples)
    # One step per dataset's figures and per samples page: a bar on a terminal, lines in a log.
    with Progress(len(datasets) + len(pages), "report", "step") as progress:
        for ds in datasets:
            drawn = draw_figures(ds, figures_dir, target_rate)
            files.figures.extend(drawn.values())
            links[ds.name] = {kind: _relative(path, output.parent) for kind, path in drawn.items()}
            progress.update(1)
        other: Dict[str, str] = {}
        vocab = spacy.blank("en").vocab
        for name, source in pages.items():
            page = write_samples_page(
                output.parent / f"samples_{name}.html",
                read_docbin(source, vocab),
                name,
                max_samples,
            )
            files.samples.append(page)
            if name in links:
                links[name][SAMPLES] = _relative(page, output.parent)
            else:
                other[name] = _relative(page, output.parent)
            progress.update(1)
    output.parent.mkdir(parents=True, exist_ok=True)
    markdown = report_markdown(
        datasets,
        links,
        str(grid_dir),
        other,
        target_rate,
        transformer,
        str(transformer_dir) if transformer_dir is not None else None,
    )
    output.write_text(markdown, encoding="utf-8")
    return files
