"""Negative sampling of the human's silent tokens: alone (an LLM-free baseline)
and as an option of the calibrated targets."""

import math

import numpy
import pytest
import spacy

from hybrid_ner.corpus import write_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.layers import LLM_ADDED_KEY
from hybrid_ner.merge.calibration.mixing import CalibratedMixing
from hybrid_ner.merge.calibration.negative_sampling import NegativeSampling
from hybrid_ner.merge.merger import Merger
from hybrid_ner.tags import OUTSIDE, TAG_LIKELIHOODS
from hybrid_ner.training.merged_corpus import MergedCorpus

from ..doc_builders import make_doc

VOCAB = spacy.blank("en").vocab
WORDS = "John Smith visited New York City with Acme Corp yesterday and then went home".split()


def negsample(seed=0, rate=0.35):
    """Li et al.'s method: no annotator, sampled silence certain (ω = 0)."""
    return CalibratedMixing(
        omission_rate=0.0, annotator=False, negative_sampling=NegativeSampling(rate, seed)
    )


def evidence_of(mixing, doc):
    mixing.attach(doc, mixing.fit([doc]))
    return doc.user_data[TAG_LIKELIHOODS]


def test_entities_are_kept_and_ceil_lambda_n_silent_tokens_become_outside():
    doc = make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(3, 6, "LOC")])
    evidence = evidence_of(negsample(), doc)
    tags, values, mask = evidence["tags"], evidence["values"], evidence["mask"]
    assert [tags[int(i)] for i in values[:2].argmax(axis=1)] == ["B-PER", "L-PER"]
    assert mask[:2].tolist() == [1.0, 1.0]
    sampled = [i for i in range(2, len(doc)) if mask[i]]
    assert len(sampled) == math.ceil(0.35 * len(doc))
    for i in sampled:  # one-hot "outside"
        assert values[i, tags.index(OUTSIDE)] == 1.0 and values[i].sum() == 1.0
    for i in set(range(2, len(doc))) - set(sampled):  # no evidence, whatever the proposals say
        assert values[i].tolist() == [1.0] * len(tags)


def test_the_sample_depends_on_the_doc_and_seed_only():
    doc = make_doc(VOCAB, WORDS, human=[(0, 2, "PER")])
    other = make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(7, 9, "ORG")])
    first = NegativeSampling(seed=1).silence_mask(doc)
    assert numpy.array_equal(first, NegativeSampling(seed=1).silence_mask(other))
    masks = {tuple(NegativeSampling(seed=s).silence_mask(doc)) for s in range(8)}
    assert len(masks) > 1


def test_unannotated_docs_and_short_sentences():
    unannotated = make_doc(VOCAB, WORDS, annotated=False)
    assert not NegativeSampling().silence_mask(unannotated).any()
    short = make_doc(VOCAB, ["Ann", "ran"], human=[(0, 1, "PER")])
    # Fewer silent tokens than ⌈λ·n⌉: all of them.
    assert NegativeSampling(rate=1.0).silence_mask(short).tolist() == [False, True]
    with pytest.raises(HybridNerError, match="rate must be in"):
        NegativeSampling(rate=1.5)


def test_with_an_annotator_only_the_human_silence_is_sampled():
    def doc():
        return make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(7, 9, "ORG")])

    sampling = NegativeSampling(seed=3)
    sampled = sampling.silence_mask(doc())
    # min_posterior 0: every label's evidence counts where the human was silent.
    sampled_mixing = CalibratedMixing(
        omission_rate=0.5, negative_sampling=sampling, min_posterior=0
    )
    values = evidence_of(sampled_mixing, doc())
    softened = evidence_of(CalibratedMixing(omission_rate=0.5, min_posterior=0), doc())["values"]
    # ω = 1: the human's silence says nothing, only the annotator's evidence remains.
    annotator_only = evidence_of(CalibratedMixing(omission_rate=1.0, min_posterior=0), doc())[
        "values"
    ]
    assert sampled[2:].any() and not sampled[2:].all()
    for i in range(2, len(WORDS)):
        expected = softened[i] if sampled[i] else annotator_only[i]
        assert numpy.allclose(values["values"][i], expected)
    assert not numpy.allclose(softened, annotator_only)


def test_the_reader_never_merges_proposals_without_an_annotator(tmp_path):
    docs = [make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(7, 9, "ORG")])]
    write_docbin(tmp_path / "train.spacy", docs)
    reader = MergedCorpus(tmp_path / "train.spacy", Merger(), negsample())
    (example,) = list(reader(spacy.blank("en")))
    reference = example.reference
    assert [(e.start, e.end, e.label_) for e in reference.ents] == [(0, 2, "PER")]
    assert LLM_ADDED_KEY not in reference.spans
    assert reference.user_data[TAG_LIKELIHOODS]["mask"].sum() == 2 + math.ceil(0.35 * len(WORDS))
