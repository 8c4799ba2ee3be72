import dataclasses

import pytest
from wasabi import MarkdownRenderer

from hybrid_ner.experiment.result import CellResult
from hybrid_ner.report.document import (
    annotator_name,
    budget_section,
    calibration_section,
    condition_name,
    escape,
    f1_by_rate_table,
    format_rate,
    format_stat,
    stat_table,
)
from hybrid_ner.report.results import DatasetResults, Stat, aggregate, budget_rows, load_cells

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


def rendered(add, *args):
    md = MarkdownRenderer(no_emoji=True)
    add(md, *args)
    return md.text


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
    assert condition_name("sim-hybrid-label-mixing", with_id=False).startswith("simulated ")
    with pytest.raises(KeyError):  # the cells are read with their conditions checked
        condition_name("hybrid-soft-vote")


def test_f1_table_rows_columns_bold_best(cells):
    table = f1_by_rate_table(MarkdownRenderer(no_emoji=True), cells)
    assert table.splitlines()[0] == "| Condition | 20% | 40% | 60% |"
    assert (
        row(table, OMIT)
        == f"| {OMIT} | 0.710 ± 0.010 (3) | 0.620 ± 0.020 (3) | 0.520 ± 0.020 (3) |"
    )
    # Reference conditions repeat in every column; the upper bound is never bold.
    assert row(table, CLEAN).count("0.820 ± 0.020 (3)") == 3
    assert "**" not in row(table, CLEAN)
    assert row(table, MIXING).endswith("| 0.680 ± 0.028 (2) | 0.510 ± 0.010 (3) |")
    assert row(table, LAMBDA).endswith("| 0.660 ± 0.020 (3) | 0.530 ± 0.010 (3) |")
    sim = "simulated hybrid, calibrated label mixing — `sim-hybrid-label-mixing`"
    assert row(table, sim).endswith("| **0.750 ± 0.020 (3)** | — |")
    assert row(table, "hybrid, random selection — `hybrid-random`").endswith(
        "| **0.560 ± 0.010 (3)** |"
    )
    assert "**" not in row(table, "LLM only — `llm-only`")
    assert "budget" not in table
    # Only one condition: nothing to single out.
    alone = f1_by_rate_table(MarkdownRenderer(), [c for c in cells if c.condition == "human-omit"])
    assert "**" not in alone


