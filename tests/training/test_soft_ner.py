import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import fix_random_seed

from hybrid_ner.errors import HybridNerError
from hybrid_ner.merge.merger import Merger
from hybrid_ner.merge.mixing import LabelMixing, soft_targets
from hybrid_ner.tags import TAG_LIKELIHOODS, biluo_to_bio, fixed_targets
from hybrid_ner.training.soft_ner import example_targets

from ..doc_builders import make_doc, tuples

SENTENCES = [
    ("Alice Brown lives in Paris .", [(0, 2, "PER"), (4, 5, "LOC")]),
    ("Bob works for Acme Corp in Berlin .", [(0, 1, "PER"), (3, 5, "ORG"), (6, 7, "LOC")]),
    ("Carol Smith visited Rome .", [(0, 2, "PER"), (3, 4, "LOC")]),
    ("The Acme Corp office is in Madrid .", [(1, 3, "ORG"), (6, 7, "LOC")]),
]

TOK2VEC_NER = """
[nlp]
lang = "en"
pipeline = ["tok2vec","ner"]

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 32
depth = 1
embed_size = 500
window_size = 1
maxout_pieces = 2
subword_features = true

[components.ner]
factory = "hybrid_ner_soft_ner"
tag_scheme = "{scheme}"

[components.ner.model]
@architectures = "hybrid_ner.SoftTagger.v1"
hidden_width = 16
window_size = 0

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32
upstream = "tok2vec"
"""


def gold_examples(nlp: Language):
    examples = []
    for text, ents in SENTENCES:
        words = text.split()
        reference = Doc(nlp.vocab, words=words)
        reference.set_ents([Span(reference, s, e, label) for s, e, label in ents])
        examples.append(Example(Doc(nlp.vocab, words=words), reference))
    return examples


def train(nlp: Language, examples, steps: int = 60) -> Language:
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    optimizer = nlp.create_optimizer()
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp


def tok2vec_pipeline(scheme: str = "BILUO") -> Language:
    from thinc.api import Config

    return spacy.util.load_model_from_config(
        Config().from_str(TOK2VEC_NER.replace("{scheme}", scheme)), auto_fill=True
    )


@pytest.fixture(scope="module")
def trained():
    nlp = tok2vec_pipeline()
    return train(nlp, gold_examples(nlp))


def test_learns_the_entities_and_sets_doc_ents(trained):
    assert trained.get_pipe("ner").labels == ("LOC", "ORG", "PER")
    for eg in gold_examples(trained):
        doc = trained(Doc(trained.vocab, words=[t.text for t in eg.reference]))
        assert tuples(doc.ents) == tuples(eg.reference.ents)
    assert trained.evaluate(gold_examples(trained))["ents_f"] == 1.0


@pytest.mark.parametrize("scheme", ["BILUO", "BIO"])
def test_decoding_always_gives_valid_entities_even_untrained(scheme):
    nlp = tok2vec_pipeline(scheme)
    nlp.initialize(lambda: gold_examples(nlp))  # random weights: any tag sequence is possible
    ner = nlp.get_pipe("ner")
    ner.model.get_ref("output_layer").set_param(
        "b", numpy.random.default_rng(0).normal(size=(len(ner.tags),)).astype("f") * 5
    )
    for text in ["One two three four five six seven", "a", "Alpha Beta Gamma Delta"]:
        doc = nlp(text)
        iob = [t.ent_iob_ for t in doc]
        assert "" not in iob  # every token is annotated
        for ent in doc.ents:  # entities are contiguous, labelled, never broken
            assert ent.label_ in ner.labels
            assert doc[ent.start].ent_iob_ == "B" and all(
                t.ent_iob_ == "I" for t in doc[ent.start + 1 : ent.end]
            )


def test_soft_targets_drive_the_loss_and_its_gradient():
    nlp = tok2vec_pipeline()
    examples = gold_examples(nlp)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    eg = examples[0]
    n = len(eg.reference)
    eg.reference.user_data[TAG_LIKELIHOODS] = fixed_targets(
        [{"B-PER": 0.25, "O": 0.75}] + [None] * (n - 2) + [{"O": 1.0}], ["PER"]
    )
    scores = ner.model.predict([eg.predicted])
    loss, (d_scores,) = ner.get_loss([eg], scores)
    tags = ner.tags
    target = numpy.zeros((n, len(tags)), dtype="f")
    target[0, tags.index("B-PER")], target[0, tags.index("O")], target[-1, tags.index("O")] = (
        0.25,
        0.75,
        1.0,
    )
    expected = scores[0] - target
    expected[1:-1] = 0.0  # missing tokens give no gradient
    assert numpy.allclose(d_scores, expected, atol=1e-6)
    assert loss == pytest.approx(float(-(target * numpy.log(scores[0] + 1e-9)).sum()), rel=1e-4)


