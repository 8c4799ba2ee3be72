import importlib.util
import json
import statistics
from pathlib import Path

import pytest
import srsly

from hybrid_ner.errors import HybridNerError
from hybrid_ner.experiment.result import CellResult
from hybrid_ner.report.results import (
    Stat,
    aggregate,
    closest_rate,
    incomplete_groups,
    load_cells,
    load_grid,
    omega_rows,
    settings,
    stat_at,
)

from .grid_fixtures import cell, write_cells, write_grid, write_old_cells


@pytest.fixture
def cells(tmp_path):
    write_cells(tmp_path / "wikigold")
    return load_cells(tmp_path / "wikigold" / "cells")


def test_load_cells_reads_every_cell(cells, tmp_path):
    assert len(cells) == 66
    first = next(
        c
        for c in cells
        if c.condition == "hybrid-label-mixing" and c.omit_rate == 0.4 and c.seed == 1
    )
    assert (first.f, first.annotator, first.budget) == (pytest.approx(0.70), "llm", 1.0)
    assert first.per_type["LOC"]["f"] == pytest.approx(0.75) and first.lambdas is None
    assert first.calibration["omission_rate"] == pytest.approx(0.44)
    assert first.calibration["labels"]["PER"]["lr_proposed"] == pytest.approx(181.7)
    lam = next(c for c in cells if c.condition == "hybrid-lambda-mixing")
    assert lam.lambdas == {"LOC": 0.14, "PER": 0.44} and lam.calibration is None
    assert next(c for c in cells if c.condition == "human-omit").cost is None
    assert next(c for c in cells if c.path.stem == "human-budget_r0_b0.1_s0").group == (
        "human-budget",
        "budget",
        0.1,
    )
    assert load_cells(tmp_path / "nowhere") == []


def test_aggregate_mean_sd_n_per_group(cells):
    stats = aggregate(cells)
    omit = stats[("human-omit", "rate", 0.4)]
    assert (omit.mean, omit.n) == (pytest.approx(0.62), 3)
    assert omit.sd == pytest.approx(statistics.stdev([0.60, 0.62, 0.64]))  # n - 1
    mixing = stat_at(stats, "hybrid-label-mixing", 0.4)
    assert mixing.n == 2 and mixing.sd == pytest.approx(0.0282843, abs=1e-6)
    # Rate-independent conditions are one group, valid at every rate.
    assert (
        stat_at(stats, "human-clean", 0.2)
        is stat_at(stats, "human-clean", 0.4)
        is stats[("human-clean", "reference", None)]
    )
    assert stats[("hybrid-budget", "budget", 0.5)].mean == pytest.approx(0.75)
    assert settings(cells, "rate") == [0.2, 0.4, 0.6]
    assert settings(cells, "budget") == [0.1, 0.25, 0.5]
    per = aggregate(cells, lambda c: c.per_type["PER"]["f"])
    assert per[("human-omit", "rate", 0.4)].mean == pytest.approx(0.57)
    single = Stat.of([0.5])
    assert single.sd is None and single.n == 1


def test_closest_rate():
    assert closest_rate([0.2, 0.4, 0.6], 0.4) == 0.4
    assert closest_rate([0.2, 0.5], 0.4) == 0.5
    assert closest_rate([0.3, 0.5], 0.4) == 0.3  # ties go to the lower rate
    assert closest_rate([], 0.4) is None


def test_incomplete_groups_name_missing_seeds_and_conditions(tmp_path):
    write_cells(tmp_path / "wikigold")
    (tmp_path / "wikigold" / "cells" / "hybrid-random_r0.2_b1_s0.json").unlink()
    incomplete, absent, max_n = incomplete_groups(load_cells(tmp_path / "wikigold" / "cells"))
    found = {(key[0], key[2]): (n, missing) for key, n, missing in incomplete}
    assert max_n == 3
    assert found[("hybrid-label-mixing", 0.4)] == (2, [2])
    assert found[("hybrid-random", 0.2)] == (2, [0])
    assert found[("sim-hybrid-budget", 0.5)] == (0, [0, 1, 2])
    assert ("human-omit", 0.4) not in found
    assert absent == [
        "sim-only",
        "sim-hybrid-lambda-mixing",
        "sim-human-budget",
        "human-negsample",
        "human-silence",
        "human-selftrain",
    ]


