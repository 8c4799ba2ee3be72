import pytest
import srsly

from hybrid_ner.corpus import doc_to_record, read_conll, read_jsonl, write_jsonl
from hybrid_ner.errors import CorpusFormatError


def test_roundtrip_conll_to_jsonl_keeps_tokens_and_entities(tmp_path, nlp, write_file):
    path = write_file(
        "c.txt", "New B-LOC\nYork I-LOC\n's O\nmayor O\n\n-DOCSTART- O\n\nAcme B-ORG\n"
    )
    docs = read_conll(path, nlp.vocab).docs
    out = tmp_path / "out.jsonl"
    assert write_jsonl(out, docs) == 2
    back = read_jsonl(out, nlp).docs
    assert [[t.text for t in d] for d in back] == [[t.text for t in d] for d in docs]
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in back] == [
        [(e.start, e.end, e.label_) for e in d.ents] for d in docs
    ]
    assert [d.user_data["doc_id"] for d in back] == [d.user_data["doc_id"] for d in docs]


def test_text_only_records_are_tokenized(write_file, nlp):
    path = write_file(
        "a.jsonl",
        '{"text": "Ada Lovelace lived in London.", "spans": '
        '[{"start": 0, "end": 12, "label": "PER"}, {"start": 22, "end": 28, "label": "LOC"}]}\n',
    )
    doc = read_jsonl(path, nlp).docs[0]
    assert [(e.text, e.label_) for e in doc.ents] == [("Ada Lovelace", "PER"), ("London", "LOC")]


def test_prodigy_rejected_answers_are_skipped_and_counted(write_file, nlp):
    lines = [
        {"text": "Paris", "spans": [{"start": 0, "end": 5, "label": "LOC"}], "answer": "accept"},
        {"text": "Rome", "spans": [], "answer": "reject"},
        {"text": "Oslo", "spans": [], "answer": "ignore"},
    ]
    path = write_file("p.jsonl", "\n".join(srsly.json_dumps(x) for x in lines))
    corpus = read_jsonl(path, nlp)
    assert len(corpus.docs) == 1 and corpus.n_skipped == 2


@pytest.mark.parametrize(
    "line,fragment",
    [
        ('{"text": "abc"', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"spans": []}', '"text"'),
        (
            '{"text": "Ada Lovelace", "spans": [{"start": 0, "end": 5, "label": "PER"}]}',
            "does not match token boundaries",
        ),
        ('{"text": "Ada", "spans": [{"start": 0, "end": 9, "label": "PER"}]}', "outside the text"),
        ('{"text": "Ada", "spans": [{"start": 0, "label": "PER"}]}', 'integer "start"'),
        (
            '{"text": "Ada Lovelace", "spans": [{"start": 0, "end": 12, "label": "PER"}, '
            '{"start": 4, "end": 12, "label": "ORG"}]}',
            "overlapping",
        ),
    ],
)
def test_strict_errors_name_line(write_file, nlp, line, fragment):
    path = write_file("bad.jsonl", '{"text": "ok", "spans": []}\n\n' + line + "\n")
    with pytest.raises(CorpusFormatError) as excinfo:
        read_jsonl(path, nlp)
    assert excinfo.value.line == 3
    assert fragment in str(excinfo.value)


def test_lenient_snaps_and_resolves_overlaps(write_file, nlp):
    path = write_file(
        "l.jsonl",
        '{"text": "Ada Lovelace met Bob", "spans": [{"start": 0, "end": 5, "label": "PER"}, '
        '{"start": 4, "end": 12, "label": "ORG"}, {"start": 17, "end": 20, "label": "PER"}]}\n',
    )
    corpus = read_jsonl(path, nlp, strict=False)
    doc = corpus.docs[0]
    assert [(e.text, e.label_) for e in doc.ents] == [("Ada Lovelace", "PER"), ("Bob", "PER")]
    assert len(corpus.repairs) == 2 and all(r.line == 1 for r in corpus.repairs)


def test_tokens_must_match_text(write_file, nlp):
    record = {
        "text": "a b",
        "tokens": [{"text": "a", "start": 0, "end": 1}, {"text": "x", "start": 2, "end": 3}],
        "spans": [],
    }
    path = write_file("t.jsonl", srsly.json_dumps(record))
    with pytest.raises(CorpusFormatError, match="token 1 text 'x'"):
        read_jsonl(path, nlp)


def test_doc_to_record_offsets(nlp):
    doc = nlp.make_doc("I met Ada Lovelace.")
    doc.set_ents([doc.char_span(6, 18, label="PER")])
    record = doc_to_record(doc)
    span = record["spans"][0]
    assert record["text"][span["start"] : span["end"]] == "Ada Lovelace"
    assert (span["token_start"], span["token_end"]) == (2, 3)
