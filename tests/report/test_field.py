"""The report's comparison with the best LLM-free baseline, and ω estimated against true."""

import pytest

from hybrid_ner.experiment.result import CellResult
from hybrid_ner.report.field import field_rows, field_table, omega_rows, omega_table


def result(condition, rate, seed, f, model="uniform", budget=1.0, calibration=None):
    annotator = "llm" if condition.startswith("hybrid") else "none"
    if condition.startswith("sim-"):
        annotator = "simulated"
    return CellResult(
        dataset="toy",
        condition=condition,
        annotator=annotator,
        omit_rate=rate,
        budget=budget,
        seed=seed,
        p=f,
        r=f,
        f=f,
        calibration=calibration,
        omission_model=model,
    )


def test_rows_compare_each_hybrid_with_the_stronger_llm_free_baseline():
    cells = [
        result("human-omit", 0.4, 0, 0.30),
        result("human-negsample", 0.4, 0, 0.38),
        result("human-negsample", 0.4, 1, 0.40),
        result("human-silence", 0.4, 0, 0.41),
        result("human-silence", 0.4, 1, 0.43),
        result("hybrid-label-mixing", 0.4, 0, 0.44),
        result("hybrid-label-mixing", 0.4, 1, 0.44),
        result("sim-hybrid-label-mixing", 0.4, 0, 0.50),
        # hard omissions: negative sampling is the stronger one, the hybrid loses
        result("human-negsample", 0.4, 0, 0.36, "hard"),
        result("human-silence", 0.4, 0, 0.33, "hard"),
        result("hybrid-label-mixing", 0.4, 0, 0.35, "hard"),
        # budget: self-training against the budget hybrid
        result("human-budget", 0.0, 0, 0.30, budget=0.1),
        result("human-selftrain", 0.0, 0, 0.33, budget=0.1),
        result("hybrid-budget", 0.0, 0, 0.36, budget=0.1),
        # a setting without LLM-free cells has no row
        result("hybrid-label-mixing", 0.2, 0, 0.5),
    ]
    rows = field_rows(cells)
    assert [(r.model, r.kind, r.value) for r in rows] == [
        ("uniform", "rate", 0.4),
        ("hard", "rate", 0.4),
        ("—", "budget", 0.1),
    ]
    uniform, hard, budget = rows
    assert uniform.best_free[0] == "human-silence" and uniform.best_free[1].mean == 0.42
    assert uniform.margin("hybrid-label-mixing") == pytest.approx(0.02)
    assert uniform.margin("sim-hybrid-label-mixing") == pytest.approx(0.08)
    assert hard.best_free[0] == "human-negsample"
    assert hard.margin("hybrid-label-mixing") == pytest.approx(-0.01)
    assert hard.margin("sim-hybrid-label-mixing") is None
    assert budget.best_free[0] == "human-selftrain"
    assert budget.margin("hybrid-budget") == pytest.approx(0.03)
    table = field_table(rows)
    assert "+0.020" in table and "-0.010" in table and "+0.030" in table
    assert "0.420 ± 0.014 (2)" in table


def test_omega_rows_put_estimates_beside_the_true_rate():
    def cal(density, agreement, used):
        return {
            "omission_estimate": {"rate": density, "low": density - 0.05, "high": density + 0.05},
            "omission_agreement": {"rate": agreement, "low": None, "high": None},
            "omission_rate": used,
        }

    cells = [
        result("hybrid-label-mixing", 0.4, 0, 0.4, calibration=cal(0.41, 0.38, 0.41)),
        result("hybrid-label-mixing", 0.4, 1, 0.4, calibration=cal(0.39, 0.36, 0.39)),
        result("hybrid-label-mixing", 0.4, 0, 0.4, "hard", calibration=cal(0.42, 0.22, 0.42)),
        result("human-omit", 0.4, 0, 0.3),
    ]
    rows = omega_rows(cells)
    assert [(r.model, r.rate, r.annotator) for r in rows] == [
        ("hard", 0.4, "llm"),
        ("uniform", 0.4, "llm"),
    ]
    hard, uniform = rows
    assert uniform.density.mean == pytest.approx(0.40) and uniform.agreement.mean == 0.37
    assert hard.agreement.mean == 0.22
    table = omega_table(rows)
    assert "-0.180" in table and "+0.020" in table
