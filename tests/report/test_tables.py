import pytest

from hybrid_ner.report.results import Stat, load_cells
from hybrid_ner.report.tables import (
    annotator_name,
    budget_rows,
    escape,
    f1_by_rate_table,
    format_rate,
    format_stat,
    per_label_table,
)

from .grid_fixtures import write_cells


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


def test_f1_table_rows_columns_bold_best(cells):
    table = f1_by_rate_table(cells, [0.0, 0.2, 0.4])
    assert table.splitlines()[0] == "| Condition | 0% | 20% | 40% |"
    # No omissions is the clean gold: human-omit at 0% shows the upper bound, never bold.
    assert row(table, "human-omit") == "| human-omit | 0.820 ± 0.020 (3) | 0.710 ± 0.010 (3) | 0.620 ± 0.020 (3) |"
    # Reference conditions repeat in every column; the upper bound is never bold.
    assert row(table, "human-clean (upper bound)").count("0.820 ± 0.020 (3)") == 3
    assert "**" not in row(table, "human-clean (upper bound)")
    assert row(table, "hybrid-label-mixing").endswith("| 0.680 ± 0.028 (2) |")
    assert row(table, "sim-hybrid-label-mixing (simulated)").endswith("| **0.750 ± 0.020 (3)** |")
    # At 0% llm-only is the only candidate: nothing to single out.
    assert "**" not in row(table, "llm-only")
    assert "budget" not in table


def test_per_label_table(cells):
    table = per_label_table(cells, 0.4)
    assert table.splitlines()[0] == "| Condition | LOC | PER |"
    assert row(table, "human-omit") == "| human-omit | 0.670 ± 0.020 (3) | 0.570 ± 0.020 (3) |"


def test_budget_rows_add_full_budget_points(cells):
    rows = budget_rows(cells)
    points = [(r["budget"], r["condition"], r["source"]) for r in rows]
    assert points == [(0.5, "human-budget", "human-budget"), (0.5, "hybrid-budget", "hybrid-budget"), (1.0, "human-budget", "human-clean")]
    assert rows[1]["total"].mean == pytest.approx(40.2) and rows[2]["human"].mean == pytest.approx(81.2)
    assert budget_rows([c for c in cells if c.budget == 1.0]) == []


def test_simulated_annotator_is_always_marked():
    assert annotator_name("simulated", {"name": "GPT-3.5-class annotator", "simulated": True}) == "GPT-3.5-class annotator (simulated)"
    assert annotator_name("sim", {"name": "simulated annotator", "simulated": True}) == "simulated annotator"
    assert annotator_name("llm", {"name": "qwen", "simulated": False}) == "qwen"
