"""Calibration of an annotator on clean gold, and the per-token evidence."""

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from hybrid_ner.merge.calibration.estimate import (
    SILENCE,
    AnnotatorCalibration,
    estimate_calibration,
)
from hybrid_ner.merge.calibration.evidence import token_likelihoods
from hybrid_ner.merge.calibration.mixing import CalibratedMixing
from hybrid_ner.merge.calibration.omission import agreement_omission_rate
from hybrid_ner.merge.reliability import LabelStats
from hybrid_ner.tags import OUTSIDE, span_tags

from ..doc_builders import LABELS, make_doc, non_overlapping_spans

VOCAB = spacy.blank("en").vocab
WORDS = "John Smith visited New York City with Acme Corp yesterday".split()


def useless_calibration(rate: float = 0.2) -> AnnotatorCalibration:
    """An annotator whose answer does not depend on the truth: for every true
    label the same share of tokens gets each observation."""
    true_counts = {OUTSIDE: 1000, **{label: 100 for label in LABELS}}
    counts = {
        obs: {m: int(n * share) for m, n in true_counts.items()}
        for obs, share in [(SILENCE, 1 - 4 * rate / 4), *[(label, rate / 4) for label in LABELS]]
    }
    # Proposal positions independent of the true position.
    positions = {
        p: {t: n for t, n in [("O", 40), ("B", 20), ("I", 10), ("L", 20), ("U", 30)]}
        for p in "BILU"
    }
    return AnnotatorCalibration(labels=LABELS, counts=counts, positions=positions)


def informative_calibration() -> AnnotatorCalibration:
    counts = {
        SILENCE: {OUTSIDE: 950, "PER": 30, "LOC": 40, "ORG": 60, "MISC": 70},
        "PER": {OUTSIDE: 10, "PER": 70},
        "LOC": {OUTSIDE: 30, "LOC": 60, "ORG": 20},
        "ORG": {OUTSIDE: 10, "ORG": 20, "LOC": 0},
        "MISC": {MISC: 30} if (MISC := "MISC") else {},
    }
    positions = {
        "B": {"B": 40, "U": 5, "O": 5},
        "I": {"I": 20},
        "L": {"L": 40, "I": 3},
        "U": {"U": 60, "O": 10, "B": 2},
    }
    return AnnotatorCalibration(labels=LABELS, counts=counts, positions=positions)


def test_calibration_counts_observations_against_gold():
    gold = [(0, 2, "PER"), (3, 6, "LOC"), (7, 9, "ORG")]
    docs = [make_doc(VOCAB, WORDS, human=gold, llm=[(0, 2, "PER"), (3, 6, "ORG"), (9, 10, "LOC")])]
    cal = estimate_calibration(docs)
    assert cal.counts["PER"] == {"PER": 2}
    assert cal.counts["ORG"] == {"LOC": 3}
    assert cal.counts["LOC"] == {OUTSIDE: 1}
    assert cal.counts[SILENCE] == {OUTSIDE: 2, "ORG": 2}
    assert cal.quality["PER"].precision(strength=0) == 1.0 and cal.quality["ORG"].matched == 0
    assert not cal.biased


def test_likelihoods_shrink_to_chance_and_order_the_evidence():
    cal = informative_calibration()
    # Saying PER is far likelier on a PER token than on an outside token.
    assert cal.likelihood("PER", "PER") > 10 * cal.likelihood("PER", OUTSIDE)
    # Silence is likelier on outside tokens than on entity tokens.
    assert cal.likelihood(SILENCE, OUTSIDE) > cal.likelihood(SILENCE, "PER")
    # An unseen combination averages its members; an unseen label says nothing.
    assert cal.likelihood("LOC+PER", "PER") == pytest.approx(
        (cal.likelihood("LOC", "PER") + cal.likelihood("PER", "PER")) / 2
    )
    assert cal.likelihood("EVENT", "PER") == cal.likelihood("EVENT", OUTSIDE) == 1.0


