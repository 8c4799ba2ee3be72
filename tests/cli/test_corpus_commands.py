import subprocess
import sys

import pytest
import spacy

from hybrid_ner.cli import main
from hybrid_ner.corpus import read_docbin
from hybrid_ner.layers import OMITTED_KEY


def run_cli(*args):
    """Run the CLI in-process; return its exit code."""
    try:
        main([str(a) for a in args])
    except SystemExit as err:
        return err.code or 0
    return 0


@pytest.fixture
def conll_file(write_file):
    text = ""
    for d in range(6):
        text += "-DOCSTART- O\n\n"
        for s in range(3):
            text += f"Doc{d} B-ORG\nsays O\nhello O\nto O\nAda B-PER\nLovelace I-PER\n\n"
    return write_file("corpus.iob", text)


def test_convert_split_noise_budget(tmp_path, conll_file, capsys):
    vocab = spacy.blank("en").vocab
    all_path = tmp_path / "all.spacy"
    assert run_cli("convert", conll_file, all_path) == 0
    assert len(read_docbin(all_path, vocab)) == 18
    assert run_cli("split", all_path, tmp_path, "--seed", 1) == 0
    parts = {n: read_docbin(tmp_path / f"{n}.spacy", vocab) for n in ("train", "dev", "test")}
    assert sum(len(p) for p in parts.values()) == 18 and all(parts.values())
    noisy = tmp_path / "noisy.spacy"
    assert (
        run_cli("noise", all_path, noisy, "--omit-rate", 0.5, "--seed", 3, "--label-rate", "ORG=1")
        == 0
    )
    docs = read_docbin(noisy, vocab)
    assert not any(e.label_ == "ORG" for d in docs for e in d.ents)
    assert all(any(s.label_ == "ORG" for s in d.spans[OMITTED_KEY]) for d in docs)
    budget = tmp_path / "budget.spacy"
    assert run_cli("budget", all_path, budget, "--fraction", 0.5, "--seed", 0) == 0
    flags = [d.user_data["human_annotated"] for d in read_docbin(budget, vocab)]
    assert flags.count(True) == 9


def test_convert_to_jsonl_and_back(tmp_path, conll_file):
    jsonl = tmp_path / "c.jsonl"
    assert run_cli("convert", conll_file, jsonl) == 0
    back = tmp_path / "back.spacy"
    assert run_cli("convert", jsonl, back) == 0
    docs = read_docbin(back, spacy.blank("en").vocab)
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Doc0", "ORG"), ("Ada Lovelace", "PER")]


def test_bad_input_is_one_clear_line_not_a_traceback(tmp_path, write_file):
    bad = write_file("bad.iob", "a O\nb B-PER extra\n")
    result = subprocess.run(
        [sys.executable, "-m", "hybrid_ner", "convert", str(bad), str(tmp_path / "x.spacy")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert f"{bad}:2: ragged columns" in output
    assert "Traceback" not in output
    assert not (tmp_path / "x.spacy").exists()


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["noise", "IN", "OUT", "--omit-rate", "0.4", "--label-rate", "PER"], "LABEL=RATE"),
        (["noise", "IN", "OUT", "--omit-rate", "1.5"], "must be in [0, 1]"),
        (["budget", "IN", "OUT", "--fraction", "2"], "must be in [0, 1]"),
    ],
)
def test_bad_options(tmp_path, conll_file, capsys, args, fragment):
    all_path = tmp_path / "all.spacy"
    run_cli("convert", conll_file, all_path)
    args = [
        str(all_path) if a == "IN" else str(tmp_path / "o.spacy") if a == "OUT" else a for a in args
    ]
    assert run_cli(*args) == 1
    assert fragment in capsys.readouterr().err


@pytest.mark.parametrize("command", ["convert", "split", "noise", "budget"])
def test_help_on_every_command(command, capsys):
    assert run_cli(command, "--help") == 0
    assert "Usage" in capsys.readouterr().out


def test_noise_hard_omission_model_keeps_the_rate_and_refuses_unknown_models(tmp_path, capsys):
    from ..conftest import WIKIGOLD

    gold = tmp_path / "gold.spacy"
    assert run_cli("convert", WIKIGOLD, gold) == 0
    hard = tmp_path / "hard.spacy"
    assert run_cli("noise", gold, hard, "--omit-rate", 0.4, "--omission-model", "hard") == 0
    vocab = spacy.blank("en").vocab
    n_gold = sum(len(d.ents) for d in read_docbin(gold, vocab))
    omitted = sum(len(d.spans[OMITTED_KEY]) for d in read_docbin(hard, vocab))
    assert 0.37 < omitted / n_gold < 0.43
    capsys.readouterr()
    code = run_cli("noise", gold, tmp_path / "x.spacy", "--omit-rate", 0.4, "--omission-model", "x")
    assert code != 0 and "--omission-model 'x'" in capsys.readouterr().err
