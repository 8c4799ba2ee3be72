"""``merge`` takes dotted overrides of its [merge] block, and its options are names for them."""

import pytest
import spacy

from hybrid_ner.cli.merge_commands import MERGE_FLAG_PATHS, build_merger
from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.merge.acceptance import AcceptReliable

from ..cli_runner import run_cli
from ..doc_builders import make_doc, tuples

WORDS = "Ann met Bob in Rome and Acme in Oslo .".split()


def run(capsys, *argv):
    return run_cli(capsys, *argv)


def test_options_and_overrides_build_the_same_merger():
    options = dict(
        accept="reliable",
        labels="",
        min_precision=0.4,
        min_support=5,
        overlap="first",
        uncovered="missing",
        seed=3,
        llm_key="llm",
    )
    merger = build_merger(options, {"merge.accept.prior": 0.25})
    assert isinstance(merger.accept, AcceptReliable)
    assert (merger.accept.min_precision, merger.accept.min_support, merger.accept.prior) == (
        0.4,
        5,
        0.25,
    )
    assert (merger.overlap, merger.uncovered, merger.seed) == ("first", "missing", 3)
    assert set(MERGE_FLAG_PATHS.values()) >= {"merge.overlap", "merge.accept"}
    with pytest.raises(HybridNerError, match="unexpected argument: 'bogus'"):
        build_merger({**options, "accept": "all"}, {"merge.accept.bogus": 1})


def test_merge_cli_with_overrides(tmp_path, capsys):
    vocab = spacy.blank("en").vocab
    doc = make_doc(
        vocab, WORDS, human=[(0, 1, "PER")], llm=[(2, 3, "PER"), (4, 5, "LOC"), (4, 6, "ORG")]
    )
    write_docbin(tmp_path / "in.spacy", [doc])
    out = tmp_path / "out.spacy"
    # A default left alone may be overridden; a typed option and its path may not both be given.
    code, stdout, _ = run(
        capsys,
        "merge",
        tmp_path / "in.spacy",
        out,
        "--merge.overlap",
        "first",
        "--accept",
        "labels",
        "--labels",
        "PER,ORG",
    )
    assert code == 0 and "2 proposals added" in stdout
    assert tuples(read_docbin(out, vocab)[0].ents) == [(0, 1, "PER"), (2, 3, "PER"), (4, 6, "ORG")]
    code, _, err = run(
        capsys,
        "merge",
        tmp_path / "in.spacy",
        out,
        "--overlap",
        "first",
        "--merge.overlap",
        "random",
    )
    assert code == 1 and "--merge.overlap and --overlap set the same config value" in err
    code, _, err = run(capsys, "merge", tmp_path / "in.spacy", out, "--merge.nope.x", 1)
    assert code == 1 and "has no [merge.nope] section" in err
    code, _, err = run(capsys, "merge", tmp_path / "in.spacy", out, "--nope")
    assert code == 2 and "No such option: --nope" in err
