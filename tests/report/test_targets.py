import pytest

from hybrid_ner.report.results import Stat
from hybrid_ner.report.targets import MET, NO_DATA, NOT_MET, evaluate_targets, recovered_gap


def stats(**means):
    """F1 stats at 40% omissions; rate-independent conditions as references."""
    out = {}
    for name, values in means.items():
        condition = name.replace("_", "-")
        key = (condition, "reference", None) if condition == "human-clean" else (condition, "rate", 0.4)
        out[key] = Stat.of(values)
    return out


def test_all_targets_met():
    targets = evaluate_targets(stats(human_clean=[0.8, 0.84], human_omit=[0.6, 0.62], hybrid_random=[0.63, 0.65], hybrid_label_mixing=[0.70, 0.72], sim_hybrid_label_mixing=[0.74, 0.76]), 0.4)
    assert [t.status for t in targets] == [MET, MET, MET]
    assert "difference +0.100" in targets[0].detail and "overlap: no" in targets[0].detail
    assert "0.67 of the gap 0.610 → 0.820" in targets[2].detail  # (0.75 - 0.61) / (0.82 - 0.61)


def test_targets_not_met_and_spread_overlap():
    targets = evaluate_targets(stats(human_clean=[0.8], human_omit=[0.6, 0.7], hybrid_random=[0.66, 0.70], hybrid_label_mixing=[0.62, 0.64], sim_hybrid_label_mixing=[0.68]), 0.4)
    assert [t.status for t in targets] == [NOT_MET, NOT_MET, NOT_MET]
    assert "difference -0.020" in targets[0].detail and "overlap: yes" in targets[0].detail
    assert "difference -0.050" in targets[1].detail
    assert recovered_gap(stats(human_clean=[0.8], human_omit=[0.6, 0.7], sim_hybrid_label_mixing=[0.68]), "sim-hybrid-label-mixing", 0.4) == pytest.approx(0.2)


def test_targets_without_data():
    targets = evaluate_targets(stats(human_omit=[0.6], hybrid_label_mixing=[0.7]), 0.4)
    assert [t.status for t in targets] == [MET, NO_DATA, NO_DATA]
    assert "no cells for hybrid-random" in targets[1].detail
    assert "human-clean" in targets[2].detail
    assert all(t.status == NO_DATA for t in evaluate_targets({}, None))
    # No gap between clean and omitted: nothing to recover.
    flat = evaluate_targets(stats(human_clean=[0.6], human_omit=[0.6], sim_hybrid_label_mixing=[0.7]), 0.4)[2]
    assert flat.status == NO_DATA and "no gap" in flat.detail