def test_useless_annotator_has_constant_likelihoods():
    cal = useless_calibration()
    for obs in (SILENCE, *LABELS):
        values = {cal.likelihood(obs, m) for m in (OUTSIDE, *LABELS)}
        assert max(values) - min(values) < 1e-9


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_evidence_properties(data):
    n = len(WORDS)
    human = data.draw(non_overlapping_spans(n))
    llm = data.draw(non_overlapping_spans(n)) + data.draw(non_overlapping_spans(n))
    annotated = data.draw(st.booleans())
    omission = data.draw(st.sampled_from([0.0, 0.3, 0.9]))
    doc = make_doc(VOCAB, WORDS, human=human, llm=llm, annotated=annotated)
    evidence = token_likelihoods(doc, informative_calibration(), omission, labels=LABELS)
    values, column = evidence["values"], {tag: i for i, tag in enumerate(evidence["tags"])}
    # Likelihoods scaled so that each row's best tag has 1.
    assert ((0 <= values) & (values <= 1)).all() and numpy.allclose(values.max(axis=1), 1.0)
    # On a human entity's tokens all the likelihood is on its tag (whatever the prior).
    if annotated:
        for start, end, label in human:
            for i, tag in enumerate(span_tags(end - start, label), start):
                assert values[i].tolist() == [float(c == column[tag]) for c in range(len(column))]
    # A useless annotator contributes nothing: the evidence equals the human's alone.
    useless = token_likelihoods(doc, useless_calibration(), omission, labels=LABELS)
    alone = token_likelihoods(doc, None, omission, labels=LABELS)
    numpy.testing.assert_allclose(useless["values"], alone["values"], rtol=1e-5, atol=1e-6)
    numpy.testing.assert_array_equal(useless["mask"], alone["mask"])


def test_human_only_evidence_matches_hard_targets_when_silence_is_trusted():
    doc = make_doc(VOCAB, WORDS, human=[(0, 2, "PER")])
    evidence = token_likelihoods(doc, None, 0.0, labels=LABELS)
    # One-hot likelihoods: the target is the human's tag whatever the prior.
    one_hot = {tag: numpy.eye(len(evidence["tags"]))[i] for i, tag in enumerate(evidence["tags"])}
    assert evidence["values"][0].tolist() == one_hot["B-PER"].tolist()
    assert all(row.tolist() == one_hot[OUTSIDE].tolist() for row in evidence["values"][2:])
    assert evidence["mask"].tolist() == [1.0] * len(WORDS)
    # Nobody annotated: no evidence at all, every token masked.
    unannotated = make_doc(VOCAB, WORDS, annotated=False)
    assert token_likelihoods(unannotated, None, 0.3, labels=LABELS)["mask"].sum() == 0


def test_silence_is_weak_evidence_and_proposals_strong():
    cal = informative_calibration()
    doc = make_doc(VOCAB, WORDS, llm=[(0, 2, "PER")], annotated=False)
    evidence = token_likelihoods(doc, cal, 0.0, labels=LABELS)
    column = {tag: i for i, tag in enumerate(evidence["tags"])}
    row = evidence["values"][0]
    assert row[column["B-PER"]] > 5 * row[column[OUTSIDE]]
    assert row[column["B-PER"]] > row[column["I-PER"]]  # the proposal's own position is favoured
    silent = evidence["values"][9]
    # Silence favours "outside", but only by the calibrated likelihood ratio.
    assert 1.0 == silent[column[OUTSIDE]] > silent[column["U-PER"]] > 0.2


def test_omission_rate_is_recovered_from_agreement():
    cal = AnnotatorCalibration(
        labels=("PER",),
        counts={"PER": {"PER": 80, OUTSIDE: 20}, SILENCE: {OUTSIDE: 900, "PER": 20}},
        quality={},
    )
    cal = AnnotatorCalibration(
        labels=cal.labels, counts=cal.counts, quality={"PER": LabelStats(100, 100, 80)}
    )
    docs = []
    for i in range(100):
        # 80 of 100 proposals are right; the human omitted a quarter of the entities.
        human = [(0, 2, "PER")] if i % 4 else []
        proposal = (0, 2, "PER") if i < 80 else (3, 4, "PER")
        docs.append(make_doc(VOCAB, WORDS, human=human, llm=[proposal]))
    # The calibration sample the precision comes from: 8 of 10 proposals right.
    sample = [
        make_doc(
            VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(0, 2, "PER") if i < 8 else (3, 4, "PER")]
        )
        for i in range(10)
    ]
    estimate = agreement_omission_rate(docs, cal, sample=sample)
    assert estimate.rate == pytest.approx(0.25, abs=0.02)
    assert estimate.low <= estimate.rate <= estimate.high
    assert agreement_omission_rate(docs[:5], cal, sample=sample).rate is None  # too little evidence


def test_mixing_without_calibration_file_is_marked_biased():
    docs = [make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(0, 2, "PER"), (7, 9, "ORG")])]
    fitted = CalibratedMixing().fit(docs)
    assert fitted.calibration.biased and "BIASED" in fitted.describe()
    assert fitted.omission_rate == 0.0 and fitted.omission_source.startswith("default")


