"""The "Transformer pipeline" section: the transformer grid next to the CPU grid.

The CPU grid is grid_fixtures' (at 40%: human-clean 0.820 ± 0.020 (3),
human-omit 0.620 ± 0.020 (3), hybrid-label-mixing 0.680 ± 0.028 (2), so a
gap of +0.060; 50 steps and 3.0 s per cell). The transformer grid below has
two seeds at 40% (sim-hybrid-label-mixing one): human-clean 0.870 ± 0.014,
human-omit 0.710 ± 0.014, hybrid-label-mixing 0.760 ± 0.014 (gap +0.050),
P = F1 + 0.02, R = F1 − 0.02; 2000 steps, 800 s for seed 0 and 820 s for
seed 1 (median 800 s of 9 cells, 0.4 s/step). The transition NER scored
P 0.72, R 0.70, F1 0.71 on the clean data.
"""

from pathlib import Path
from typing import Dict, List, Optional

import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.errors import HybridNerError
from hybrid_ner.report import write_report
from hybrid_ner.report.document import report_markdown
from hybrid_ner.report.results import Stat, load_grid
from hybrid_ner.report.transformer import (
    compare_stacks,
    default_transformer_dir,
    load_transformer_grid,
    parse_transition,
    resolve_transformer_dir,
)

from .grid_fixtures import cell, cell_id, write_grid

TRF_CONFIG = "configs/ner_soft.cfg"
# condition -> {omit_rate -> F1 per seed}, the conditions the transformer grid runs.
TRF_F1: Dict[str, Dict[float, List[float]]] = {
    "human-clean": {0.0: [0.86, 0.88]},
    "human-omit": {0.4: [0.70, 0.72]},
    "hybrid-random": {0.4: [0.72, 0.74]},
    "hybrid-label-mixing": {0.4: [0.75, 0.77]},
    "sim-hybrid-label-mixing": {0.4: [0.80]},
}
TRF_SECONDS = (800.0, 820.0)  # per seed
# What `spacy evaluate --output` writes (spaCy 3.x): flat scores, per-type P/R/F.
TRANSITION = {
    "token_acc": 1.0,
    "token_p": 1.0,
    "token_r": 1.0,
    "token_f": 1.0,
    "ents_p": 0.72,
    "ents_r": 0.70,
    "ents_f": 0.71,
    "ents_per_type": {
        "LOC": {"p": 0.8, "r": 0.75, "f": 0.7742},
        "PER": {"p": 0.64, "r": 0.65, "f": 0.6450},
    },
    "speed": 5321.4,
}
CLEAN = "human, clean (upper bound) — `human-clean`"
OMIT = "human with omissions (baseline) — `human-omit`"
MIXING = "hybrid, calibrated label mixing (recommended) — `hybrid-label-mixing`"
SIM_MIXING = "simulated hybrid, calibrated label mixing — `sim-hybrid-label-mixing`"


def write_trf_grid(
    trf_dir: Path, dataset: str = "wikigold", transition: Optional[Dict] = TRANSITION
) -> Path:
    """A transformer grid folder as the grid writes it with configs/ner_soft.cfg."""
    cells = trf_dir / dataset / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    for condition, by_rate in TRF_F1.items():
        for rate, values in by_rate.items():
            for seed, f in enumerate(values):
                data = cell(dataset, condition, rate, seed, f)
                name = cell_id(condition, rate, 1.0, seed)
                data.update(
                    cell_id=name, config=TRF_CONFIG, steps=2000, train_seconds=TRF_SECONDS[seed]
                )
                srsly.write_json(cells / f"{name}.json", data)
    if transition is not None:
        srsly.write_json(trf_dir / dataset / "transition-clean_r0_s0.json", transition)
    return trf_dir


@pytest.fixture
def grids(tmp_path):
    """A CPU grid (wikigold, conll2003) and the transformer grid next to it (wikigold)."""
    grid = write_grid(tmp_path / "grid", samples=0)
    write_grid(grid, "conll2003", annotators=False, run=False, samples=0)
    return grid, write_trf_grid(tmp_path / "grid-trf")


def markdown(grid: Path, trf_dir: Optional[Path]) -> str:
    transformer = load_transformer_grid(trf_dir) if trf_dir is not None else []
    return report_markdown(
        load_grid(grid), {}, str(grid), None, 0.4, transformer, str(trf_dir) if trf_dir else None
    )


def part(text: str, heading: str) -> str:
    return text.split(f"{heading}\n")[1].split("\n### ")[0].split("\n## ")[0]


def dataset(text: str, name: str) -> str:
    return text.split(f"\n## {name}\n")[1].split("\n## ")[0]