def test_incomplete_groups_lists_a_rate_with_no_cell(tmp_path):
    cells_dir = tmp_path / "d" / "cells"
    cells_dir.mkdir(parents=True)
    for seed in (0, 1):
        srsly.write_json(cells_dir / f"omit02_{seed}.json", cell("d", "human-omit", 0.2, seed, 0.5))
    srsly.write_json(cells_dir / "random04.json", cell("d", "hybrid-random", 0.4, 0, 0.5))
    incomplete, _, _ = incomplete_groups(load_cells(cells_dir))
    assert {(key[0], key[2], n) for key, n, _ in incomplete} == {
        ("human-omit", 0.4, 0),
        ("hybrid-random", 0.2, 0),
        ("hybrid-random", 0.4, 1),
    }


def test_load_grid_reads_datasets_and_optional_files(tmp_path):
    write_grid(tmp_path / "grid", "wikigold")
    write_grid(tmp_path / "grid", "conll2003", annotators=False, run=False, samples=0)
    (tmp_path / "grid" / "not-a-dataset").mkdir()
    wikigold, conll = sorted(load_grid(tmp_path / "grid"), key=lambda ds: ds.name, reverse=True)
    assert wikigold.annotators["annotators"]["simulated"]["simulated"] is True
    assert wikigold.run["machine"] == "2 CPU cores" and wikigold.evaluated == {}
    assert conll.annotators is None and conll.run is None
    # A dataset folder can be given directly.
    assert [ds.name for ds in load_grid(tmp_path / "grid" / "conll2003")] == ["conll2003"]


VALID = {
    "dataset": "d",
    "condition": "human-omit",
    "annotator": "none",
    "omit_rate": 0.4,
    "budget": 1.0,
    "seed": 0,
    "omission_model": "uniform",
    "scores": {"p": 1, "r": 1, "f": 1},
}
SCORES = {"p": 1, "r": 1, "f": 1}


def _changed(key, value=None):
    data = {k: v for k, v in VALID.items() if k != key}
    return json.dumps(data if value is None else {**data, key: value})


@pytest.mark.parametrize(
    "content,expected",
    [
        (_changed("scores"), 'missing key "scores"'),
        (_changed("omit_rate"), 'missing key "omit_rate"'),
        (_changed("budget"), 'missing key "budget"'),
        (_changed("annotator"), 'missing key "annotator"'),
        (_changed("scores", {"p": 1, "r": 1}), 'missing key "scores.f"'),
        (_changed("omit_rate", "high"), '"omit_rate" must be a number'),
        (_changed("scores", {**SCORES, "per_type": {"LOC": 3}}), '"scores.per_type.LOC" must be'),
        (_changed("calibration", 3), '"calibration" must be an object'),
        (_changed("calibration", {"labels": []}), '"calibration.labels" must be an object'),
        (_changed("condition", "hybrid-soft-vote"), '"condition" must be one of human-clean'),
        (_changed("omission_model"), '"omission_model" must be one of uniform, hard, got None'),
        ("[1, 2]", "expected a JSON object"),
        ('{"dataset": "d", ', "not valid JSON"),
    ],
)
def test_malformed_cell_names_file_and_problem(tmp_path, content, expected):
    cells_dir = tmp_path / "d" / "cells"
    cells_dir.mkdir(parents=True)
    (cells_dir / "bad.json").write_text(content, encoding="utf-8")
    with pytest.raises(HybridNerError) as err:
        load_grid(tmp_path)
    assert str(cells_dir / "bad.json") in str(err.value) and expected in str(err.value)


def test_missing_or_empty_grid_is_a_clear_error(tmp_path):
    with pytest.raises(HybridNerError, match="grid directory not found"):
        load_grid(tmp_path / "missing")
    with pytest.raises(HybridNerError, match="no results found"):
        load_grid(tmp_path)


