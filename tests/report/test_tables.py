import dataclasses

import pytest

from hybrid_ner.experiment.result import CellResult
from hybrid_ner.report.budget import budget_rows, budget_table
from hybrid_ner.report.calibration import (
    calibration_lines,
    calibration_table,
    omission_estimates,
    omission_table,
)
from hybrid_ner.report.document import f1_by_rate_table, per_label_table
from hybrid_ner.report.format import (
    annotator_name,
    condition_name,
    escape,
    format_rate,
    format_stat,
)
from hybrid_ner.report.results import Stat, load_cells

from .grid_fixtures import write_cells

MIXING = "hybrid, calibrated label mixing (recommended) — `hybrid-label-mixing`"
LAMBDA = "hybrid, λ label mixing (earlier) — `hybrid-lambda-mixing`"
OMIT = "human with omissions (baseline) — `human-omit`"
CLEAN = "human, clean (upper bound) — `human-clean`"


@pytest.fixture
def cells(tmp_path):
    write_cells(tmp_path / "wikigold")
    return load_cells(tmp_path / "wikigold" / "cells")


def row(table, name):
    return next(line for line in table.splitlines() if line.startswith(f"| {name} |"))


def test_format_stat_and_rate():
    assert format_stat(Stat.of([0.60, 0.62, 0.64])) == "0.620 ± 0.020 (3)"
    assert format_stat(Stat.of([0.5])) == "0.500 (1)"
    assert format_stat(None) == "—"
    assert (format_rate(0.4), format_rate(0.125), format_rate(1.0)) == ("40%", "12.5%", "100%")
    assert escape("a|b\nc") == "a\\|b c"


def test_condition_names():
    assert condition_name("hybrid-label-mixing") == MIXING
    assert (
        condition_name("hybrid-label-mixing", with_id=False)
        == "hybrid, calibrated label mixing (recommended)"
    )
    assert condition_name("hybrid-lambda-mixing") == LAMBDA
    assert condition_name("sim-hybrid-label-mixing", with_id=False).startswith("simulated ")
    with pytest.raises(KeyError):  # the cells are read with their conditions checked
        condition_name("hybrid-soft-vote")


def test_f1_table_rows_columns_bold_best(cells):
    table = f1_by_rate_table(cells, [0.0, 0.2, 0.4, 0.6])
    assert table.splitlines()[0] == "| Condition | 0% | 20% | 40% | 60% |"
    # No omissions is the clean gold: human-omit at 0% shows the upper bound, never bold.
    assert (
        row(table, OMIT)
        == f"| {OMIT} | 0.820 ± 0.020 (3) | 0.710 ± 0.010 (3) | 0.620 ± 0.020 (3) | 0.520 ± 0.020 "
        "(3) |"
    )
    # Reference conditions repeat in every column; the upper bound is never bold.
    assert row(table, CLEAN).count("0.820 ± 0.020 (3)") == 4
    assert "**" not in row(table, CLEAN)
    assert row(table, MIXING).endswith("| 0.680 ± 0.028 (2) | 0.510 ± 0.010 (3) |")
    assert row(table, LAMBDA).endswith("| 0.660 ± 0.020 (3) | 0.530 ± 0.010 (3) |")
    sim = "simulated hybrid, calibrated label mixing — `sim-hybrid-label-mixing`"
    assert row(table, sim).endswith("| **0.750 ± 0.020 (3)** | — |")
    assert row(table, "hybrid, random selection — `hybrid-random`").endswith(
        "| **0.560 ± 0.010 (3)** |"
    )
    # At 0% llm-only is the only candidate: nothing to single out.
    assert "**" not in row(table, "LLM only — `llm-only`")
    assert "budget" not in table


def test_per_label_table(cells):
    table = per_label_table(cells, 0.4)
    assert table.splitlines()[0] == "| Condition | LOC | PER |"
    assert row(table, OMIT) == f"| {OMIT} | 0.670 ± 0.020 (3) | 0.570 ± 0.020 (3) |"


def test_budget_rows_compare_every_budget_condition_with_human(cells):
    rows = budget_rows(cells)
    points = [(r["budget"], r["condition"], r["source"]) for r in rows]
    assert points == [
        (0.1, "human-budget", "human-budget"),
        (0.1, "hybrid-budget", "hybrid-budget"),
        (0.1, "sim-hybrid-budget", "sim-hybrid-budget"),
        (0.25, "human-budget", "human-budget"),
        (0.25, "hybrid-budget", "hybrid-budget"),
        (0.25, "sim-hybrid-budget", "sim-hybrid-budget"),
        (0.5, "human-budget", "human-budget"),
        (0.5, "hybrid-budget", "hybrid-budget"),
        (1.0, "human-budget", "human-clean"),
    ]
    assert rows[1]["total"].mean == pytest.approx(8.2) and rows[-1]["human"].mean == pytest.approx(
        81.2
    )
    assert [r["vs_human"] for r in rows[:3]] == [None, pytest.approx(0.01), pytest.approx(0.10)]
    table = budget_table(rows)
    assert (
        table.splitlines()[0]
        == "| Budget | Condition | F1 | Δ F1 vs human | Human cost | LLM cost | Total cost |"
    )
    assert (
        "| 10% | simulated hybrid, part of the documents, calibrated — `sim-hybrid-budget` | "
        "0.510 ± 0.014 (2) | +0.100 | 8.00 | 0.20 | 8.20 |" in table
    )
    assert (
        "| 100% | human, part of the documents — `human-budget` ← `human-clean` | 0.820 ± 0.020 "
        "(3) | — | 81.20 | 0.00 | 81.20 |" in table
    )
    assert budget_rows([c for c in cells if c.budget == 1.0]) == []


