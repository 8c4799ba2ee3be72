"""A Doc's soft-NER scores and entities do not depend on the other Docs of
its batch (issue 12): the head's window stays inside each Doc."""

from typing import Dict, List, Tuple

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.training import Example
from thinc.api import (
    Config,
    Model,
    chain,
    fix_random_seed,
    with_array,
)

from hybrid_ner.training.soft_ner import SoftNER
from hybrid_ner.training.soft_tagger_model import build_soft_tagger

TRAIN = [
    ("Alice Brown lives in Paris.", [(0, 11, "PER"), (21, 26, "LOC")]),
    ("Bob works for Acme Corp in Berlin.", [(0, 3, "PER"), (14, 23, "ORG"), (27, 33, "LOC")]),
    ("Carol Smith visited Rome last week.", [(0, 11, "PER"), (20, 24, "LOC")]),
    ("The Acme Corp office is in Madrid.", [(4, 13, "ORG"), (27, 33, "LOC")]),
    (
        "Germany beat France 2-1 in Munich on Sunday.",
        [(0, 7, "LOC"), (13, 19, "LOC"), (27, 33, "LOC")],
    ),
    (
        "Reuters reported that Globex Inc hired David Jones.",
        [(0, 7, "ORG"), (22, 32, "ORG"), (39, 50, "PER")],
    ),
    ("Prices fell.", []),
    ("London", [(0, 6, "LOC")]),
]
# Texts to compare: seen and unseen, of different lengths, one of one token.
TEXTS = [text for text, _ in TRAIN] + [
    "Dana Lee moved from Rome to Berlin.",
    "Shares of Initech rose.",
    "Paris",
    "Eve met Frank Miller at the Acme Corp headquarters in London yesterday.",
]

# Like configs/ner_soft_cpu.cfg (a tok2vec component, the NER listening to
# it), only tiny.
LISTENER_PIPELINE = """
[nlp]
lang = "en"
pipeline = ["tok2vec","ner"]

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 32
attrs = ["NORM","PREFIX","SUFFIX","SHAPE"]
rows = [500,100,250,250]
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 32
depth = 2
window_size = 1
maxout_pieces = 3

[components.ner]
factory = "hybrid_ner_soft_ner"
tag_scheme = "BILUO"

[components.ner.model]
@architectures = "hybrid_ner.SoftTagger.v1"
hidden_width = 16
window_size = {window_size}
dropout = 0.1

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32
upstream = "*"
"""


def listener_pipeline(window_size: int) -> Language:
    config = Config().from_str(LISTENER_PIPELINE.replace("{window_size}", str(window_size)))
    return spacy.util.load_model_from_config(config, auto_fill=True)


def factory_default_pipeline() -> Language:
    """The factory's default model: its own small tok2vec, window 1."""
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "hybrid_ner_soft_ner",
        name="ner",
        config={"model": {"tok2vec": {"width": 32, "depth": 2, "embed_size": 500}}},
    )
    return nlp


def train(nlp: Language, steps: int = 80) -> Language:
    fix_random_seed(0)
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN]
    nlp.initialize(lambda: examples)
    optimizer = nlp.create_optimizer()
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, drop=0.1)
    return nlp


def scores_and_ents(
    nlp: Language, texts: List[str], batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> Dict[str, Tuple[numpy.ndarray, List[Tuple[int, int, str]]]]:
    """Per text: the NER's probabilities as computed inside the batches
    ``nlp.pipe`` formed (batch_size 0: each text alone with ``nlp(text)``),
    and the entities set."""
    recorded: Dict[int, numpy.ndarray] = {}
    original = SoftNER.predict

    def recording_predict(self: SoftNER, docs):
        docs = list(docs)
        if any(len(doc) for doc in docs):
            # The same call on the same batch as inside predict: deterministic.
            for doc, doc_scores in zip(docs, self.model.predict(docs)):
                recorded[id(doc)] = self.model.ops.to_numpy(doc_scores).copy()
        return original(self, docs)

    with monkeypatch.context() as patch:
        patch.setattr(SoftNER, "predict", recording_predict)
        docs = (
            [nlp(text) for text in texts]
            if batch_size == 0
            else list(nlp.pipe(texts, batch_size=batch_size))
        )
    return {
        doc.text: (recorded[id(doc)], [(e.start, e.end, e.label_) for e in doc.ents])
        for doc in docs
    }


def assert_batch_invariant(nlp: Language, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = scores_and_ents(nlp, TEXTS, 0, monkeypatch)
    # The training worked well enough that the check means something.
    assert sum(len(ents) for _, ents in alone.values()) >= 5
    assert all(scores.std() > 0.01 for scores, _ in alone.values() if len(scores) > 1)
    rng = numpy.random.default_rng(0)
    orders = [TEXTS, TEXTS[::-1], [TEXTS[i] for i in rng.permutation(len(TEXTS))]]
    for order in orders:
        for batch_size in (1, 2, 3, 5, len(TEXTS)):
            batched = scores_and_ents(nlp, order, batch_size, monkeypatch)
            for text in TEXTS:
                scores, ents = batched[text]
                numpy.testing.assert_array_equal(
                    scores, alone[text][0], err_msg=f"{text!r}, batch_size={batch_size}"
                )
                assert ents == alone[text][1], (text, batch_size)


@pytest.mark.parametrize("window_size", [1, 2])
def test_listener_pipeline_scores_do_not_depend_on_the_batch(window_size, monkeypatch):
    nlp = train(listener_pipeline(window_size))
    assert_batch_invariant(nlp, monkeypatch)


def test_factory_default_scores_do_not_depend_on_the_batch(monkeypatch):
    nlp = train(factory_default_pipeline())
    assert nlp.get_pipe("ner").model.get_ref("tok2vec").name.startswith("extract_features")
    assert_batch_invariant(nlp, monkeypatch)


def test_model_keeps_its_refs_and_its_window_inside_each_sequence():
    """The windowed head scores a sequence alone as in any batch, and keeps
    its gradients inside it, where thinc's plain ``with_array`` would not."""

    def identity() -> Model:
        return Model("identity", lambda model, X, is_train: (X, lambda dY: dY))

    fix_random_seed(0)
    rng = numpy.random.default_rng(0)
    seqs = [rng.normal(size=(n, 6)).astype("f") for n in (4, 1, 3, 5)]
    model = build_soft_tagger(identity(), hidden_width=8, window_size=1, nO=5)
    assert (
        model.get_ref("output_layer").name == "softmax"
        and model.get_ref("tok2vec").name == "identity"
    )
    model.initialize(X=seqs)
    model.get_ref("output_layer").set_param("W", rng.normal(size=(5, 8)).astype("f"))
    unpadded = chain(identity(), with_array(model.get_ref("head")))
    alone = [unpadded.predict([seq])[0] for seq in seqs]
    assert any(not numpy.array_equal(a, b) for a, b in zip(alone, unpadded.predict(seqs)))
    for order in (seqs, seqs[::-1]):
        for seq, scores in zip(order, model.predict(order)):
            numpy.testing.assert_array_equal(scores, model.predict([seq])[0])
    _, backprop = model.begin_update(seqs)
    d_inputs = backprop([numpy.ones_like(y) for y in model.predict(seqs)])
    assert [d.shape for d in d_inputs] == [seq.shape for seq in seqs]


def test_empty_docs_in_a_batch(monkeypatch):
    nlp = train(listener_pipeline(1), steps=3)
    docs = list(nlp.pipe(["", "Alice Brown lives in Paris.", "", "London"], batch_size=4))
    assert [len(doc) for doc in docs] == [0, 6, 0, 1]
