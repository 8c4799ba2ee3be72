import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.report.plots import plot_budget
from hybrid_ner.report.results import Stat

from ..report.grid_fixtures import cell, cell_id, write_annotators, write_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("f1_vs_omission", "per_label", "annotator_quality", "budget")
HUMAN_OMIT = "human with omissions (baseline) — `human-omit`"
LABEL_MIXING = "hybrid, calibrated label mixing (recommended) — `hybrid-label-mixing`"
HUMAN_BUDGET = "human, part of the documents — `human-budget`"
HYBRID_BUDGET = "hybrid, part of the documents, calibrated — `hybrid-budget`"
DO_NO_HARM, MIXING, GPT35 = (
    "Do no harm",
    "Label mixing > random selection",
    "Simulated GPT-3.5-class annotator",
)


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


def target_rows(text):
    """The rows of the targets table as [group, check, result, details]."""
    table = text.split("### Targets\n")[1].split("\n###")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")][
        2:
    ]  # without header and rule
    return [[part.strip() for part in row.strip("|").split(" | ")] for row in rows]


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


def test_report_targets_and_missing_cells(report):
    text = section((report / "out" / "report.md").read_text(encoding="utf-8"), "wikigold")
    rows = target_rows(text)
    # The verdicts listed in grid_fixtures' docstring, in target order.
    assert [(group, result) for group, _, result, _ in rows] == [
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**not met**"),
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**no data**"),
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**met**"),
        (DO_NO_HARM, "**not met**"),
        (DO_NO_HARM, "**no data**"),
        (MIXING, "**met**"),
        (MIXING, "**met**"),
        (GPT35, "**met**"),
        (GPT35, "**no data**"),
        (GPT35, "**met**"),
        (GPT35, "**not met**"),
    ]
    assert "12 of 18 checks met, 3 not met, 3 without data." in text
    checks = {check: details for _, check, _, details in rows}
    at_40 = checks["hybrid-label-mixing ≥ human-omit − 0.005 at 40% omissions"]
    assert "0.680 ± 0.028 (n=2) vs human-omit 0.620 ± 0.020 (n=3)" in at_40
    assert "difference +0.060 (needed ≥ -0.005)" in at_40 and "overlap: no" in at_40
    assert (
        "difference -0.010" in checks["hybrid-label-mixing ≥ human-omit − 0.005 at 60% omissions"]
    )
    # Exactly on the tolerance: 0.555 − 0.560 = −0.005 is met.
    assert (
        "difference -0.005 (needed ≥ -0.005)"
        in checks["hybrid-budget ≥ human-budget − 0.005 at budget 25%"]
    )
    random = checks["hybrid-label-mixing > hybrid-random at 40% omissions"]
    assert "difference +0.020 (needed > +0.000)" in random and "overlap: yes" in random
    assert (
        "difference +0.130 (needed ≥ +0.030)"
        in checks["sim-hybrid-label-mixing ≥ human-omit + 0.03 at 40% omissions"]
    )
    assert (
        checks["sim-hybrid-label-mixing ≥ human-omit + 0.03 at 60% omissions"]
        == "no cells for sim-hybrid-label-mixing at 60% omissions"
    )
    assert "recovered" not in text
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
    assert (
        "No `annotators.json` for this dataset" in conll
        and "annotator_quality_conll2003" not in conll
    )
    assert not (report / "out" / "figures" / "annotator_quality_conll2003.png").exists()
    assert "samples_conll2003" not in conll and "(figures/f1_vs_omission_conll2003.png)" in conll


def test_explicit_samples_and_not_met_target(tmp_path):
    grid = write_grid(tmp_path / "grid", samples=0)
    # The simulated hybrid at 40% now gains only 0.640 − 0.620 = +0.020 over
    # human-omit (target +0.03)
    # and falls behind sim-hybrid-random's 0.710.
    for seed, f in enumerate([0.63, 0.64, 0.65]):
        path = (
            grid
            / "wikigold"
            / "cells"
            / f"{cell_id('sim-hybrid-label-mixing', 0.4, 1.0, seed)}.json"
        )
        assert path.name == f"sim-hybrid-label-mixing_r0.4_b1_s{seed}.json"
        data = srsly.read_json(path)
        data["scores"]["f"] = f
        srsly.write_json(path, data)
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
    checks = {
        check: (group, result, details) for group, check, result, details in target_rows(text)
    }
    group, result, details = checks["sim-hybrid-label-mixing ≥ human-omit + 0.03 at 40% omissions"]
    assert (group, result) == (GPT35, "**not met**")
    assert (
        "sim-hybrid-label-mixing 0.640 ± 0.010 (n=3) vs human-omit 0.620 ± 0.020 (n=3)" in details
    )
    assert "difference +0.020 (needed ≥ +0.030)" in details
    group, result, details = checks["sim-hybrid-label-mixing > sim-hybrid-random at 40% omissions"]
    assert (group, result) == (MIXING, "**not met**") and "difference -0.070" in details
    # Do no harm still holds: +0.020 ≥ −0.005.
    assert checks["sim-hybrid-label-mixing ≥ human-omit − 0.005 at 40% omissions"][1] == "**met**"
    assert "10 of 18 checks met, 5 not met, 3 without data." in text
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
    # Every target names settings without cells: all 18 checks without data.
    assert (
        tiny.count("**no data**") == 18
        and "0 of 18 checks met, 0 not met, 18 without data." in tiny
    )
    assert [result for _, _, result, _ in target_rows(tiny)] == ["**no data**"] * 18
    assert "No budget cells" in tiny
    only = text.split("## only_annotators")[1].split("## tiny")[0]
    assert "No cells yet" in only and "(fig/annotator_quality_only_annotators.png)" in only


def test_budget_plot_without_cost_uses_budget_fraction(tmp_path):
    rows = [
        {
            "budget": b,
            "condition": "human-budget",
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
            {"dataset": "wikigold", "condition": "human-omit", "omit_rate": 0.4, "seed": 0},
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