def test_budget_rows_continue_each_curve_at_full_budget(cells):
    # The full-budget points of the hybrids are their calibrated rate conditions
    # at the budget cells' rate.
    full = [
        dataclasses.replace(c, omit_rate=0.0)
        for c in cells
        if c.condition in ("hybrid-label-mixing", "sim-hybrid-label-mixing") and c.omit_rate == 0.2
    ]
    rows = budget_rows(cells + full)
    ends = {r["condition"]: r for r in rows if r["budget"] == 1.0}
    assert ends["hybrid-budget"]["source"] == "hybrid-label-mixing" and ends["hybrid-budget"][
        "f1"
    ].mean == pytest.approx(0.75)
    assert ends["sim-hybrid-budget"]["vs_human"] == pytest.approx(0.79 - 0.82)


def test_calibration_table_and_lines(cells):
    cell = next(c for c in cells if c.path.stem == "hybrid-label-mixing_r0.4_b1_s0")
    table = calibration_table(cell.calibration)
    assert (
        table.splitlines()[0]
        == "| Label | Precision | Recall | Proposed | Gold | LR proposed | LR silence |"
    )
    assert "| PER | 0.870 | 0.820 | 95 | 101 | 182 | 0.28 |" in table
    assert "| LOC | 0.750 | 0.600 | 40 | 50 | 45.2 | 0.50 |" in table
    lines = calibration_lines(cell)
    assert lines[0].startswith(
        "From cell `hybrid-label-mixing_r0.4_b1_s0` (hybrid, calibrated label mixing "
        "(recommended), seed 0, 40% omissions)"
    )
    assert (
        "calibration sample `corpus/wikigold/dev_llm.spacy`, 3,883 tokens, position match 0.969"
        in lines[0]
    )
    assert (
        lines[1] == "Estimated human omission rate: 0.430 (estimated from agreement and calibrated "
        "precision); true simulated rate: 0.400."
    )
    assert len(lines) == 2  # not biased: no warning
    biased = dataclasses.replace(cell, calibration={**cell.calibration, "biased": True})
    assert calibration_lines(biased)[-1].startswith(
        "Biased: measured against the incomplete human annotation"
    )
    budget = next(c for c in cells if c.path.stem == "sim-hybrid-budget_r0_b0.1_s1")
    assert "seed 1, budget 10%, 0% omissions" in calibration_lines(budget)[0]
    # A sparse record still renders.
    sparse = dataclasses.replace(cell, calibration={"labels": {"X": {"precision": 0.5}}})
    assert "| X | 0.500 | — | — | — | — | — |" in calibration_table(sparse.calibration)
    assert "Estimated human omission rate: —; true simulated rate: 0.400." in calibration_lines(
        sparse
    )


def test_omission_table(cells):
    table = omission_table(omission_estimates(cells))
    assert (
        table.splitlines()[0]
        == "| Condition | Budget | Simulated rate | Estimated rate | Estimated from |"
    )
    assert (
        f"| {MIXING} | 100% | 0.400 | 0.435 ± 0.007 (2) | estimated from agreement and calibrated "
        "precision |" in table
    )
    assert (
        "| hybrid, part of the documents, calibrated — `hybrid-budget` | 25% | 0.000 | 0.035 ± "
        "0.007 (2) |" in table
    )


def test_simulated_annotator_is_always_marked():
    assert (
        annotator_name("simulated", {"name": "GPT-3.5-class annotator", "simulated": True})
        == "GPT-3.5-class annotator (simulated)"
    )
    assert (
        annotator_name("sim", {"name": "simulated annotator", "simulated": True})
        == "simulated annotator"
    )
    assert annotator_name("llm", {"name": "qwen", "simulated": False}) == "qwen"


def test_a_cell_whose_annotator_proposed_nothing_is_marked_human_only():
    def cell(calibration):
        return CellResult(
            dataset="toy",
            condition="hybrid-label-mixing",
            annotator="llm",
            omit_rate=0.4,
            budget=1.0,
            seed=0,
            p=0.3,
            r=0.3,
            f=0.3,
            calibration=calibration,
        )

    silent = {"source": "no evidence from the annotator", "no_evidence": True, "labels": {}}
    lines = calibration_lines(cell({**silent, "omission_rate": 0.4}))
    assert any(line.startswith("No evidence from the annotator") for line in lines)
    assert not any("No evidence" in line for line in calibration_lines(cell({"labels": {}})))
