import pytest
import srsly

from hybrid_ner.errors import HybridNerError
from hybrid_ner.evaluation import read_entity_scores, score_rows


def test_scores_table(tmp_path):
    a = tmp_path / "clean.json"
    srsly.write_json(
        a,
        {
            "ents_p": 0.8,
            "ents_r": 0.6,
            "ents_f": 0.6857,
            "ents_per_type": {"PER": {"p": 0.9, "r": 0.8, "f": 0.847}},
        },
    )
    b = tmp_path / "noisy.json"
    srsly.write_json(
        b,
        {
            "ents_p": 0.7,
            "ents_r": 0.3,
            "ents_f": 0.42,
            "ents_per_type": {"LOC": {"p": 0.5, "r": 0.2, "f": 0.286}},
        },
    )
    assert read_entity_scores(a)["PER"]["f"] == 0.847
    header, rows = score_rows([a, b])
    assert header == ["run", "ALL", "LOC", "PER"]
    assert rows[0] == ["clean", "0.686 (0.80/0.60)", "-", "0.847 (0.90/0.80)"]
    assert rows[1][2] == "0.286 (0.50/0.20)"


def test_not_a_metrics_file(tmp_path):
    path = tmp_path / "x.json"
    srsly.write_json(path, {"token_acc": 1.0})
    with pytest.raises(HybridNerError, match="no entity scores"):
        read_entity_scores(path)
    with pytest.raises(HybridNerError, match="cannot read metrics"):
        read_entity_scores(tmp_path / "missing.json")
