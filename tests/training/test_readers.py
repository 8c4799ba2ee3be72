import pytest
from spacy.util import registry

from hybrid_ner.corpus import read_conll, write_docbin
from hybrid_ner.errors import CorpusFormatError


@pytest.fixture
def docbin(tmp_path, write_file, nlp):
    path = write_file(
        "c.txt", "Ada B-PER\nLovelace I-PER\nvisited O\nLondon B-LOC\n.  O\n\nHe O\nleft O\n"
    )
    out = tmp_path / "c.spacy"
    write_docbin(out, read_conll(path, nlp.vocab).docs)
    return out, path


def ents(example):
    return [(e.start, e.end, e.label_) for e in example.reference.ents]


def test_readers_resolve_by_name_through_entry_points():
    for name in (
        "hybrid_ner.ConllCorpus.v1",
        "hybrid_ner.JsonlCorpus.v1",
        "hybrid_ner.SimulatedAnnotationCorpus.v1",
    ):
        assert callable(registry.readers.get(name))


def test_conll_reader_keeps_gold_tokens(docbin, nlp):
    _, conll_path = docbin
    reader = registry.readers.get("hybrid_ner.ConllCorpus.v1")(conll_path)
    examples = list(reader(nlp))
    assert len(examples) == 2
    assert [t.text for t in examples[0].predicted] == [t.text for t in examples[0].reference]
    assert not examples[0].predicted.ents
    assert ents(examples[0]) == [(0, 2, "PER"), (3, 4, "LOC")]


def test_simulated_reader_matches_noise_and_budget(docbin, nlp):
    path, _ = docbin
    create = registry.readers.get("hybrid_ner.SimulatedAnnotationCorpus.v1")
    assert [ents(e) for e in create(path)(nlp)] == [[(0, 2, "PER"), (3, 4, "LOC")], []]
    assert [ents(e) for e in create(path, omit_rate=1.0)(nlp)] == [[], []]
    budget = list(create(path, budget_fraction=0.0)(nlp))
    assert all(t.ent_iob == 0 for e in budget for t in e.reference)


def test_reader_errors_name_the_file(tmp_path, nlp):
    create = registry.readers.get("hybrid_ner.SimulatedAnnotationCorpus.v1")
    bad = tmp_path / "bad.spacy"
    bad.write_bytes(b"not a docbin")
    with pytest.raises(CorpusFormatError, match="bad.spacy: not a spaCy DocBin"):
        list(create(bad)(nlp))


def test_simulated_reader_reads_once_per_run(docbin, nlp, monkeypatch):
    import hybrid_ner.training.readers as module

    path, _ = docbin
    calls = []
    real_read = module.read_docbin
    monkeypatch.setattr(
        module, "read_docbin", lambda p, vocab: calls.append(p) or real_read(p, vocab)
    )
    reader = registry.readers.get("hybrid_ner.SimulatedAnnotationCorpus.v1")(
        path, omit_rate=0.5, seed=1
    )
    epochs = [[ents(e) for e in reader(nlp)] for _ in range(3)]
    assert len(calls) == 1 and epochs[0] == epochs[1] == epochs[2]
