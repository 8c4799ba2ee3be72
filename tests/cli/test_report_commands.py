import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.report.plots import plot_budget
from hybrid_ner.report.results import Stat

from ..report.grid_fixtures import cell, write_annotators, write_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("f1_vs_omission", "per_label", "annotator_quality", "budget")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Run the command once on a grid with a full and a bare dataset."""
    root = tmp_path_factory.mktemp("report")
    grid = write_grid(root / "grid", "wikigold")
    write_grid(grid, "conll2003", annotators=False, run=False, samples=0)
    main(["report", str(grid), "--output", str(root / "out" / "report.md"), "--figures", str(root / "out" / "figures")])
    return root


def section(text, dataset):
    return text.split(f"## {dataset}\n")[1].split("\n## ")[0]


def test_report_tables_hold_hand_computed_numbers(report):
    text = section((report / "out" / "report.md").read_text(encoding="utf-8"), "wikigold")
    assert "| human-omit | 0.710 ± 0.010 (3) | 0.620 ± 0.020 (3) |" in text
    assert "| hybrid-label-mixing | 0.750 ± 0.010 (3) | 0.680 ± 0.028 (2) |" in text
    assert "| human-omit | 0.670 ± 0.020 (3) | 0.570 ± 0.020 (3) |" in text  # per label at 40%
    assert "| GPT-3.5-class annotator (simulated) | LOC | 0.620 | 0.580 |" in text
    assert "| 50% | hybrid-budget | 0.750 ± 0.014 (2) | 40.00 | 0.20 | 40.20 |" in text
    assert "| 100% | human-budget ← human-clean | 0.820 ± 0.020 (3) | 81.20 | 0.00 | 81.20 |" in text
    assert "python -m spacy project run grid" in text and "wall time 1.50 h" in text


def test_report_targets_and_missing_cells(report):
    text = section((report / "out" / "report.md").read_text(encoding="utf-8"), "wikigold")
    targets = text.split("### Targets at 40% omissions")[1].split("###")[0]
    rows = [line for line in targets.splitlines() if line.startswith("| hybrid") or line.startswith("| recovered")]
    assert ["**met**" in row for row in rows] == [True, True, True]
    assert "difference +0.060" in rows[0] and "overlap: no" in rows[0] and "overlap: yes" in rows[1]
    assert "0.65 of the gap" in rows[2]
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
    assert "No `annotators.json` for this dataset" in conll and "annotator_quality_conll2003" not in conll
    assert not (report / "out" / "figures" / "annotator_quality_conll2003.png").exists()
    assert "samples_conll2003" not in conll and "(figures/f1_vs_omission_conll2003.png)" in conll


def test_explicit_samples_and_not_met_target(tmp_path):
    grid = write_grid(tmp_path / "grid", samples=0)
    # The simulated hybrid now recovers only (0.66 - 0.62) / 0.2 = 0.2 of the gap.
    for seed, f in enumerate([0.65, 0.66, 0.67]):
        path = grid / "wikigold" / "cells" / f"sim-hybrid-label-mixing_omit0.4_s{seed}.json"
        cell = srsly.read_json(path)
        cell["scores"]["f"] = f
        srsly.write_json(path, cell)
    samples = write_grid(tmp_path / "other", "x", samples=3) / "x" / "samples.spacy"
    out = tmp_path / "report.md"
    main(["report", str(grid), "--output", str(out), "--figures", str(tmp_path / "fig"), "--samples", str(samples), "--max-samples", "1"])
    text = out.read_text(encoding="utf-8")
    gap_row = next(line for line in text.splitlines() if line.startswith("| recovered gap"))
    assert "**not met**" in gap_row and "0.20 of the gap" in gap_row
    assert "## Other samples" in text and "[x](samples_x.html)" in text
    assert (tmp_path / "samples_x.html").read_text(encoding="utf-8").count("<section>") == 1


def test_partial_grid_never_crashes(tmp_path):
    cells = tmp_path / "grid" / "tiny" / "cells"
    cells.mkdir(parents=True)
    srsly.write_json(cells / "a.json", cell("tiny", "human-omit", 0.3, 0, 0.5))
    write_annotators(tmp_path / "grid" / "only_annotators")
    out = tmp_path / "report.md"
    main(["report", str(tmp_path / "grid"), "--output", str(out), "--figures", str(tmp_path / "fig")])
    text = out.read_text(encoding="utf-8")
    tiny = text.split("## tiny")[1]
    assert "| human-omit | 0.500 (1) |" in tiny and "### Targets at 30% omissions" in tiny
    assert "showing the closest rate present, 30%" in tiny
    assert tiny.count("**no data**") == 3 and "No budget cells" in tiny
    only = text.split("## only_annotators")[1].split("## tiny")[0]
    assert "No cells yet" in only and "(fig/annotator_quality_only_annotators.png)" in only


def test_budget_plot_without_cost_uses_budget_fraction(tmp_path):
    rows = [{"budget": b, "condition": "human-budget", "source": "human-budget", "f1": Stat.of([f]), "human": None, "llm": None, "total": None} for b, f in ((0.25, 0.5), (0.5, 0.6))]
    path = plot_budget(rows, "d", tmp_path / "budget.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("bad", ["missing key", "missing dir"])
def test_bad_input_is_one_clear_line(tmp_path, capsys, bad):
    grid = tmp_path / "grid"
    if bad == "missing key":
        (grid / "wikigold" / "cells").mkdir(parents=True)
        srsly.write_json(grid / "wikigold" / "cells" / "c1.json", {"dataset": "wikigold", "condition": "human-omit", "omit_rate": 0.4, "seed": 0})
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(grid), "--output", str(tmp_path / "r.md"), "--figures", str(tmp_path / "f")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    if bad == "missing key":
        assert "c1.json" in err[0] and 'missing key "scores"' in err[0]
    else:
        assert "grid directory not found" in err[0]
    assert not (tmp_path / "r.md").exists()