@pytest.mark.parametrize("scheme", ["BILUO", "BIO"])
def test_label_mixing_as_fixed_rows_gives_the_mixing_distributions(scheme):
    """λ mixing reaches the loss as fixed rows of the one target format: the
    target of each token is its mixing distribution (BILUO folded into BIO by
    summing), missing tokens get none, as when the distributions were read
    directly (the former ``soft_targets`` channel)."""
    nlp = tok2vec_pipeline(scheme)
    nlp.initialize(lambda: gold_examples(nlp))
    ner = nlp.get_pipe("ner")
    words = "Bob works for Acme Corp in Berlin .".split()
    reference = make_doc(
        nlp.vocab, words, human=[(0, 1, "PER")], llm=[(3, 5, "ORG"), (3, 4, "LOC"), (6, 7, "LOC")]
    )
    Merger(uncovered="missing")(reference)
    lambdas = {"ORG": 0.7, "LOC": 0.2}
    LabelMixing().attach_all([reference], lambdas)
    eg = Example(Doc(nlp.vocab, words=words), reference)
    index = {tag: i for i, tag in enumerate(ner.tags)}
    expected = numpy.zeros((len(words), len(index)), dtype="f")
    mask = numpy.zeros((len(words), 1), dtype="f")
    for i, dist in enumerate(soft_targets(reference, lambdas)):
        for tag, prob in (dist or {}).items():
            expected[i, index[biluo_to_bio(tag) if scheme == "BIO" else tag]] += prob
            mask[i] = 1.0
    assert mask[:, 0].tolist() == [1, 0, 0, 1, 1, 0, 1, 0]
    assert expected[3, index["B-ORG"]] == pytest.approx(0.35)  # ORG and LOC candidates share
    scores = ner.model.predict([eg.predicted])
    loss, (d_scores,) = ner.get_loss([eg], scores)
    assert numpy.allclose(d_scores, (scores[0] - expected) * mask, atol=1e-6)
    assert loss == pytest.approx(float(-(expected * numpy.log(scores[0] + 1e-9)).sum()), rel=1e-5)


def test_soft_targets_shift_predictions_towards_the_mixture():
    # "Acme Corp" is an LLM candidate with λ = 0.9 for ORG: the model should tag it ORG;
    # with λ = 0.1 it should learn "no entity".
    results = {}
    for lam in (0.9, 0.1):
        nlp = tok2vec_pipeline()
        examples = gold_examples(nlp)
        for eg in examples:
            targets = [{"O": 1.0} for _ in eg.reference]
            for ent in eg.reference.ents:
                tags = ["U-"] if len(ent) == 1 else ["B-"] + ["I-"] * (len(ent) - 2) + ["L-"]
                for i, prefix in zip(range(ent.start, ent.end), tags):
                    targets[i] = (
                        {prefix + ent.label_: lam, "O": 1 - lam}
                        if ent.label_ == "ORG"
                        else {prefix + ent.label_: 1.0}
                    )
            eg.reference.user_data[TAG_LIKELIHOODS] = fixed_targets(targets, ["LOC", "ORG", "PER"])
        train(nlp, examples)
        doc = nlp(Doc(nlp.vocab, words="Bob works for Acme Corp in Berlin .".split()))
        results[lam] = [e.label_ for e in doc.ents]
    assert "ORG" in results[0.9] and "ORG" not in results[0.1]
    assert "PER" in results[0.1] and "LOC" in results[0.1]


def test_soft_targets_need_the_reference_tokens():
    nlp = tok2vec_pipeline()
    examples = gold_examples(nlp)
    nlp.initialize(lambda: examples)
    reference = examples[0].reference
    reference.user_data[TAG_LIKELIHOODS] = fixed_targets([{"O": 1.0}] * len(reference), [])
    reference.user_data["doc_id"] = "d42"
    retokenized = Example(
        Doc(nlp.vocab, words=["Alice", "Brown", "lives", "in", "Paris."]), reference
    )
    with pytest.raises(HybridNerError, match="d42.*exactly the reference Doc's tokens"):
        nlp.update([retokenized])


