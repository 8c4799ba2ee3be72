"""scripts/check_targets.py: the acceptance targets of our issues, checked on a grid."""

import importlib.util
from pathlib import Path

import pytest

from hybrid_ner.report.results import Stat, aggregate, load_cells

from .grid_fixtures import write_cells, write_grid

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_targets.py"
_spec = importlib.util.spec_from_file_location("check_targets", SCRIPT)
targets_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(targets_script)
MET, NOT_MET, NO_DATA = targets_script.MET, targets_script.NOT_MET, targets_script.NO_DATA
DO_NO_HARM = targets_script.DO_NO_HARM
MIXING_BEATS_RANDOM = targets_script.MIXING_BEATS_RANDOM
SIMULATED_GPT35 = targets_script.SIMULATED_GPT35
TARGETS, TargetSpec = targets_script.TARGETS, targets_script.TargetSpec
check_target, evaluate_targets = targets_script.check_target, targets_script.evaluate_targets
summary = targets_script.summary


def stats(rate=0.4, budget=None, **means):
    """F1 stats at one omission rate (or budget); human-clean as the reference."""
    out = {}
    for name, values in means.items():
        condition = name.replace("_", "-")
        if condition == "human-clean":
            key = (condition, "reference", None)
        elif budget is not None:
            key = (condition, "budget", budget)
        else:
            key = (condition, "rate", rate)
        out[key] = Stat.of(values)
    return out


def by_check(targets):
    return {t.question: t for t in targets}


def test_target_specs_are_the_projects():
    checks = [t.question for t in evaluate_targets({})]
    assert len(checks) == len(set(checks)) == 3 + 3 + 3 + 3 + 1 + 1 + 2 + 2
    assert "hybrid-label-mixing ≥ human-omit − 0.005 at 20% omissions" in checks
    assert "sim-hybrid-budget ≥ human-budget − 0.005 at budget 50%" in checks
    assert "sim-hybrid-label-mixing > sim-hybrid-random at 40% omissions" in checks
    assert "sim-hybrid-label-mixing ≥ human-omit + 0.03 at 60% omissions" in checks
    assert "sim-hybrid-budget > human-budget at budget 25%" in checks
    assert {spec.group for spec in TARGETS} == {DO_NO_HARM, MIXING_BEATS_RANDOM, SIMULATED_GPT35}
    # The old targets are gone.
    assert not any("recovered gap" in check or "human-clean" in check for check in checks)


def test_do_no_harm_tolerance_is_inclusive():
    spec = TargetSpec(DO_NO_HARM, "hybrid-label-mixing", "human-omit", "rate", (0.4,), -0.005)
    exact = check_target(
        stats(human_omit=[0.60, 0.62], hybrid_label_mixing=[0.605, 0.605]), spec, 0.4
    )
    assert exact.status == MET and "difference -0.005 (needed ≥ -0.005)" in exact.detail
    below = check_target(
        stats(human_omit=[0.60, 0.62], hybrid_label_mixing=[0.60, 0.609]), spec, 0.4
    )
    # Three digits would read -0.005: one more digit shows why it is not met.
    assert below.status == NOT_MET and "difference -0.0055 (needed ≥ -0.005)" in below.detail
    assert (
        "hybrid-label-mixing 0.605 ± 0.006 (n=2) vs human-omit 0.610 ± 0.014 (n=2)" in below.detail
    )
    assert "overlap: yes" in below.detail
    assert exact.group == DO_NO_HARM


def test_strict_target_needs_a_positive_difference():
    spec = TargetSpec(
        MIXING_BEATS_RANDOM, "hybrid-label-mixing", "hybrid-random", "rate", (0.4,), strict=True
    )
    tie = check_target(stats(hybrid_random=[0.66], hybrid_label_mixing=[0.66]), spec, 0.4)
    assert tie.status == NOT_MET and "(needed > +0.000)" in tie.detail
    better = check_target(
        stats(hybrid_random=[0.66, 0.67], hybrid_label_mixing=[0.70, 0.72]), spec, 0.4
    )
    assert (
        better.status == MET
        and "difference +0.045" in better.detail
        and "overlap: no" in better.detail
    )


def test_margin_target_at_a_budget():
    spec = TargetSpec(SIMULATED_GPT35, "sim-hybrid-budget", "human-budget", "budget", (0.1,), 0.03)
    assert spec.check() == "sim-hybrid-budget ≥ human-budget + 0.03"
    met = check_target(stats(budget=0.1, human_budget=[0.40], sim_hybrid_budget=[0.43]), spec, 0.1)
    assert met.status == MET and met.question.endswith("at budget 10%")
    not_met = check_target(
        stats(budget=0.1, human_budget=[0.40], sim_hybrid_budget=[0.42]), spec, 0.1
    )
    assert not_met.status == NOT_MET and "difference +0.020 (needed ≥ +0.030)" in not_met.detail