def test_human_omit_at_zero_omissions_is_the_clean_upper_bound():
    from hybrid_ner.report.results import Stat, stat_at

    clean = Stat.of([0.5, 0.7])
    stats = {("human-clean", "reference", None): clean}
    assert stat_at(stats, "human-omit", 0.0) is clean
    assert stat_at(stats, "human-omit", 0.4) is None
    assert stat_at(stats, "hybrid-random", 0.0) is None


def test_human_omit_at_zero_is_not_reported_missing(tmp_path):
    def cell(condition, rate, seed):
        return CellResult.from_json(
            tmp_path / f"{condition}{rate}{seed}.json",
            {
                "dataset": "d",
                "condition": condition,
                "annotator": "none",
                "omit_rate": rate,
                "budget": 1.0,
                "seed": seed,
                "omission_model": "uniform",
                "scores": {"p": 0.5, "r": 0.5, "f": 0.5, "per_type": {}},
            },
        )

    cells = [cell("human-clean", 0.0, s) for s in (0, 1)] + [
        cell("human-omit", 0.4, s) for s in (0, 1)
    ]
    cells += [cell("hybrid-random", r, s) for r in (0.0, 0.4) for s in (0, 1)]
    incomplete, _, _ = incomplete_groups(cells)
    assert incomplete == []


def test_old_cells_are_refused_until_migrated(tmp_path):
    write_cells(tmp_path / "wikigold")
    write_old_cells(tmp_path / "wikigold")
    with pytest.raises(HybridNerError, match='missing key "annotator"'):
        load_cells(tmp_path / "wikigold" / "cells")
    script = Path(__file__).resolve().parents[2] / "scripts" / "migrate_cells.py"
    spec = importlib.util.spec_from_file_location("migrate_cells", script)
    migrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migrate)
    migrate.main([tmp_path], dry_run=False)
    cells = load_cells(tmp_path / "wikigold" / "cells")
    assert len(cells) == 66 + 1  # the old human-omit cell, with what older grids left out
    old = next(c for c in cells if c.name == "human-omit_r0.4_b1_s3")
    assert (old.omission_model, old.budget, old.annotator) == ("uniform", 1.0, "none")
    # Another method under a current name, and a condition the grid lost: kept apart.
    moved = sorted(p.name for p in (tmp_path / "wikigold" / "cells-old").iterdir())
    assert moved == ["hybrid-label-mixing_r0.4_b1_s2.json", "hybrid-soft-vote_r0.4_b1_s0.json"]
    # Current cells are left byte for byte.
    path = tmp_path / "wikigold" / "cells" / "human-omit_r0.2_b1_s0.json"
    before = path.read_bytes()
    migrate.main([tmp_path], dry_run=False)
    assert path.read_bytes() == before


def test_omega_rows_put_estimates_beside_the_true_rate():
    def result(seed, density, agreement, used, model="uniform"):
        calibration = {
            "omission_estimate": {"rate": density, "low": density - 0.05},
            "omission_agreement": {"rate": agreement, "low": None},
            "omission_rate": used,
        }
        return CellResult(
            dataset="toy",
            condition="hybrid-label-mixing",
            annotator="llm",
            omit_rate=0.4,
            budget=1.0,
            seed=seed,
            p=0.4,
            r=0.4,
            f=0.4,
            calibration=calibration,
            omission_model=model,
        )

    cells = [
        result(0, 0.42, 0.22, 0.42, "hard"),
        result(0, 0.41, 0.38, 0.41),
        result(1, 0.39, 0.36, float("nan")),  # NaN: not estimated
    ]
    (uniform, found), (hard, _) = omega_rows(cells)
    assert uniform == ("uniform", "hybrid-label-mixing", 1.0, 0.4) and hard[0] == "hard"
    assert found["density"].mean == pytest.approx(0.40) and found["agreement"].n == 2
    assert found["used"] == Stat(0.41, None, 1)
