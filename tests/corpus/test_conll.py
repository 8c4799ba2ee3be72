from collections import Counter

import pytest

from hybrid_ner.corpus import read_conll
from hybrid_ner.errors import CorpusFormatError
from hybrid_ner.layers import DOC_ID, SENT_INDEX

from ..conftest import CONLL_DIR, WIKIGOLD


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_wikigold_counts_exact():
    corpus = read_conll(WIKIGOLD)
    assert corpus.scheme == "iob1"
    assert len(corpus.docs) == 1696
    assert corpus.n_documents == 145
    assert sum(len(d) for d in corpus.docs) == 39007
    labels = Counter(e.label_ for d in corpus.docs for e in d.ents)
    assert labels == {"LOC": 1014, "MISC": 712, "ORG": 898, "PER": 934}
    # No -DOCSTART- token survives.
    assert not any(t.text == "-DOCSTART-" for d in corpus.docs for t in d)


@pytest.mark.parametrize(
    "split,n_sents,n_ents",
    [("train", 14041, 23499), ("dev", 3250, 5942), ("test", 3453, 5648)],
)
def test_conll2003_counts_exact(split, n_sents, n_ents):
    path = CONLL_DIR / f"{split}.iob"
    if not path.exists():
        pytest.skip(f"CoNLL-2003 not found at {path} (set HYBRID_NER_CONLL_DIR)")
    corpus = read_conll(path)
    assert corpus.scheme == "iob2"
    assert len(corpus.docs) == n_sents
    assert sum(len(d.ents) for d in corpus.docs) == n_ents


def test_docstart_before_and_after_give_same_documents(write_file):
    before = write_file(
        "before.txt", "-DOCSTART- O\n\nA B-PER\nb O\n\nC B-LOC\n\n-DOCSTART- O\n\nD B-ORG\n"
    )
    after = write_file(
        "after.txt", "A B-PER\nb O\n\nC B-LOC\n\n-DOCSTART- O\n\nD B-ORG\n\n-DOCSTART- O\n"
    )
    for path in (before, after):
        docs = read_conll(path).docs
        assert [d.user_data[DOC_ID].split(":")[1] for d in docs] == ["0", "0", "1"]
        assert [d.user_data[SENT_INDEX] for d in docs] == [0, 1, 0]
        assert [ents(d) for d in docs] == [[("A", "PER")], [("C", "LOC")], [("D", "ORG")]]


def test_columns_tabs_and_tag_column(write_file):
    path = write_file("tab.tsv", "New\tNNP\tB-LOC\tx\nYork\tNNP\tI-LOC\tx\nis\tVBZ\tO\tx\n")
    doc = read_conll(path, tag_column=2).docs[0]
    assert doc.text == "New York is"
    assert ents(doc) == [("New York", "LOC")]


@pytest.mark.parametrize(
    "tags,scheme,expected",
    [
        (["B-PER", "I-PER", "B-PER", "O"], "iob2", [(0, 2, "PER"), (2, 3, "PER")]),
        (["I-PER", "I-PER", "B-PER", "O"], "iob1", [(0, 2, "PER"), (2, 3, "PER")]),
        (["I-PER", "I-LOC", "O", "I-ORG"], "iob1", [(0, 1, "PER"), (1, 2, "LOC"), (3, 4, "ORG")]),
        (["B-PER", "L-PER", "U-LOC", "O"], "bilou", [(0, 2, "PER"), (2, 3, "LOC")]),
        (["B-PER", "E-PER", "S-LOC", "O"], "bilou", [(0, 2, "PER"), (2, 3, "LOC")]),
    ],
)
def test_schemes_detected_and_decoded(write_file, tags, scheme, expected):
    words = ["w0", "w1", "w2", "w3"]
    path = write_file("s.txt", "".join(f"{w} {t}\n" for w, t in zip(words, tags)))
    corpus = read_conll(path)
    assert corpus.scheme == scheme
    assert [(e.start, e.end, e.label_) for e in corpus.docs[0].ents] == expected


@pytest.mark.parametrize(
    "content,line,fragment",
    [
        ("a O\nb X-PER\n", 2, "unknown tag 'X-PER'"),
        ("a O\nb PER\n", 2, "unknown tag 'PER'"),
        ("a NN O\nb O\n", 2, "ragged columns"),
        ("a B-PER\nb I-PER\n\nc O\nd I-LOC\n\ne B-LOC\n", 5, "I-LOC follows O"),
        ("a B-PER\nb I-LOC\n\nc B-ORG\n", 2, "I-LOC follows B-PER"),
        ("a B-PER\nb O\n", 2, "not closed"),
    ],
)
def test_strict_errors_name_file_and_line(write_file, content, line, fragment):
    path = write_file("bad.txt", content)
    if fragment == "not closed":
        path = write_file("bad.txt", "a B-PER\nb O\nc U-LOC\n")
    with pytest.raises(CorpusFormatError) as excinfo:
        read_conll(path)
    assert excinfo.value.path == str(path)
    assert excinfo.value.line == line
    assert fragment in str(excinfo.value)
    assert str(excinfo.value).startswith(f"{path}:{line}: ")


def test_lenient_repairs_and_reports(write_file):
    path = write_file("bad.txt", "a B-PER\nb I-PER\n\nc O\nd I-LOC\ne NN I-LOC\n\nf B-ORG\n")
    corpus = read_conll(path, strict=False)
    assert [ents(d) for d in corpus.docs] == [[("a b", "PER")], [("d e", "LOC")], [("f", "ORG")]]
    lines = sorted(r.line for r in corpus.repairs)
    assert lines == [5, 6]
    assert all(str(path) in str(r) for r in corpus.repairs)


@pytest.mark.parametrize(
    "content,fragment",
    [
        (b"", "file is empty"),
        (b"\n\n  \n", "file is empty"),
        (b"a O\n\x00\x01\x02", "binary data"),
        (b"a O\ncaf\xe9 B-LOC\n", "not valid utf-8"),
        (b"-DOCSTART- O\n\n", "no sentences"),
    ],
)
def test_unreadable_files(write_file, content, fragment):
    path = write_file("f.txt", content)
    with pytest.raises(CorpusFormatError, match=fragment):
        read_conll(path)


def test_encoding_option(write_file):
    path = write_file("latin.txt", b"caf\xe9 B-LOC\n")
    assert ents(read_conll(path, encoding="latin-1").docs[0]) == [("caf\u00e9", "LOC")]


def test_missing_file(tmp_path):
    with pytest.raises(CorpusFormatError, match="file not found"):
        read_conll(tmp_path / "nope.txt")
