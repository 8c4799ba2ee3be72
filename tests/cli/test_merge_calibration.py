"""stats --calibration: calibrated precision, recall, likelihood ratios and the
omission rate from a clean sample, the biased fallback without one, and one-line
errors."""

import json

import pytest
import spacy

from hybrid_ner.cli import main
from hybrid_ner.corpus import write_docbin

from ..doc_builders import make_doc
from .test_merge_commands import WORDS

# Calibration sample (clean gold): PER found twice, LOC once right (Rome), once wrong
# (Acme), Oslo missed.
CALIBRATION_DOC = dict(
    human=[(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (8, 9, "LOC")],
    llm=[(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (6, 7, "LOC")],
)
# Training Doc: the human omitted Bob (PER) and Oslo (LOC); the annotator proposed all
# four and an ORG
# the calibration sample never shows (no precision, so it does not count for the omission rate).
TRAINING_DOC = dict(
    human=[(0, 1, "PER"), (4, 5, "LOC")],
    llm=[(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (8, 9, "LOC"), (6, 7, "ORG")],
)


def read_calibration(path):
    """The "calibration" of a --json file, its floats parsed exactly (json, not ujson)."""
    return json.loads(path.read_text(encoding="utf-8"))["calibration"]


def smoothed(n_obs_true, n_obs, n_true, n_tokens, strength=50):
    """P(obs | true) as hybrid_ner.merge.calibration.estimate smooths it."""
    return (n_obs_true + strength * n_obs / n_tokens) / (n_true + strength)


@pytest.fixture
def calibration_files(tmp_path):
    vocab = spacy.blank("en").vocab
    calibration = tmp_path / "dev_llm.spacy"
    write_docbin(calibration, [make_doc(vocab, WORDS, **CALIBRATION_DOC) for _ in range(5)])
    train = tmp_path / "train_llm.spacy"
    docs = [make_doc(vocab, WORDS, **TRAINING_DOC) for _ in range(7)]
    docs.append(
        make_doc(vocab, WORDS, llm=[(2, 3, "PER")], annotated=False)
    )  # skipped: no human annotation
    write_docbin(train, docs)
    return train, calibration


def expected_calibrated():
    """By hand, 5 copies of the calibration Doc (50 tokens). Observations × true label:
    PER: {PER: 10}; LOC: {LOC: 5, O: 5}; silence: {O: 25, LOC: 5}.
    True totals: PER 10, LOC 10, O 30."""
    silence_outside = smoothed(25, 30, 30, 50)  # (25 + 30) / 80
    return {
        # P = 10/10, R = 10/10; LR proposed = ((10 + 10) / 60) / ((0 + 10) / 80) = 2.67;
        # LR silence = ((0 + 30) / 60) / (55 / 80) = 0.727.
        "PER": {
            "precision": 1.0,
            "recall": 1.0,
            "proposed": 10,
            "gold": 10,
            "lr_proposed": round((20 / 60) / (10 / 80), 2),
            "lr_silence": round((30 / 60) / silence_outside, 3),
        },
        # P = 5/10, R = 5/10; LR proposed = ((5 + 10) / 60) / ((5 + 10) / 80) = 1.33;
        # LR silence = ((5 + 30) / 60) / (55 / 80) = 0.848.
        "LOC": {
            "precision": 0.5,
            "recall": 0.5,
            "proposed": 10,
            "gold": 10,
            "lr_proposed": round((15 / 60) / (15 / 80), 2),
            "lr_silence": round((35 / 60) / silence_outside, 3),
        },
    }


def test_stats_shows_the_calibration_from_a_clean_sample(calibration_files, tmp_path, capsys):
    train, calibration = calibration_files
    main(
        [
            "stats",
            str(train),
            "--calibration",
            str(calibration),
            "--json",
            str(tmp_path / "stats.json"),
        ]
    )
    out = " ".join(capsys.readouterr().out.split())
    cal = read_calibration(tmp_path / "stats.json")
    assert expected_calibrated() == {
        "PER": {
            "precision": 1.0,
            "recall": 1.0,
            "proposed": 10,
            "gold": 10,
            "lr_proposed": 2.67,
            "lr_silence": 0.727,
        },
        "LOC": {
            "precision": 0.5,
            "recall": 0.5,
            "proposed": 10,
            "gold": 10,
            "lr_proposed": 1.33,
            "lr_silence": 0.848,
        },
    }
    assert cal["labels"] == expected_calibrated()
    assert (cal["source"], cal["biased"], cal["tokens"], cal["position_match"]) == (
        str(calibration),
        False,
        50,
        1.0,
    )
    # Per training Doc: expected correct proposals 2 × P(PER) 1.0 + 2 × P(LOC) 0.5 = 3, of
    # which the human agrees with 2 (Ann, Rome); over 7 Docs 1 − 14 / 21 = 1/3 (the ORG and
    # the unannotated Doc do not count).
    assert cal["omission_rate"] == round(1 - 14 / 21, 4) == 0.3333
    # Every training Doc alike: the bootstrap interval collapses onto the estimate.
    assert cal["omission_source"] == (
        "estimated from agreement: 0.33 (90% interval 0.33-0.33; "
        "14 of 21 expected correct proposals agree with the human)"
    )
    assert (
        "biased" not in out.lower()
        and f"from {calibration}: 50 tokens, position match 1.000" in out
    )
    assert "PER P 1.000 R 1.000 proposed 10 gold 10 LR+ 2.67 LR silence 0.727" in out
    assert "LOC P 0.500 R 0.500 proposed 10 gold 10 LR+ 1.33 LR silence 0.848" in out
    assert "omission rate 0.333 (estimated from agreement: 0.33" in out


def test_stats_on_a_merged_file_calibrates_against_the_human_layer(
    calibration_files, tmp_path, capsys
):
    train, calibration = calibration_files
    merged = tmp_path / "merged.spacy"
    # Nothing added and uncovered tokens missing: doc.ents alone would hide Bob and Oslo's
    # proposals.
    main(
        [
            "merge",
            str(train),
            str(merged),
            "--accept",
            "labels",
            "--labels",
            "ORG",
            "--uncovered",
            "missing",
        ]
    )
    for path in (train, merged):
        main(["stats", str(path), "--json", str(tmp_path / f"{path.stem}.json")])
        main(
            [
                "stats",
                str(path),
                "--calibration",
                str(calibration),
                "--json",
                str(tmp_path / f"{path.stem}_cal.json"),
            ]
        )
    capsys.readouterr()
    assert read_calibration(tmp_path / "merged_cal.json") == read_calibration(
        tmp_path / "train_llm_cal.json"
    )
    assert read_calibration(tmp_path / "merged_cal.json")["omission_rate"] == 0.3333
    assert read_calibration(tmp_path / "merged_cal.json")["labels"] == expected_calibrated()
    # The biased fallback too: 70 tokens, P 7/14 and R 7/7 per label, as on the unmerged file.
    biased = read_calibration(tmp_path / "merged.json")
    assert biased == read_calibration(tmp_path / "train_llm.json")
    assert biased["tokens"] == 70 and biased["labels"]["PER"]["recall"] == 1.0


def test_stats_without_calibration_shows_the_biased_fallback(calibration_files, tmp_path, capsys):
    train, _ = calibration_files
    main(["stats", str(train), "--json", str(tmp_path / "stats.json")])
    out = " ".join(capsys.readouterr().out.split())
    assert "(BIASED: measured against the incomplete human annotation; give the dev set" in out
    cal = read_calibration(tmp_path / "stats.json")
    assert (cal["source"], cal["biased"], cal["tokens"]) == (
        "agreement with the human annotation",
        True,
        70,
    )
    # Against the human (7 annotated Docs, 70 tokens): PER: {PER: 7, O: 7}; LOC: {LOC: 7, O: 7};
    # ORG: {O: 7}; silence: {O: 35}. True totals: PER 7, LOC 7, O 56. Each label: P 7/14, R 7/7.
    lr_proposed = round(
        smoothed(7, 14, 7, 70) / smoothed(7, 14, 56, 70), 2
    )  # (17 / 57) / (17 / 106)
    lr_silence = round(
        smoothed(0, 35, 7, 70) / smoothed(35, 35, 56, 70), 3
    )  # (25 / 57) / (60 / 106)
    assert (lr_proposed, lr_silence) == (1.86, 0.775)
    for label in ("PER", "LOC"):
        assert cal["labels"][label] == {
            "precision": 0.5,
            "recall": 1.0,
            "proposed": 14,
            "gold": 7,
            "lr_proposed": lr_proposed,
            "lr_silence": lr_silence,
        }
        assert f"{label} P 0.500 R 1.000 proposed 14 gold 7 LR+ 1.86 LR silence 0.775" in out
    # ORG: never right against the human, no gold;
    # LR proposed = ((0 + 5) / 50) / ((7 + 5) / 106) = 0.88,
    # LR silence = ((0 + 25) / 50) / (60 / 106) = 0.883.
    assert (
        round(smoothed(0, 7, 0, 70) / smoothed(7, 7, 56, 70), 2),
        round(smoothed(0, 35, 0, 70) / smoothed(35, 35, 56, 70), 3),
    ) == (0.88, 0.883)
    assert cal["labels"]["ORG"] == {
        "precision": 0.0,
        "recall": 0.0,
        "proposed": 7,
        "gold": 0,
        "lr_proposed": 0.88,
        "lr_silence": 0.883,
    }
    assert "ORG P 0.000 R 0.000 proposed 7 gold 0 LR+ 0.88 LR silence 0.883" in out
    # A biased calibration cannot identify the omission rate: the default, human silence trusted.
    assert (cal["omission_rate"], cal["omission_source"]) == (
        0.0,
        "default: no calibration sample with complete gold to estimate it from",
    )
    assert (
        "omission rate 0.000 (default: no calibration sample with complete gold to estimate "
        "it from)" in out
    )


def test_stats_calibration_errors_are_one_clear_line(calibration_files, tmp_path, capsys):
    train, calibration = calibration_files
    no_proposals = tmp_path / "dev_gold.spacy"
    write_docbin(no_proposals, [make_doc(spacy.blank("en").vocab, WORDS, **CALIBRATION_DOC)])
    for argv in (
        ["stats", str(train), "--calibration", str(tmp_path / "missing_dev.spacy")],
        ["stats", str(train), "--calibration", str(no_proposals), "--llm-key", "gpt"],
        ["stats", str(train), "--calibration", str(calibration), "--json", str(calibration)],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    assert "missing_dev.spacy: calibration file not found" in lines[0]
    assert "1 of 1 calibration Docs have no doc.spans['gpt']" in lines[1]
    assert "--json is the input" in lines[2] and calibration.read_bytes()  # left as it was
