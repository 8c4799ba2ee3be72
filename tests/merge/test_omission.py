"""ω, the human's omission rate: the density estimate, its interval, and its use."""

import pytest
import spacy

from hybrid_ner.corpus import read_conll
from hybrid_ner.merge.calibration.mixing import CalibratedMixing
from hybrid_ner.merge.calibration.omission import OmissionEstimate, density_omission_rate
from hybrid_ner.simulation.omissions import simulate_omissions

from ..conftest import WIKIGOLD
from ..doc_builders import make_doc


@pytest.fixture(scope="module")
def wikigold_split():
    docs = read_conll(WIKIGOLD).docs
    # Whole documents: every fifth one is the complete sample, the rest train.
    ids = list(dict.fromkeys(d.user_data["doc_id"] for d in docs))
    sample_ids = set(ids[::5])
    train = [d for d in docs if d.user_data["doc_id"] not in sample_ids]
    sample = [d for d in docs if d.user_data["doc_id"] in sample_ids]
    return train, sample


@pytest.mark.parametrize("model", ["uniform", "hard"])
@pytest.mark.parametrize("rate", [0.2, 0.4, 0.6])
def test_density_recovers_the_rate_under_both_omission_models(wikigold_split, model, rate):
    train, sample = wikigold_split
    noisy = simulate_omissions(train, rate, seed=0, model=model)
    estimate = density_omission_rate(noisy, sample)
    assert estimate.rate == pytest.approx(rate, abs=0.1)
    assert estimate.low <= estimate.rate <= estimate.high
    assert estimate.width < 0.2


def test_no_omissions_estimate_near_zero_and_clipped(wikigold_split):
    train, sample = wikigold_split
    estimate = density_omission_rate(train, sample)
    assert 0.0 <= estimate.rate < 0.1


def test_a_small_sample_gives_a_wide_interval(wikigold_split):
    train, sample = wikigold_split
    noisy = simulate_omissions(train, 0.4, seed=0)
    small = density_omission_rate(noisy, sample[:15])
    large = density_omission_rate(noisy, sample)
    assert small.width > large.width
    assert not OmissionEstimate(0.4, 0.1, 0.7).trusted(0.2)
    assert OmissionEstimate(0.4, 0.35, 0.45).trusted(0.2)
    assert not OmissionEstimate(None).trusted(0.2)


def test_mixing_uses_a_trusted_estimate_and_is_cautious_with_an_uncertain_one(
    wikigold_split, tmp_path
):
    from hybrid_ner.corpus import write_docbin

    train, sample = wikigold_split
    noisy = simulate_omissions(train, 0.4, seed=0)
    write_docbin(tmp_path / "dev.spacy", sample)
    write_docbin(tmp_path / "tiny.spacy", sample[:6])
    fitted = CalibratedMixing(tmp_path / "dev.spacy", annotator=False).fit(noisy)
    assert fitted.calibration is None and fitted.omission_rate == pytest.approx(0.4, abs=0.1)
    assert fitted.omission_source.startswith("estimated from density: ")
    assert "No annotator: human-only training" in fitted.describe()
    assert "90% interval" in fitted.describe()
    assert fitted.summary()["omission_estimate"]["rate"] == round(fitted.omission_rate, 4)
    # A tiny sample: no estimate at all, silence is trusted as in human-only training.
    tiny = CalibratedMixing(tmp_path / "tiny.spacy", annotator=False).fit(noisy)
    assert tiny.omission_rate == 0.0 and "too small a sample: 6 units" in tiny.omission_source
    # A small one: the interval is wider than 0.2, so its lower end is used, not the point value.
    write_docbin(tmp_path / "small.spacy", sample[100:112])
    fitted = CalibratedMixing(tmp_path / "small.spacy", annotator=False).fit(noisy)
    assert "too uncertain" in fitted.omission_source and fitted.omission is not None
    assert fitted.omission_rate == pytest.approx(fitted.omission.low)
    assert fitted.omission_rate < fitted.omission.rate
    given = CalibratedMixing(tmp_path / "dev.spacy", omission_rate=0.25, annotator=False)
    assert given.fit(noisy).omission_rate == 0.25


def test_no_annotator_softens_silence_and_ignores_proposals():
    vocab = spacy.blank("en").vocab
    words = "Ann met Bob in Rome".split()
    doc = make_doc(vocab, words, human=[(0, 1, "PER")], llm=[(2, 3, "PER"), (4, 5, "LOC")])
    mixing = CalibratedMixing(omission_rate=0.3, annotator=False)
    fitted = mixing.fit([doc])
    mixing.attach(doc, fitted)
    values = doc.user_data["tag_likelihoods"]["values"]
    # Bob and Rome: silence softened by ω alike, the proposals play no part.
    assert values[2].tolist() == values[4].tolist()
    assert values[2, 0] == 1.0 and values[2, 1:].max() == pytest.approx(0.3)


def test_an_annotator_that_proposed_nothing_is_no_evidence(tmp_path):
    from hybrid_ner.corpus import write_docbin

    vocab = spacy.blank("en").vocab
    words = "Ann met Bob in Rome".split()
    dev = [make_doc(vocab, words, human=[(0, 1, "PER"), (4, 5, "LOC")], llm=[]) for _ in range(3)]
    write_docbin(tmp_path / "dev_llm.spacy", dev)
    train = [make_doc(vocab, words, human=[(0, 1, "PER")], llm=[(2, 3, "PER")])]
    fitted = CalibratedMixing(tmp_path / "dev_llm.spacy").fit(train)
    assert fitted.no_evidence and fitted.calibration is None
    assert "No evidence from the annotator" in fitted.describe()
    assert "human-only training" in fitted.describe()
    assert fitted.summary()["no_evidence"] is True
    # Its proposals never reach the targets: Bob's silence is softened like any other.
    mixing = CalibratedMixing(tmp_path / "dev_llm.spacy", omission_rate=0.2)
    fitted = mixing.fit(train)
    mixing.attach(train[0], fitted)
    values = train[0].user_data["tag_likelihoods"]["values"]
    assert values[2].tolist() == values[3].tolist()
