"""A second grid beside the first (``--transformer``), with the ``spacy evaluate`` scores
found next to its cells.

The first grid is grid_fixtures' (at 40%: human-clean 0.820 ± 0.020 (3),
human-omit 0.620 ± 0.020 (3)). The second has two seeds at 40%:
human-clean 0.870 ± 0.014, human-omit 0.710 ± 0.014, P = F1 + 0.02,
R = F1 − 0.02; its transition NER scored F1 0.71 and 0.73 over two seeds.
"""

from pathlib import Path

import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.report.document import report_markdown
from hybrid_ner.report.results import load_grid

from .grid_fixtures import cell, cell_id, write_grid

TRF_F1 = {"human-clean": {0.0: [0.86, 0.88]}, "human-omit": {0.4: [0.70, 0.72]}}
# What `spacy evaluate --output` writes (spaCy 3.x): flat scores.
TRANSITION = {"token_acc": 1.0, "ents_p": 0.72, "ents_r": 0.70, "ents_f": 0.71, "speed": 5321.4}
CLEAN = "human, clean (upper bound) — `human-clean`"
OMIT = "human with omissions (baseline) — `human-omit`"


def write_trf_grid(trf_dir: Path, dataset: str = "wikigold") -> Path:
    cells = trf_dir / dataset / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    for condition, by_rate in TRF_F1.items():
        for rate, values in by_rate.items():
            for seed, f in enumerate(values):
                data = cell(dataset, condition, rate, seed, f)
                data["config"] = "configs/ner_soft.cfg"
                srsly.write_json(cells / f"{cell_id(condition, rate, 1.0, seed)}.json", data)
    srsly.write_json(trf_dir / dataset / "transition-clean_r0_s0.json", TRANSITION)
    srsly.write_json(
        trf_dir / dataset / "transition-clean_r0_s1.json", {**TRANSITION, "ents_f": 0.73}
    )
    return trf_dir


@pytest.fixture
def grids(tmp_path):
    return write_grid(tmp_path / "grid", samples=0), write_trf_grid(tmp_path / "grid-trf")


def markdown(grid: Path, trf_dir: Path) -> str:
    second = load_grid(trf_dir)
    return report_markdown(load_grid(grid), {}, str(grid), {}, 0.4, second, str(trf_dir))


def test_second_grid_beside_the_first_with_spacy_evaluate_scores(grids):
    grid, trf_dir = grids
    text = markdown(grid, trf_dir)
    assert f"from `{grid}` and the second grid `{trf_dir}`." in text
    section = text.split("### Transformer pipeline\n")[1].split("\n### ")[0]
    assert "(`configs/ner_soft.cfg`) at 40% omissions" in section
    assert "| Condition | F1 | P | R | F1 of this grid |\n| --- | ---: |" in section
    assert (
        f"| {CLEAN} | 0.870 ± 0.014 (2) | 0.890 ± 0.014 (2) | 0.850 ± 0.014 (2) | "
        "0.820 ± 0.020 (3) |" in section
    )
    assert f"| {OMIT} | 0.710 ± 0.014 (2) | 0.730 ± 0.014 (2) | 0.690 ± 0.014 (2) | " in section
    # The two seeds of the transition NER are one row; the other JSON files are not scores.
    assert (
        "| `transition-clean_r0` (`spacy evaluate`) | 0.720 ± 0.014 (2) | 0.720 ± 0.000 (2) | "
        "0.700 ± 0.000 (2) | — |" in section
    )
    # The section sits in the dataset of the same name, after its scores.
    wikigold = text.split("## wikigold\n")[1]
    assert wikigold.index("### Scores at") < wikigold.index("### Transformer pipeline")


def test_a_dataset_only_in_the_second_grid_gets_its_own_section(tmp_path):
    grid = write_grid(tmp_path / "grid", samples=0)
    trf_dir = write_trf_grid(tmp_path / "grid-trf", dataset="conll2003")
    text = markdown(grid, trf_dir)
    own = text.split(f"## Transformer pipeline: conll2003 (not in `{grid}`)\n")[1]
    assert f"| {OMIT} | 0.710 ± 0.014 (2) | 0.730 ± 0.014 (2) | 0.690 ± 0.014 (2) | — |" in own
    assert "### Transformer pipeline" not in text


def test_cli_finds_the_second_grid_next_to_the_first(grids, capsys):
    grid, trf_dir = grids
    out = grid.parent / "out"
    main(["report", str(grid), "-o", str(out / "r.md"), "--figures", str(out / "f")])
    assert "### Transformer pipeline" in (out / "r.md").read_text(encoding="utf-8")
    assert f"Second grid {trf_dir}: wikigold" in " ".join(capsys.readouterr().out.split())
    # Given explicitly (any folder); without one and no <grid>-trf: no section.
    other = trf_dir.rename(grid.parent / "elsewhere")
    main(["report", str(grid), "-o", str(out / "r.md"), "--figures", str(out / "f")])
    assert "Transformer pipeline" not in (out / "r.md").read_text(encoding="utf-8")
    main(
        ["report", str(grid), "-o", str(out / "r.md"), "--figures", str(out / "f")]
        + ["--transformer", str(other)]
    )
    assert "### Transformer pipeline" in (out / "r.md").read_text(encoding="utf-8")
