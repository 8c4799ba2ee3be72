"""hybrid-ner select: the ranking, the chosen documents as DocBin and JSONL, one-line errors."""

import json

import pytest
import spacy

from hybrid_ner.corpus import read_docbin, write_docbin

from ..cli_runner import run_cli
from ..doc_builders import make_doc
from ..merge.test_selection import calibration_file  # noqa: F401  (fixture)

VOCAB = spacy.blank("en").vocab
WORDS = "Cleo and Dan saw a big parade".split()


@pytest.fixture
def proposals(tmp_path):
    docs = [
        make_doc(VOCAB, "we ate soup and then walked home".split(), doc_id=f"s{i}")
        for i in range(3)
    ]
    docs += [
        make_doc(VOCAB, WORDS, llm=[(0, 1, "PER"), (2, 3, "PER")], doc_id="sure"),
        make_doc(VOCAB, WORDS, llm=[(5, 7, "MISC"), (6, 7, "PER")], doc_id="unsure"),
        make_doc(VOCAB, WORDS[:4], llm=[(0, 1, "MISC")], doc_id="unsure"),
    ]
    path = tmp_path / "train_llm.spacy"
    write_docbin(path, docs)
    return path


def read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def test_select_writes_ranking_and_chosen_documents(capsys, tmp_path, proposals, calibration_file):  # noqa: F811
    out = tmp_path / "ranking.jsonl"
    args = ("select", proposals, out, "--budget", "0.2", "--calibration", calibration_file)
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    ranking = read_lines(out)
    assert [line["rank"] for line in ranking] == [1, 2, 3, 4, 5]
    assert ranking[0]["doc_id"] == "unsure" and "expected token errors" in ranking[0]["why"]
    assert sorted(line["doc_id"] for line in ranking) == ["s0", "s1", "s2", "sure", "unsure"]
    chosen = read_docbin(tmp_path / "ranking.selected.spacy", VOCAB)
    assert [doc.text for doc in chosen] == [" ".join(WORDS) + " ", " ".join(WORDS[:4]) + " "]
    records = read_lines(tmp_path / "ranking.selected.jsonl")
    assert [r["meta"]["doc_id"] for r in records] == ["unsure", "unsure"]
    assert records[0]["meta"]["score"] == ranking[0]["score"]
    for record, doc in zip(records, chosen):
        spans = [(s["token_start"], s["token_end"] + 1, s["label"]) for s in record["spans"]]
        assert spans == [(s.start, s.end, s.label_) for s in doc.spans["llm"]]
        assert [t["text"] for t in record["tokens"]] == [t.text for t in doc]


def test_random_select_without_budget_writes_only_the_ranking(capsys, tmp_path, proposals):
    out = tmp_path / "ranking.jsonl"
    code, _, err = run_cli(capsys, "select", proposals, out, "--strategy", "random", "--seed", "3")
    assert code == 0, err
    assert len(read_lines(out)) == 5 and all(line["score"] == 0 for line in read_lines(out))
    assert not (tmp_path / "ranking.selected.spacy").exists()


@pytest.mark.parametrize(
    "extra,expected",
    [
        (["--budget", "0"], "--budget must be in (0, 1], got 0.0"),
        (["--budget", "1.5", "--strategy", "random"], "--budget must be in (0, 1], got 1.5"),
        ([], "--strategy uncertainty needs --calibration"),
        (["--strategy", "best"], "Unknown --strategy 'best'"),
        (
            ["--spans-key", "other", "--strategy", "random"],
            "6 of 6 Docs have no doc.spans['other']",
        ),
        (["--calibration", "missing.spacy"], "missing.spacy"),
    ],
)
def test_select_bad_input_is_one_line(capsys, tmp_path, proposals, extra, expected):
    code, _, err = run_cli(capsys, "select", proposals, tmp_path / "r.jsonl", *extra)
    assert code == 1 and expected in err and len(err.strip().splitlines()) == 1


def test_select_missing_input_names_it(capsys, tmp_path):
    code, _, err = run_cli(
        capsys, "select", tmp_path / "nope.spacy", tmp_path / "r.jsonl", "--strategy", "random"
    )
    assert code == 1 and "nope.spacy" in err and "file not found" in err
