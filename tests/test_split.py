import pytest

from hybrid_ner.corpus import read_conll
from hybrid_ner.split import split_by_document

from .conftest import WIKIGOLD


@pytest.fixture(scope="module")
def docs():
    return read_conll(WIKIGOLD).docs


def test_split_is_by_document_and_complete(docs):
    parts = split_by_document(docs, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=0)
    ids = {name: {d.user_data["doc_id"] for d in part} for name, part in parts.items()}
    assert not ids["train"] & ids["dev"] and not ids["train"] & ids["test"] and not ids["dev"] & ids["test"]
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


def test_too_few_documents(nlp):
    doc = nlp("one sentence")
    doc.user_data["doc_id"] = "only"
    with pytest.raises(ValueError, match="Only 1 document"):
        split_by_document([doc], {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=0)
