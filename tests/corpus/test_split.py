import pytest

from hybrid_ner.corpus import read_conll
from hybrid_ner.corpus.split import split_by_document

from ..conftest import WIKIGOLD


@pytest.fixture(scope="module")
def docs():
    return read_conll(WIKIGOLD).docs


def test_split_is_by_document_and_complete(docs):
    parts = split_by_document(docs, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=0)
    ids = {name: {d.user_data["doc_id"] for d in part} for name, part in parts.items()}
    assert (
        not ids["train"] & ids["dev"]
        and not ids["train"] & ids["test"]
        and not ids["dev"] & ids["test"]
    )
    assert sum(len(p) for p in parts.values()) == len(docs)
    assert [len(ids[n]) for n in ("train", "dev", "test")] == [104, 16, 25]
    assert [len(parts[n]) for n in ("train", "dev", "test")] == [1353, 173, 170]
    # corpus order is kept inside a part
    order = {id(d): i for i, d in enumerate(docs)}
    for part in parts.values():
        positions = [order[id(d)] for d in part]
        assert positions == sorted(positions)


def test_split_is_seeded(docs):
    a = split_by_document(docs, {"train": 0.5, "test": 0.5}, seed=1)
    b = split_by_document(docs, {"train": 0.5, "test": 0.5}, seed=1)
    c = split_by_document(docs, {"train": 0.5, "test": 0.5}, seed=2)
    texts = lambda p: [d.text for d in p["test"]]  # noqa: E731
    assert texts(a) == texts(b) != texts(c)


def test_bad_fractions(docs):
    with pytest.raises(ValueError, match="sum to 1"):
        split_by_document(docs, {"train": 0.8, "test": 0.3}, seed=0)


def sentences(nlp, n, doc_ids=None):
    docs = [nlp(f"Sentence number {i} ends here .") for i in range(n)]
    for i, doc in enumerate(docs):
        if doc_ids is not None:
            doc.user_data["doc_id"] = doc_ids[i]
    return docs


def test_one_document_falls_back_to_sentences(write_file, capsys):
    # A CoNLL file without -DOCSTART- lines: each sentence its own document
    # (issue 23); a DocBin converted before that holds one document.
    text = "\n\n".join(f"Word{i} O\nParis B-LOC" for i in range(20)) + "\n"
    corpus = read_conll(write_file("nodocstart.conll", text))
    docs = corpus.docs
    assert len(docs) == 20 and len({d.user_data["doc_id"] for d in docs}) == 20
    assert not corpus.has_document_markers and corpus.n_documents == 20
    for doc in docs:
        doc.user_data["doc_id"] = "nodocstart:0"
    parts = split_by_document(docs, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=0)
    assert [len(parts[n]) for n in ("train", "dev", "test")] == [16, 2, 2]
    assert sorted(d.text for p in parts.values() for d in p) == sorted(d.text for d in docs)
    out = capsys.readouterr().out
    assert "Split by sentence: 1 document(s) for 3 parts (no -DOCSTART-?)" in out
    assert len(out.strip().splitlines()) == 1
    # seeded
    again = split_by_document(docs, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=0)
    assert [d.text for d in again["test"]] == [d.text for d in parts["test"]]


def test_fewer_documents_than_parts_or_no_ids_fall_back(nlp, capsys):
    two = sentences(nlp, 10, doc_ids=["a"] * 5 + ["b"] * 5)
    parts = split_by_document(two, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=0)
    assert [len(parts[n]) for n in ("train", "dev", "test")] == [8, 1, 1]
    assert "Split by sentence: 2 document(s) for 3 parts" in capsys.readouterr().out
    no_ids = sentences(nlp, 10)
    parts = split_by_document(no_ids, {"train": 0.5, "test": 0.5}, seed=0)
    assert [len(parts[n]) for n in ("train", "test")] == [5, 5]
    assert "Split by sentence: some Docs have no document id" in capsys.readouterr().out


def test_enough_documents_split_by_document_silently(nlp, capsys):
    docs = sentences(nlp, 12, doc_ids=[f"d{i // 4}" for i in range(12)])
    parts = split_by_document(docs, {"train": 0.5, "dev": 0.25, "test": 0.25}, seed=0)
    for part in parts.values():
        assert len(part) == 4 and len({d.user_data["doc_id"] for d in part}) == 1
    assert capsys.readouterr().out == ""


def test_too_few_sentences(nlp):
    docs = sentences(nlp, 2, doc_ids=["only", "only"])
    with pytest.raises(ValueError, match="Only 2 sentence"):
        split_by_document(docs, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=0)
