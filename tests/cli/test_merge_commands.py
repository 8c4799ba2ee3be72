"""merge and stats on a small proposals file: merged Docs with provenance, per-label
statistics, and one-line errors."""

import pytest
import spacy
import srsly

from hybrid_ner.cli import main
from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.layers import LLM_ADDED_KEY, LLM_REJECTED_KEY
from hybrid_ner.tags import TAG_LIKELIHOODS

from ..doc_builders import make_doc, tuples

WORDS = "Ann met Bob in Rome and Acme in Oslo .".split()


@pytest.fixture
def proposals_path(tmp_path):
    vocab = spacy.blank("en").vocab
    docs = [
        make_doc(
            vocab,
            WORDS,
            human=[(0, 1, "PER"), (4, 5, "LOC")],
            llm=[(0, 1, "ORG"), (2, 3, "PER"), (6, 7, "ORG"), (8, 9, "ORG"), (8, 9, "LOC")],
        ),
        make_doc(vocab, WORDS, llm=[(2, 3, "PER")], annotated=False),
    ]
    path = tmp_path / "proposals.spacy"
    write_docbin(path, docs)
    return path


def test_merge_writes_merged_docs_with_provenance(proposals_path, tmp_path, capsys):
    out = tmp_path / "merged.spacy"
    main(
        [
            "merge",
            str(proposals_path),
            str(out),
            "--accept",
            "labels",
            "--labels",
            "PER,LOC",
            "--soft-targets",
        ]
    )
    assert "3 proposals added, 3 rejected" in capsys.readouterr().out
    first, second = read_docbin(out, spacy.blank("en").vocab)
    assert tuples(first.ents) == [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (8, 9, "LOC")]
    assert sorted(s.id_ for s in first.spans[LLM_REJECTED_KEY]) == ["label_not_accepted"] * 3
    assert tuples(second.spans[LLM_ADDED_KEY]) == [(2, 3, "PER")]
    targets = first.user_data[TAG_LIKELIHOODS]  # kept by the DocBin
    assert targets["values"].shape == (len(first), len(targets["tags"])) and targets["fixed"].all()


def test_stats_reports_per_label_counts_and_distributions(proposals_path, tmp_path, capsys):
    main(["stats", str(proposals_path), "--json", str(tmp_path / "stats.json")])
    out = capsys.readouterr().out
    assert "not merged yet" in " ".join(out.split()) and "overlap_human" in out
    stats = srsly.read_json(tmp_path / "stats.json")["labels"]
    assert (
        stats["ORG"]["proposed"] == 3
        and stats["ORG"]["added"] == 1
        and stats["ORG"]["rejected"] == 2
    )
    assert stats["ORG"]["rejected_by_reason"] == {"overlap_human": 1, "overlap_llm": 1}
    assert stats["PER"]["human"] == 1 and stats["PER"]["merged"] == 3
    assert sum(row["share_llm"] for row in stats.values()) == pytest.approx(1.0)
    assert stats["LOC"]["share_human"] == 0.5


def test_bad_options_and_input_are_one_clear_line(proposals_path, tmp_path, capsys):
    for argv, code in (
        (["merge", str(proposals_path), str(tmp_path / "o.spacy"), "--overlap", "shortest"], 2),
        (["merge", str(proposals_path), str(tmp_path / "o.spacy"), "--accept", "labels"], 1),
        (["merge", str(proposals_path), str(tmp_path / "o.spacy"), "--accept", "best"], 1),
        (["stats", str(tmp_path / "missing.spacy")], 1),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == code
    err = capsys.readouterr().err
    assert "'shortest' is not one of 'longest', 'reliable', 'first', 'random'" in err
    lines = [line for line in err.strip().splitlines() if line.startswith("✘")]
    assert len(lines) == 3  # one line per error, no traceback
    assert "needs --labels" in lines[0] and "Unknown --accept 'best'" in lines[1]
    assert "missing.spacy: file not found" in lines[2]
