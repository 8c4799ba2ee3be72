"""The soft NER's own weights learn at ``learn_rate_scale`` times the
optimizer's rate; an upstream encoder behind a listener keeps the plain rate
(issue 12: a fresh head on a fine-tuned encoder)."""

from typing import Dict, Tuple

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.training import Example
from thinc.api import Adam, Config, fix_random_seed

from .test_soft_ner import CASED
from .test_soft_tagger_batch import LISTENER_PIPELINE, TRAIN


def pipeline(scale: float, cased: bool = False) -> Language:
    """The tiny listener pipeline; with ``cased``, cased token features beside the listener."""
    config = Config().from_str(
        LISTENER_PIPELINE.replace("{window_size}", "1") + (CASED if cased else "")
    )
    config["components"]["ner"]["learn_rate_scale"] = scale
    if cased:
        config["components"]["ner"]["model"]["width"] = 24
    fix_random_seed(0)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN]
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    # thinc starts the softmax at zero weights: no gradient would reach the
    # layers below it in the first update.
    output = nlp.get_pipe("ner").model.get_ref("output_layer")
    weights = numpy.random.default_rng(0).normal(0, 0.1, output.get_param("W").shape).astype("f")
    output.set_param("W", weights)
    return nlp


def params(nlp: Language, component: str) -> Dict[Tuple[int, str], numpy.ndarray]:
    model = nlp.get_pipe(component).model
    return {
        (i, name): node.get_param(name).copy()
        for i, node in enumerate(model.walk())
        for name in node.param_names
        if node.has_param(name)
    }


def one_step_deltas(
    scale: float, cased: bool = False
) -> Dict[str, Dict[Tuple[int, str], numpy.ndarray]]:
    """The change of every weight after one Adam update on the same batch."""
    nlp = pipeline(scale, cased)
    before = {name: params(nlp, name) for name in ("tok2vec", "ner")}
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN]
    optimizer = Adam(0.001)
    nlp.update(examples, sgd=optimizer, drop=0.0)
    # spaCy applies an upstream component's update before the components
    # listening to it have sent their gradient: apply this step's now.
    nlp.get_pipe("tok2vec").finish_update(optimizer)
    return {
        name: {key: params(nlp, name)[key] - value for key, value in before[name].items()}
        for name in before
    }


def test_own_weights_move_scale_times_further_upstream_encoder_does_not():
    plain, scaled = one_step_deltas(1.0), one_step_deltas(4.0)
    moved = [key for key, delta in plain["ner"].items() if numpy.abs(delta).max() > 0]
    assert len(moved) >= 4  # hidden layer, output layer, ...
    for key in moved:
        numpy.testing.assert_allclose(
            scaled["ner"][key], 4.0 * plain["ner"][key], rtol=1e-2, atol=1e-6
        )
    assert any(numpy.abs(delta).max() > 0 for delta in plain["tok2vec"].values())
    for key, delta in plain["tok2vec"].items():
        numpy.testing.assert_allclose(scaled["tok2vec"][key], delta, rtol=1e-2, atol=1e-6)


def test_the_scale_is_part_of_the_saved_config(tmp_path):
    nlp = pipeline(3.0)
    nlp.to_disk(tmp_path / "model")
    assert spacy.load(tmp_path / "model").get_pipe("ner").learn_rate_scale == 3.0


def test_a_scale_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="learn_rate_scale must be > 0"):
        pipeline(0.0)


def test_with_cased_features_only_the_head_learns_faster():
    """The cased features and their projection keep the plain rate (issue 12:
    fast hash embeddings memorised the training set)."""
    model = pipeline(1.0, cased=True).get_pipe("ner").model
    head = {node.id for node in model.get_ref("head").walk()}
    in_head = {
        (i, name): node.id in head
        for i, node in enumerate(model.walk())
        for name in node.param_names
        if node.has_param(name)
    }
    plain, scaled = one_step_deltas(1.0, cased=True)["ner"], one_step_deltas(4.0, cased=True)["ner"]
    moved = [key for key, delta in plain.items() if numpy.abs(delta).max() > 0]
    assert any(in_head[key] for key in moved) and any(not in_head[key] for key in moved)
    for key in moved:
        factor = 4.0 if in_head[key] else 1.0
        numpy.testing.assert_allclose(scaled[key], factor * plain[key], rtol=1e-2, atol=1e-6)