def test_no_data_names_the_missing_conditions():
    spec = TargetSpec(DO_NO_HARM, "hybrid-budget", "human-budget", "budget", (0.25,), -0.005)
    missing = check_target(stats(budget=0.1, human_budget=[0.4], hybrid_budget=[0.5]), spec, 0.25)
    assert (
        missing.status == NO_DATA
        and missing.detail == "no cells for hybrid-budget, human-budget at budget 25%"
    )
    one = check_target(stats(budget=0.25, human_budget=[0.4]), spec, 0.25)
    assert one.detail == "no cells for hybrid-budget at budget 25%"
    assert all(t.status == NO_DATA for t in evaluate_targets({}))
    # human-omit at 0% omissions is the clean gold.
    zero = TargetSpec(DO_NO_HARM, "hybrid-label-mixing", "human-omit", "rate", (0.0,), -0.005)
    assert (
        check_target(
            stats(rate=0.0, human_clean=[0.8], hybrid_label_mixing=[0.797]), zero, 0.0
        ).status
        == MET
    )


def test_every_target_on_the_fixture_grid(tmp_path):
    write_cells(tmp_path / "wikigold")
    targets = evaluate_targets(aggregate(load_cells(tmp_path / "wikigold" / "cells")))
    found = {t.question: t.status for t in targets}
    assert found == {
        "hybrid-label-mixing ≥ human-omit − 0.005 at 20% omissions": MET,
        "hybrid-label-mixing ≥ human-omit − 0.005 at 40% omissions": MET,
        "hybrid-label-mixing ≥ human-omit − 0.005 at 60% omissions": NOT_MET,
        "sim-hybrid-label-mixing ≥ human-omit − 0.005 at 20% omissions": MET,
        "sim-hybrid-label-mixing ≥ human-omit − 0.005 at 40% omissions": MET,
        "sim-hybrid-label-mixing ≥ human-omit − 0.005 at 60% omissions": NO_DATA,
        "hybrid-budget ≥ human-budget − 0.005 at budget 10%": MET,
        "hybrid-budget ≥ human-budget − 0.005 at budget 25%": MET,
        "hybrid-budget ≥ human-budget − 0.005 at budget 50%": MET,
        "sim-hybrid-budget ≥ human-budget − 0.005 at budget 10%": MET,
        "sim-hybrid-budget ≥ human-budget − 0.005 at budget 25%": NOT_MET,
        "sim-hybrid-budget ≥ human-budget − 0.005 at budget 50%": NO_DATA,
        "hybrid-label-mixing > hybrid-random at 40% omissions": MET,
        "sim-hybrid-label-mixing > sim-hybrid-random at 40% omissions": MET,
        "sim-hybrid-label-mixing ≥ human-omit + 0.03 at 40% omissions": MET,
        "sim-hybrid-label-mixing ≥ human-omit + 0.03 at 60% omissions": NO_DATA,
        "sim-hybrid-budget > human-budget at budget 10%": MET,
        "sim-hybrid-budget > human-budget at budget 25%": NOT_MET,
    }
    detail = by_check(targets)["hybrid-label-mixing ≥ human-omit − 0.005 at 40% omissions"].detail
    assert detail == (
        "hybrid-label-mixing 0.680 ± 0.028 (n=2) vs human-omit 0.620 ± 0.020 (n=3): "
        "difference +0.060 (needed ≥ -0.005); seed spreads (mean ± sd) overlap: no"
    )
    assert summary(targets) == "12 of 18 checks met, 3 not met, 3 without data."


def test_targets_are_data_driven():
    specs = [TargetSpec("Custom", "a", "b", "rate", (0.2, 0.4), 0.01)]
    targets = evaluate_targets(stats(rate=0.2, a=[0.7], b=[0.6]), specs)
    assert [(t.group, t.status) for t in targets] == [("Custom", MET), ("Custom", NO_DATA)]
    assert pytest.approx(0.01) == specs[0].margin


def test_the_script_prints_one_table_per_dataset(tmp_path):
    write_grid(tmp_path / "grid", "wikigold", samples=0)
    text = targets_script.targets_markdown(str(tmp_path / "grid"))
    assert text.startswith(
        "## Targets: wikigold\n\n12 of 18 checks met, 3 not met, 3 without data."
    )
    assert (
        "| Simulated GPT-3.5-class annotator | sim-hybrid-label-mixing ≥ human-omit + 0.03 at 40% "
        "omissions | **met** |" in text
    )