def test_stat_table_one_column_per_statistic(cells):
    per_label = {n: aggregate(cells, lambda c, n=n: c.per_type[n]["f"]) for n in ("LOC", "PER")}
    table = stat_table(MarkdownRenderer(), per_label, ["human-omit", "human-clean"], 0.4)
    assert table.splitlines()[0] == "| Condition | LOC | PER |"
    assert row(table, OMIT) == f"| {OMIT} | 0.670 ± 0.020 (3) | 0.570 ± 0.020 (3) |"
    assert row(table, CLEAN) == f"| {CLEAN} | 0.870 ± 0.020 (3) | 0.770 ± 0.020 (3) |"


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
    assert rows[1]["total"].mean == pytest.approx(8.2)
    assert rows[-1]["human"].mean == pytest.approx(81.2)
    assert [r["vs_human"] for r in rows[:3]] == [None, pytest.approx(0.01), pytest.approx(0.10)]
    table = rendered(budget_section, cells)
    assert (
        "| Budget | Condition | F1 | Δ F1 vs human | Human cost | LLM cost | Total cost |" in table
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
    assert "No budget cells" in rendered(budget_section, [c for c in cells if c.budget == 1.0])


def test_budget_rows_and_cost_to_reach_per_selection(cells):
    chosen = [
        dataclasses.replace(c, selection="uncertainty", f=c.f + 0.2)
        for c in cells
        if c.group[1] == "budget"
    ]
    rows = budget_rows(cells + chosen)
    at_10 = [(r["condition"], r["selection"], round(r["f1"].mean, 3)) for r in rows[:6]]
    assert at_10 == [
        ("human-budget", "random", 0.41),
        ("hybrid-budget", "random", 0.42),
        ("sim-hybrid-budget", "random", 0.51),
        ("human-budget", "uncertainty", 0.61),
        ("hybrid-budget", "uncertainty", 0.62),
        ("sim-hybrid-budget", "uncertainty", 0.71),
    ]
    assert rows[4]["vs_human"] == pytest.approx(0.01)  # against human-budget by uncertainty
    table = rendered(budget_section, cells + chosen)
    assert "| 10% | human, part of the documents — `human-budget`, by uncertainty | 0.610" in table
    assert (
        "Least budget reaching 90% of human-clean F1 (0.738): `human-budget` (random) 100%; "
        "`hybrid-budget` (random) 50%; `sim-hybrid-budget` (random) never; `human-budget` "
        "(uncertainty) 25%; `hybrid-budget` (uncertainty) 25%; `sim-hybrid-budget` "
        "(uncertainty) 25%" in table
    )


def test_budget_rows_continue_each_curve_at_full_budget(cells):
    # The full-budget points of the hybrids are their calibrated rate conditions
    # at the budget cells' rate.
    full = [
        dataclasses.replace(c, omit_rate=0.0)
        for c in cells
        if c.condition in ("hybrid-label-mixing", "sim-hybrid-label-mixing") and c.omit_rate == 0.2
    ]
    ends = {r["condition"]: r for r in budget_rows(cells + full) if r["budget"] == 1.0}
    assert ends["hybrid-budget"]["source"] == "hybrid-label-mixing"
    assert ends["hybrid-budget"]["f1"].mean == pytest.approx(0.75)
    assert ends["sim-hybrid-budget"]["vs_human"] == pytest.approx(0.79 - 0.82)


def calibration(cells, rate=0.4):
    return rendered(calibration_section, DatasetResults("wikigold", None, cells), rate)


def test_calibration_record_of_seed_0_at_the_target_rate(cells):
    text = calibration(cells)
    llm = text.split("#### LLM\n")[1].split("####")[0]
    assert (
        "From cell `hybrid-label-mixing_r0.4_b1_s0` (hybrid, calibrated label mixing "
        "(recommended), seed 0, 40% omissions): calibration sample "
        "`corpus/wikigold/dev_llm.spacy`, 3,883 tokens, position match 0.969." in llm
    )
    assert (
        "Estimated human omission rate: 0.430 (estimated from agreement and calibrated "
        "precision); true simulated rate: 0.400." in llm
    )
    assert "| Label | Precision | Recall | Proposed | Gold | LR proposed | LR silence |" in llm
    assert "| PER | 0.870 | 0.820 | 95 | 101 | 182 | 0.28 |" in llm
    assert "| LOC | 0.750 | 0.600 | 40 | 50 | 45.2 | 0.50 |" in llm
    assert "Biased" not in text and "No evidence" not in text
    assert "From cell `sim-hybrid-label-mixing_r0.4_b1_s0`" in text
    assert "From cell `hybrid-label-mixing_r0.6_b1_s0`" in calibration(cells, 0.6)
    # Without that cell: another seed at the rate first, then budget cells.
    rest = [c for c in cells if c.name != "hybrid-label-mixing_r0.4_b1_s0"]
    assert "From cell `hybrid-label-mixing_r0.4_b1_s1`" in calibration(rest)
    budget = calibration([c for c in cells if c.group[1] == "budget"])
    assert "From cell `sim-hybrid-budget_r0_b0.1_s0`" in budget
    assert "seed 0, budget 10%, 0% omissions" in budget


def test_omission_rate_table_beside_the_simulated_rate(cells):
    table = calibration(cells).split("#### Estimated omission rate\n")[1]
    assert "| Omissions | Condition | Budget | Simulated ω | From density |" in table
    assert f"| uniform | {MIXING} | 100% | 0.400 | — | — | 0.435 ± 0.007 (2) |" in table
    assert (
        "| uniform | hybrid, part of the documents, calibrated — `hybrid-budget` | 25% | 0.000 | "
        "— | — | 0.035 ± 0.007 (2) |" in table
    )
    assert "hybrid-lambda-mixing" not in table


def test_warnings_of_a_calibration_record():
    def cell(**calibration):
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
            calibration={"labels": {"X": {"precision": 0.5}}, **calibration},
        )

    text = calibration([cell(no_evidence=True, omission_rate=0.4)])
    assert "No evidence from the annotator: its calibration sample holds no proposals" in text
    assert "| X | 0.500 | — | — | — | — | — |" in text  # a sparse record still renders
    text = calibration([cell(biased=True)])
    assert "Estimated human omission rate: —; true simulated rate: 0.400." in text
    assert [line for line in text.splitlines() if line.startswith("Biased")] == [
        "Biased: measured against the incomplete human annotation, not a clean calibration "
        "sample (proposals of omitted entities count as false)."
    ]


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
