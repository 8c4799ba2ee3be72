import sys

import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.report.plots import plot_budget
from hybrid_ner.report.results import Stat

from ..report.grid_fixtures import cell, write_annotators, write_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("f1_vs_omission", "per_label", "budget")
HUMAN_OMIT = "human with omissions (baseline) — `human-omit`"
LABEL_MIXING = "hybrid, calibrated label mixing (recommended) — `hybrid-label-mixing`"
HUMAN_BUDGET = "human, part of the documents — `human-budget`"
HYBRID_BUDGET = "hybrid, part of the documents, calibrated — `hybrid-budget`"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Run the command once on a grid with a full and a bare dataset."""
    root = tmp_path_factory.mktemp("report")
    grid = write_grid(root / "grid", "wikigold")
    write_grid(grid, "conll2003", annotators=False, run=False, samples=0)
    main(
        [
            "report",
            str(grid),
            "--output",
            str(root / "out" / "report.md"),
            "--figures",
            str(root / "out" / "figures"),
        ]
    )
    return root


def section(text, dataset):
    return text.split(f"## {dataset}\n")[1].split("\n## ")[0]


def test_report_tables_hold_hand_computed_numbers(report):
    text = section((report / "out" / "report.md").read_text(encoding="utf-8"), "wikigold")
    # F1 by rate: mean ± sd (n) of [0.70, 0.71, 0.72] and [0.60, 0.62, 0.64]; seed 2 missing at 40%.
    assert f"| {HUMAN_OMIT} | 0.710 ± 0.010 (3) | 0.620 ± 0.020 (3) | 0.520 ± 0.020 (3) |" in text
    assert f"| {LABEL_MIXING} | 0.750 ± 0.010 (3) | 0.680 ± 0.028 (2) | 0.510 ± 0.010 (3) |" in text
    # Per label at 40%: LOC 0.05 above, PER 0.05 below the overall F1.
    assert f"| {HUMAN_OMIT} | 0.670 ± 0.020 (3) | 0.570 ± 0.020 (3) |" in text
    assert "| GPT-3.5-class annotator (simulated) | LOC | 0.620 | 0.580 |" in text
    # Budget: mean of [0.74, 0.76] = 0.750, +0.040 over human-budget's 0.710; the
    # 100% row from human-clean.
    assert f"| 50% | {HYBRID_BUDGET} | 0.750 ± 0.014 (2) | +0.040 | 40.00 | 0.20 | 40.20 |" in text
    assert f"| 50% | {HUMAN_BUDGET} | 0.710 ± 0.014 (2) | — | 40.00 | 0.00 | 40.00 |" in text
    assert f"| 25% | {HYBRID_BUDGET} | 0.555 ± 0.007 (2) | -0.005 | 20.00 | 0.20 | 20.20 |" in text
    assert (
        f"| 100% | {HUMAN_BUDGET} ← `human-clean` | 0.820 ± 0.020 (3) | — | 81.20 | 0.00 | 81.20 |"
        in text
    )
    assert "python -m spacy project run grid" in text and "wall time 1.50 h" in text


def test_report_missing_cells(report):
    text = section((report / "out" / "report.md").read_text(encoding="utf-8"), "wikigold")
    assert "`hybrid-label-mixing` at 40% omissions: 2 of 3 seeds (missing seeds: 2)" in text
    assert "No cells at all for: `sim-only`" in text


def test_report_figures_and_samples_are_written_and_linked(report):
    text = (report / "out" / "report.md").read_text(encoding="utf-8")
    for kind in FIGURES:
        png = report / "out" / "figures" / f"{kind}_wikigold.png"
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
        assert f"(figures/{kind}_wikigold.png)" in text
    page = (report / "out" / "samples_wikigold.html").read_text(encoding="utf-8")
    assert "PER (omitted)" in page and "overlap_llm" in page
    assert "[samples_wikigold.html](samples_wikigold.html)" in text
    # The bare dataset: no annotators, no samples, still figures for its cells.
    conll = section(text, "conll2003")
    assert "No `annotators.json` for this dataset" in conll
    assert "samples_conll2003" not in conll and "(figures/f1_vs_omission_conll2003.png)" in conll


def test_explicit_samples(tmp_path):
    grid = write_grid(tmp_path / "grid", samples=0)
    samples = write_grid(tmp_path / "other", "x", samples=3) / "x" / "samples.spacy"
    out = tmp_path / "report.md"
    main(
        [
            "report",
            str(grid),
            "--output",
            str(out),
            "--figures",
            str(tmp_path / "fig"),
            "--samples",
            str(samples),
            "--max-samples",
            "1",
        ]
    )
    text = out.read_text(encoding="utf-8")
    assert "## Other samples" in text and "[x](samples_x.html)" in text
    assert (tmp_path / "samples_x.html").read_text(encoding="utf-8").count("<section>") == 1


def test_partial_grid_never_crashes(tmp_path):
    cells = tmp_path / "grid" / "tiny" / "cells"
    cells.mkdir(parents=True)
    srsly.write_json(cells / "a.json", cell("tiny", "human-omit", 0.3, 0, 0.5))
    write_annotators(tmp_path / "grid" / "only_annotators")
    out = tmp_path / "report.md"
    main(
        ["report", str(tmp_path / "grid"), "--output", str(out), "--figures", str(tmp_path / "fig")]
    )
    text = out.read_text(encoding="utf-8")
    tiny = text.split("## tiny")[1]
    assert f"| {HUMAN_OMIT} | 0.500 (1) |" in tiny and "### Scores at 30% omissions" in tiny
    assert "showing the closest rate present, 30%" in tiny
    assert "No budget cells" in tiny
    only = text.split("## only_annotators")[1].split("## tiny")[0]
    assert "No cells yet" in only and "No figures" in only


def test_budget_plot_without_cost_uses_budget_fraction(tmp_path):
    rows = [
        {
            "budget": b,
            "condition": "human-budget",
            "selection": "random",
            "source": "human-budget",
            "f1": Stat.of([f]),
            "human": None,
            "llm": None,
            "total": None,
        }
        for b, f in ((0.25, 0.5), (0.5, 0.6))
    ]
    path = plot_budget(rows, "d", tmp_path / "budget.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("bad", ["missing key", "missing dir"])
def test_bad_input_is_one_clear_line(tmp_path, capsys, bad):
    grid = tmp_path / "grid"
    if bad == "missing key":
        (grid / "wikigold" / "cells").mkdir(parents=True)
        srsly.write_json(
            grid / "wikigold" / "cells" / "c1.json",
            {
                "dataset": "wikigold",
                "condition": "human-omit",
                "annotator": "none",
                "omission_model": "uniform",
                "omit_rate": 0.4,
                "seed": 0,
            },
        )
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "report",
                str(grid),
                "--output",
                str(tmp_path / "r.md"),
                "--figures",
                str(tmp_path / "f"),
            ]
        )
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    if bad == "missing key":
        assert "c1.json" in err[0] and 'missing key "scores"' in err[0]
    else:
        assert "grid directory not found" in err[0]
    assert not (tmp_path / "r.md").exists()


def test_report_without_matplotlib_says_what_to_install(tmp_path, capsys, monkeypatch):
    grid = write_grid(tmp_path / "grid", samples=0)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(grid), "-o", str(tmp_path / "r.md"), "--figures", str(tmp_path / "f")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 1 and len(err) == 1
    assert "pip install 'hybrid-ner[report]'" in err[0]
