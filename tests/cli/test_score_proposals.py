"""``hybrid-ner score-proposals``: proposals against gold, per label and micro."""

import pytest
import spacy
import srsly

from hybrid_ner.corpus import write_docbin

from ..cli_runner import run_cli
from ..doc_builders import make_doc

WORDS = "Ann met Bob in Rome and Acme in Oslo .".split()


def run(capsys, *argv):
    return run_cli(capsys, *argv)


@pytest.fixture
def files(tmp_path):
    vocab = spacy.blank("en").vocab
    gold = [
        make_doc(
            vocab,
            WORDS,
            human=[(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (6, 7, "ORG"), (8, 9, "LOC")],
        ),
        make_doc(vocab, WORDS[:5], human=[(0, 1, "PER")]),
    ]
    # The proposals file holds an incomplete human annotation (Bob missed) and the proposals.
    proposals = [
        make_doc(
            vocab,
            WORDS,
            human=[(0, 1, "PER")],
            llm=[(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (6, 7, "LOC"), (8, 9, "LOC")],
        ),
        make_doc(vocab, WORDS[:5], human=[], llm=[(2, 3, "PER")], annotated=False),
    ]
    write_docbin(tmp_path / "gold.spacy", gold)
    write_docbin(tmp_path / "proposals.spacy", proposals)
    return tmp_path


def test_scores_per_label_micro_and_shares(files, capsys):
    code, out, _ = run(
        capsys,
        "score-proposals",
        files / "proposals.spacy",
        "--gold",
        files / "gold.spacy",
        "--output",
        files / "scores.json",
    )
    assert code == 0
    assert "micro P 0.667 R 0.667 F1 0.667" in " ".join(out.split())
    scores = srsly.read_json(files / "scores.json")
    assert scores["sentences"] == 2 and scores["skipped"] == 0
    assert scores["micro"]["tp"] == 4 and scores["micro"]["fp"] == 2 and scores["micro"]["fn"] == 2
    assert (
        scores["per_label"]["LOC"]["p"] == pytest.approx(2 / 3)
        and scores["per_label"]["LOC"]["r"] == 1.0
    )
    assert scores["per_label"]["ORG"] == {
        "p": 0.0,
        "r": 0.0,
        "f": 0.0,
        "tp": 0,
        "fp": 0,
        "fn": 1,
        "proposed": 0,
        "gold": 1,
    }
    assert scores["distribution"]["LOC"] == 0.5 and scores["gold_distribution"]["PER"] == 0.5
    for column in ("share proposed", "share gold", "micro"):
        assert column in out


def test_without_gold_the_input_annotation_is_the_gold(files, capsys):
    code, out, _ = run(capsys, "score-proposals", files / "proposals.spacy")
    assert code == 0
    assert "1 of 2 sentences have no (complete) gold annotation: left out" in " ".join(out.split())


def test_mismatched_or_unproposed_files_are_one_line(files, tmp_path, capsys):
    vocab = spacy.blank("en").vocab
    write_docbin(
        tmp_path / "other.spacy", [make_doc(vocab, WORDS), make_doc(vocab, ["Hello", "."])]
    )
    checks = [
        (
            ["--gold", tmp_path / "other.spacy"],
            "other.spacy: sentence 2 differs from sentence 2 of",
        ),
        (
            ["--gold", tmp_path / "other.spacy", "--spans-key", "nope"],
            "no doc.spans['nope'] in any sentence",
        ),
        (["--output", files / "proposals.spacy"], "give it a file of its own"),
    ]
    for extra, expected in checks:
        code, _, err = run(capsys, "score-proposals", files / "proposals.spacy", *extra)
        assert code == 1 and expected in err and len(err.strip().splitlines()) == 1, err


def test_no_proposal_at_all_warns(tmp_path, capsys):
    """Issue 23: score-proposals printed zeros and nothing said that they
    measure nothing."""
    vocab = spacy.blank("en").vocab
    docs = [make_doc(vocab, WORDS, human=[(0, 1, "PER")], llm=[]) for _ in range(3)]
    write_docbin(tmp_path / "empty.spacy", docs)
    code, out, _ = run(capsys, "score-proposals", tmp_path / "empty.spacy")
    assert code == 0
    assert "No proposal in doc.spans['llm'] of 3 sentences" in " ".join(out.split())