def test_a_label_is_trusted_where_enough_of_its_proposals_are_right_after_silence():
    quality = {
        "PER": LabelStats(human=100, proposed=100, matched=80),
        "LOC": LabelStats(human=100, proposed=100, matched=30),
        "ORG": LabelStats(human=100),  # never proposed: no evidence to trust
    }
    cal = AnnotatorCalibration(labels=("LOC", "ORG", "PER"), counts={}, quality=quality)
    # Right where the human was silent: ω·p / (ω·p + 1 − p); PER at ω 0.4: 0.62, LOC: 0.15.
    assert cal.trusted(0.4, 0.25) == ("PER",)
    # The more the human omits, the more a proposal on its silence is right.
    assert cal.trusted(0.9, 0.25) == ("LOC", "PER")
    # A human who omits nothing: a proposal on its silence is never right.
    assert cal.trusted(0.0, 0.25) == ()
    assert cal.trusted(0.0, 0.0) == ("LOC", "PER")


def test_untrusted_evidence_leaves_human_silence_alone_but_not_unannotated_docs():
    cal = informative_calibration()
    llm = [(0, 2, "PER"), (3, 6, "LOC")]
    doc = make_doc(VOCAB, WORDS, llm=llm)
    evidence = token_likelihoods(doc, None, 0.4, labels=LABELS)
    alone, column = evidence["values"], {tag: i for i, tag in enumerate(evidence["tags"])}
    every = token_likelihoods(doc, cal, 0.4, labels=LABELS)["values"]
    only_per = token_likelihoods(doc, cal, 0.4, labels=LABELS, trusted=("PER",))["values"]
    nothing = token_likelihoods(doc, cal, 0.4, labels=LABELS, trusted=())["values"]
    # Nothing trusted: the human's silence alone, the annotator's silence included.
    numpy.testing.assert_allclose(nothing, alone)

    def odds(values, i, tag):
        return values[i, column[tag]] / values[i, column[OUTSIDE]]

    # PER trusted: the evidence for PER counts (proposal and silence), for LOC it does not.
    for i, tag in [(0, "B-PER"), (1, "L-PER"), (4, "I-PER"), (9, "U-PER")]:
        assert odds(only_per, i, tag) == pytest.approx(odds(every, i, tag), rel=1e-5)
    for i, tag in [(3, "B-LOC"), (4, "I-LOC"), (0, "B-LOC"), (9, "U-LOC")]:
        assert odds(only_per, i, tag) == pytest.approx(odds(alone, i, tag), rel=1e-5)
    assert odds(every, 4, "I-LOC") > 2 * odds(alone, 4, "I-LOC")
    # Where nobody annotated there is no silence to harden: all the evidence counts.
    blank = make_doc(VOCAB, WORDS, llm=llm, annotated=False)
    numpy.testing.assert_allclose(
        token_likelihoods(blank, cal, 0.4, labels=LABELS, trusted=())["values"],
        token_likelihoods(blank, cal, 0.4, labels=LABELS)["values"],
    )


def test_an_annotator_without_trusted_labels_trains_as_human_silence(tmp_path):
    from hybrid_ner.corpus import write_docbin

    gold = [(0, 2, "PER"), (3, 6, "LOC"), (7, 9, "ORG")]
    # A calibration sample on which the annotator is mostly wrong.
    sample = [make_doc(VOCAB, WORDS, human=gold, llm=[(9, 10, "LOC"), (2, 3, "PER")])] * 40
    write_docbin(tmp_path / "dev.spacy", sample)
    docs = [make_doc(VOCAB, WORDS, human=gold[:1], llm=[(3, 6, "LOC"), (9, 10, "PER")])] * 20
    path = tmp_path / "dev.spacy"
    fitted = CalibratedMixing(calibration=path, omission_rate=0.5).fit(docs)
    assert fitted.trusted == () and "trusted on human silence: none" in fitted.describe()
    human_only = CalibratedMixing(calibration=path, omission_rate=0.5, annotator=False)
    hybrid = CalibratedMixing(calibration=path, omission_rate=0.5).attach(docs[0].copy(), fitted)
    silence = human_only.attach(docs[0].copy(), human_only.fit(docs))
    for key in ("values", "mask"):
        numpy.testing.assert_allclose(
            hybrid.user_data["tag_likelihoods"][key], silence.user_data["tag_likelihoods"][key]
        )


def test_settings_out_of_range_are_refused_in_one_line():
    from hybrid_ner.errors import HybridNerError
    from hybrid_ner.merge.calibration.mixing import create_calibrated_mixing

    with pytest.raises(HybridNerError, match=r"min_posterior must be in \[0, 0.999\], got 1.0"):
        create_calibrated_mixing(min_posterior=1.0)
    with pytest.raises(HybridNerError, match=r"omission_rate must be in \[0, 1\], got -0.1"):
        create_calibrated_mixing(omission_rate=-0.1)