def test_unknown_labels_are_a_clear_error():
    nlp = tok2vec_pipeline()
    examples = gold_examples(nlp)
    nlp.initialize(lambda: examples)
    reference = examples[0].reference
    reference.set_ents([Span(reference, 4, 5, "EVENT")])
    with pytest.raises(HybridNerError, match="EVENT"):
        nlp.update([examples[0]])
    # A soft target on an unknown label is not renormalized away either.
    dists = [{"O": 1.0}] * 4 + [{"U-EVENT": 0.5, "O": 0.5}] + [{"O": 1.0}]
    reference.user_data[TAG_LIKELIHOODS] = fixed_targets(dists, ["EVENT"])
    with pytest.raises(HybridNerError, match="U-EVENT"):
        nlp.update([examples[0]])
    with pytest.raises(ValueError, match="before nlp.initialize"):
        nlp.get_pipe("ner").add_label("EVENT")


def test_hard_targets_align_across_tokenizations_and_missing_is_ignored(trained):
    ner = trained.get_pipe("ner")
    reference = Doc(
        trained.vocab,
        words=["Alice", "Brown", "lives", "in", "Paris", "."],
        spaces=[True, True, True, True, False, False],
    )
    reference.set_ents([Span(reference, 0, 2, "PER")], default="missing")
    eg = Example(trained.make_doc("Alice Brown lives in Paris."), reference)
    target, mask = example_targets(eg, ner.tags, ner.tag_scheme)
    assert mask[:, 0].tolist() == [1, 1, 0, 0, 0, 0]
    assert [ner.tags[i] for i in target[:2].argmax(axis=1)] == ["B-PER", "L-PER"]


def test_save_load_and_source_into_another_pipeline(trained, tmp_path):
    trained.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    text = "Carol Smith visited Rome ."
    assert tuples(loaded(text).ents) == tuples(trained(text).ents) == [(0, 2, "PER"), (3, 4, "LOC")]
    assert loaded.get_pipe("ner").labels == trained.get_pipe("ner").labels
    # Source the NER alone: its listener is replaced by its own copy of the tok2vec.
    other = spacy.blank("en")
    other.add_pipe("sentencizer")
    loaded.replace_listeners("tok2vec", "ner", ["model.tok2vec"])
    other.add_pipe("ner", source=loaded)
    assert tuples(other(text).ents) == [(0, 2, "PER"), (3, 4, "LOC")]
    other.to_disk(tmp_path / "other")
    assert tuples(spacy.load(tmp_path / "other")(text).ents) == [(0, 2, "PER"), (3, 4, "LOC")]


CASED = """
[components.ner.model.cased]
@architectures = "spacy.Tok2Vec.v2"

[components.ner.model.cased.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 16
attrs = ["NORM","SHAPE"]
rows = [500,100]
include_static_vectors = false

[components.ner.model.cased.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 16
depth = 1
window_size = 1
maxout_pieces = 2
"""


def test_cased_features_beside_the_listener(tmp_path):
    from thinc.api import Config

    config = Config().from_str(TOK2VEC_NER.replace("{scheme}", "BILUO") + CASED)
    config["components"]["ner"]["model"]["width"] = 24
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    train(nlp, gold_examples(nlp))
    assert nlp.evaluate(gold_examples(nlp))["ents_f"] == 1.0
    # the listener stays at model.tok2vec, so the component can be sourced alone
    nlp.replace_listeners("tok2vec", "ner", ["model.tok2vec"])
    other = spacy.blank("en")
    other.add_pipe("ner", source=nlp)
    assert tuples(other("Carol Smith visited Rome .").ents) == [(0, 2, "PER"), (3, 4, "LOC")]


def test_a_saved_soft_ner_is_the_calibrated_targets_teacher(trained, tmp_path):
    """The teacher is found by its factory name; its probabilities come in the
    evidence's tag order, tags it lacks at 0."""
    from hybrid_ner.merge.calibration.mixing import teacher_probabilities
    from hybrid_ner.tags import tag_names

    trained.to_disk(tmp_path / "teacher")
    docs = [Doc(trained.vocab, words="Carol Smith visited Rome .".split())]
    (probs,) = teacher_probabilities(tmp_path / "teacher", docs, ["LOC", "MISC", "PER"])
    tags = tag_names(["LOC", "MISC", "PER"])
    assert probs.shape == (5, len(tags)) and not probs[:, tags.index("B-MISC")].any()
    best = [tags[i] for i in probs.argmax(axis=1)]
    assert best == ["B-PER", "L-PER", "O", "U-LOC", "O"]
    with pytest.raises(HybridNerError, match="no hybrid_ner_soft_ner component"):
        spacy.blank("en").to_disk(tmp_path / "blank")
        teacher_probabilities(tmp_path / "blank", docs, ["PER"])
