"""read_docbin gives exactly the Docs of spaCy's own DocBin path, with the
msgpack decoder lookup made once per read (issue 15.3)."""

from typing import Any, Dict, List

import numpy
import pytest
import srsly.msgpack
from spacy.tokens import Doc, DocBin, Span, SpanGroup
from spacy.vocab import Vocab

from hybrid_ner.corpus import docbin as docbin_module
from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.errors import CorpusFormatError


def _docs(vocab: Vocab) -> List[Doc]:
    """Docs exercising every layer the read must keep."""
    first = Doc(vocab, words=["Ada", "Lovelace", "met", "Charles", "Babbage", "in", "London", "."])
    first.set_ents([Span(first, 0, 2, "PER"), Span(first, 3, 5, "PER"), Span(first, 6, 7, "LOC")])
    first.spans["human"] = SpanGroup(
        first, name="human", attrs={"annotator": "a1", "round": 2}, spans=list(first.ents)
    )
    first.spans["llm"] = [
        Span(first, 0, 1, "PER", kb_id="Q7259", span_id="p0"),
        Span(first, 3, 5, "ORG", span_id="p1"),
        Span(first, 0, 2, "PER"),  # overlaps the first proposal
    ]
    first.spans["omitted"] = []  # an empty group stays a (present) key
    shared = SpanGroup(first, name="shared", spans=[Span(first, 6, 7, "GPE")])
    first.spans["shared_a"] = shared  # two keys, one group: spaCy reads them back as copies
    first.spans["shared_b"] = shared
    first.user_data.update(
        {
            "doc_id": "train:0",
            "sent_index": 0,
            "human_annotated": True,
            "scores": numpy.array(
                [[0.25, 0.75], [1.0, 0.0]], dtype="f"
            ),  # needs srsly's numpy decoder
            "nested": {"a": [1, 2, {"b": None}], "c": 1.5},
            ("_", "custom", 0, 0): "extension value",
        }
    )
    first.cats = {"NEWS": 1.0}
    second = Doc(vocab, words=["No", "groups", "here"])  # plain Doc between grouped ones
    second.user_data["doc_id"] = "train:1"
    third = Doc(vocab, words=["Paris", "!"], spaces=[False, False])
    third.spans["llm"] = [Span(third, 0, 1, "LOC", kb_id="Q90")]
    return [first, second, third]


def _spans(group: SpanGroup) -> List[tuple]:
    return [(s.start, s.end, s.start_char, s.end_char, s.label_, s.kb_id_, s.id_) for s in group]


def _layers(doc: Doc) -> Dict[str, Any]:
    """Everything of a Doc the comparison covers, as plain values."""
    user_data = {
        key: value.tolist() if isinstance(value, numpy.ndarray) else value
        for key, value in doc.user_data.items()
    }
    return {
        "tokens": [(t.text, t.whitespace_) for t in doc],
        "ents": [(e.start, e.end, e.label_, e.kb_id_, e.id_) for e in doc.ents],
        "cats": dict(doc.cats),
        "span_keys": list(doc.spans.keys()),
        "span_groups": {
            key: (group.name, dict(group.attrs), _spans(group)) for key, group in doc.spans.items()
        },
        "user_data": user_data,
        "user_data_types": {key: type(value).__name__ for key, value in doc.user_data.items()},
    }


def test_read_docbin_equals_spacy_get_docs(tmp_path):
    path = tmp_path / "docs.spacy"
    assert write_docbin(path, _docs(Vocab())) == 3
    ours = read_docbin(path, Vocab())
    theirs = list(DocBin(store_user_data=True).from_disk(path).get_docs(Vocab()))
    assert [_layers(doc) for doc in ours] == [_layers(doc) for doc in theirs]
    # The comparison is not vacuous: the layers really came back.
    first = ours[0]
    assert list(first.spans) == ["human", "llm", "omitted", "shared_a", "shared_b"]
    assert _spans(first.spans["llm"])[0] == (0, 1, 0, 3, "PER", "Q7259", "p0")
    assert first.spans["human"].attrs == {"annotator": "a1", "round": 2}
    assert first.spans["shared_a"] is not first.spans["shared_b"]
    assert isinstance(first.user_data["scores"], numpy.ndarray)  # decoders were applied
    assert first.user_data["scores"].dtype == numpy.float32
    assert first.user_data[("_", "custom", 0, 0)] == "extension value"
    assert len(ours[1].spans) == 0 and ours[1].user_data == {"doc_id": "train:1"}


class _CountingRegistry:
    """Wraps srsly's decoder registry and counts the lookups."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.lookups = 0

    def get_all(self) -> Dict[str, Any]:
        self.lookups += 1
        return self.registry.get_all()


def test_decoders_are_looked_up_once_per_read_and_restored(tmp_path, monkeypatch):
    path = tmp_path / "docs.spacy"
    write_docbin(path, _docs(Vocab()) * 20)
    counting = _CountingRegistry(srsly.msgpack.msgpack_decoders)
    monkeypatch.setattr(srsly.msgpack, "msgpack_decoders", counting)
    docs = read_docbin(path, Vocab())
    assert len(docs) == 60
    assert counting.lookups == 1  # spaCy's path: 1 + 5 per grouped Doc + 1 per plain Doc
    assert srsly.msgpack.msgpack_decoders is counting
    list(DocBin(store_user_data=True).from_disk(path).get_docs(Vocab()))
    assert counting.lookups > 60


def test_registry_is_restored_after_errors_and_nested_reads(tmp_path):
    registry = srsly.msgpack.msgpack_decoders
    bad = tmp_path / "bad.spacy"
    bad.write_bytes(b"not a docbin")
    with pytest.raises(CorpusFormatError, match="not a spaCy DocBin"):
        read_docbin(bad, Vocab())
    assert srsly.msgpack.msgpack_decoders is registry
    good = tmp_path / "good.spacy"
    write_docbin(good, _docs(Vocab()))
    with docbin_module._resolved_once():
        assert srsly.msgpack.msgpack_decoders is not registry
        docs = read_docbin(good, Vocab())  # nested: must not restore early
        assert srsly.msgpack.msgpack_decoders is not registry
        # msgpack decoded elsewhere meanwhile behaves as before
        data = srsly.msgpack_dumps({"x": numpy.arange(3)})
        assert srsly.msgpack_loads(data)["x"].tolist() == [0, 1, 2]
    assert srsly.msgpack.msgpack_decoders is registry
    assert len(docs) == 3