def test_compare_stacks_means_gaps_and_timing(grids):
    grid, trf_dir = grids
    (trf,) = load_transformer_grid(trf_dir)
    cpu = next(ds for ds in load_grid(grid) if ds.name == "wikigold")
    comparison = compare_stacks(trf, cpu.cells, 0.4)
    assert comparison.rate == 0.4
    assert [row.condition for row in comparison.rows] == list(TRF_F1)
    rows = {row.condition: row for row in comparison.rows}
    mixing = rows["hybrid-label-mixing"]
    assert (mixing.f1.mean, mixing.f1.n, mixing.p.mean, mixing.r.mean) == pytest.approx(
        (0.76, 2, 0.78, 0.74)
    )
    assert (mixing.cpu_f1.mean, mixing.cpu_f1.n) == pytest.approx((0.68, 2))
    assert rows["sim-hybrid-label-mixing"].f1 == Stat(0.8, None, 1)
    assert comparison.soft_clean.mean == pytest.approx(0.87)
    assert (comparison.gap, comparison.cpu_gap) == pytest.approx((0.05, 0.06))
    assert (
        comparison.transition_f1.mean,
        comparison.transition_p.mean,
        comparison.transition_r.mean,
    ) == pytest.approx((0.71, 0.72, 0.70))
    assert comparison.transition_files == ("transition-clean_r0_s0.json",)
    assert comparison.timing.cells == 9 and comparison.timing.steps == (2000,)
    assert (comparison.timing.median_seconds, comparison.timing.seconds_per_step) == pytest.approx(
        (800.0, 0.4)
    )
    # CPU cells of the same conditions at 40% and human-clean: 3 + 3 + 3 + 2 + 3.
    assert (
        comparison.cpu_timing.cells == 14
        and comparison.cpu_timing.seconds_per_step == pytest.approx(0.06)
    )
    assert (comparison.configs, comparison.cpu_configs) == (
        (TRF_CONFIG,),
        ("configs/ner_soft_cpu.cfg",),
    )


def test_section_shows_both_stacks_in_the_dataset_section(grids):
    grid, trf_dir = grids
    text = markdown(grid, trf_dir)
    assert f"from `{grid}` and the transformer grid `{trf_dir}`." in text
    wikigold = dataset(text, "wikigold")
    # Right after the CPU scores at the same rate, before the annotators.
    assert (
        wikigold.index("### Scores at 40% omissions")
        < wikigold.index("### Transformer pipeline")
        < wikigold.index("### Annotator quality")
    )
    section = part(wikigold, "### Transformer pipeline")
    assert (
        f"transformer stack (`{TRF_CONFIG}`) from `{trf_dir / 'wikigold'}` at 40% omissions"
        in section
    )
    assert "| Condition | Transformer F1 | CPU F1 | Transformer P | Transformer R |" in section
    assert (
        f"| {CLEAN} | 0.870 ± 0.014 (2) | 0.820 ± 0.020 (3) | 0.890 ± 0.014 (2) | 0.850 ± 0.014 "
        "(2) |" in section
    )
    assert (
        f"| {OMIT} | 0.710 ± 0.014 (2) | 0.620 ± 0.020 (3) | 0.730 ± 0.014 (2) | 0.690 ± 0.014 "
        "(2) |" in section
    )
    assert (
        f"| {MIXING} | 0.760 ± 0.014 (2) | 0.680 ± 0.028 (2) | 0.780 ± 0.014 (2) | 0.740 ± 0.014 "
        "(2) |" in section
    )
    assert f"| {SIM_MIXING} | 0.800 (1) | 0.750 ± 0.020 (3) | 0.820 (1) | 0.780 (1) |" in section
    assert (
        "hybrid-lambda-mixing" not in section and "llm-only" not in section
    )  # not in the transformer grid
    assert (
        "- Gap hybrid-label-mixing − human-omit at 40% omissions (mean F1): CPU: +0.060, "
        "transformer: +0.050." in section
    )
    assert (
        "- spaCy transition NER, same transformer stack, clean: F1 0.710 (1) vs soft NER 0.870 ± "
        "0.014 (2) "
        "(human-clean; transition NER P 0.720, R 0.700)."
    ) in section
    assert (
        "- Training per cell: transformer 2000 steps, median 800.0 s, 0.4 s/step (9 cells); "
        "CPU 50 steps, median 3.0 s, 0.06 s/step (14 cells)."
    ) in section
    # A dataset without transformer cells keeps its section as it was.
    assert "Transformer pipeline" not in dataset(text, "conll2003")


def test_without_transition_file_the_section_says_so(tmp_path):
    grid = write_grid(tmp_path / "grid", samples=0)
    trf_dir = write_trf_grid(tmp_path / "grid-trf", transition=None)
    section = part(markdown(grid, trf_dir), "### Transformer pipeline")
    assert "spaCy transition NER, same" not in section
    assert (
        "- No spaCy transition NER score (`wikigold/transition-clean_*.json`, written by `spacy "
        "evaluate --output`)." in section
    )
    assert "CPU: +0.060, transformer: +0.050." in section


def test_several_transition_seeds_are_averaged(tmp_path):
    trf_dir = write_trf_grid(tmp_path / "grid-trf")
    srsly.write_json(
        trf_dir / "wikigold" / "transition-clean_r0_s1.json", {**TRANSITION, "ents_f": 0.73}
    )
    (trf,) = load_transformer_grid(trf_dir)
    assert [t.seed for t in trf.transition] == [0, 1]
    comparison = compare_stacks(trf, [], 0.4)
    assert (comparison.transition_f1.mean, comparison.transition_f1.n) == pytest.approx((0.72, 2))


def test_no_transformer_grid_no_section(grids, tmp_path):
    grid, _ = grids
    assert "Transformer pipeline" not in markdown(grid, None)
    assert markdown(grid, None) == report_markdown(load_grid(grid), {}, str(grid), None, 0.4)
    # An explicit transformer grid must exist; an empty one adds nothing.
    with pytest.raises(HybridNerError, match="transformer grid directory not found"):
        load_transformer_grid(tmp_path / "nowhere")
    (tmp_path / "empty" / "wikigold").mkdir(parents=True)
    assert load_transformer_grid(tmp_path / "empty") == []


def test_default_transformer_dir_is_next_to_the_grid(tmp_path):
    grid = tmp_path / "metrics" / "grid"
    grid.mkdir(parents=True)
    assert default_transformer_dir(grid) == tmp_path / "metrics" / "grid-trf"
    assert resolve_transformer_dir(grid) is None  # absent: skipped
    (tmp_path / "metrics" / "grid-trf").mkdir()
    assert resolve_transformer_dir(grid) == tmp_path / "metrics" / "grid-trf"
    assert resolve_transformer_dir(grid, tmp_path / "other") == tmp_path / "other"


def test_transformer_dataset_without_cpu_results_gets_its_own_section(tmp_path):
    grid = write_grid(tmp_path / "grid", samples=0)
    trf_dir = write_trf_grid(tmp_path / "grid-trf", dataset="conll2003")
    text = markdown(grid, trf_dir)
    assert "### Transformer pipeline" not in dataset(text, "wikigold")
    section = text.split("## Transformer pipeline: conll2003 (no CPU grid results)\n")[1]
    assert f"| {OMIT} | 0.710 ± 0.014 (2) | — | 0.730 ± 0.014 (2) | 0.690 ± 0.014 (2) |" in section
    assert "CPU: —, transformer: +0.050." in section and "CPU no training times." in section


def test_malformed_transition_file_is_named(tmp_path):
    path = tmp_path / "transition-clean_r0_s3.json"
    srsly.write_json(path, {"ents_p": 0.5, "ents_r": 0.5})
    with pytest.raises(HybridNerError, match=r'transition-clean_r0_s3.json: missing key "ents_f"'):
        parse_transition(path)
    srsly.write_json(path, {**TRANSITION})
    assert parse_transition(path).seed == 3


def test_write_report_and_cli_pick_up_the_transformer_grid(grids, capsys):
    grid, trf_dir = grids
    root = grid.parent
    files = write_report(
        grid,
        root / "a" / "report.md",
        root / "a" / "figures",
        target_rate=0.4,
        transformer_dir=trf_dir,
    )
    assert files.transformer == ["wikigold"]
    assert "### Transformer pipeline" in files.report.read_text(encoding="utf-8")
    # The CLI finds <grid>-trf next to the grid without the option.
    main(
        [
            "report",
            str(grid),
            "--output",
            str(root / "b" / "report.md"),
            "--figures",
            str(root / "b" / "figures"),
        ]
    )
    out = capsys.readouterr().out
    assert (root / "b" / "report.md").read_text(encoding="utf-8") == files.report.read_text(
        encoding="utf-8"
    )
    assert "wikigold transformer, 0.4 omissions" in out
    row = next(
        line
        for line in out.splitlines()
        if line.startswith("hybrid-label-mixing") and "0.760" in line
    )
    assert row.split()[1:] == [
        "0.760",
        "±",
        "0.014",
        "(2)",
        "0.780",
        "±",
        "0.014",
        "(2)",
        "0.740",
        "±",
        "0.014",
        "(2)",
        "0.680",
        "±",
        "0.028",
        "(2)",
    ]
    words = " ".join(out.split())  # the lines under the table may wrap
    assert (
        "CPU: +0.060, transformer: +0.050." in words
        and "F1 0.710 (1) vs soft NER 0.870 ± 0.014 (2)" in words
    )


def test_cli_report_without_transformer_grid_prints_no_transformer_rows(tmp_path, capsys):
    grid = write_grid(tmp_path / "grid", samples=0)
    main(
        [
            "report",
            str(grid),
            "--output",
            str(tmp_path / "report.md"),
            "--figures",
            str(tmp_path / "figures"),
        ]
    )
    assert "transformer" not in capsys.readouterr().out
    assert "Transformer pipeline" not in (tmp_path / "report.md").read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "report",
                str(grid),
                "--output",
                str(tmp_path / "report.md"),
                "--transformer",
                str(tmp_path / "nowhere"),
            ]
        )
    assert exit_.value.code == 1
