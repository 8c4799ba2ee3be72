import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from hybrid_ner.merge.merger import Merger
from hybrid_ner.merge.mixing import LabelMixing, create_label_mixing, soft_targets
from hybrid_ner.merge.reliability import LabelStats
from hybrid_ner.tags import OUTSIDE, TAG_LIKELIHOODS, tag_names

from ..doc_builders import LABELS, annotated_docs, make_doc

WORDS = "John Smith visited New York City with Acme Corp yesterday".split()
VOCAB = spacy.blank("en").vocab


def merged(**kwargs):
    uncovered = kwargs.pop("uncovered", "outside")
    return Merger(uncovered=uncovered)(make_doc(VOCAB, WORDS, **kwargs))


def test_human_tokens_are_one_hot_and_candidates_are_mixed_with_no_entity():
    doc = merged(human=[(0, 2, "PER")], llm=[(7, 9, "ORG"), (1, 2, "LOC")])
    targets = soft_targets(doc, {"ORG": 0.3})
    assert targets[0] == {"B-PER": 1.0} and targets[1] == {
        "L-PER": 1.0
    }  # the LLM's LOC lost to the human
    assert targets[2] == {OUTSIDE: 1.0}
    assert targets[7] == pytest.approx({"B-ORG": 0.3, OUTSIDE: 0.7})
    assert targets[8] == pytest.approx({"L-ORG": 0.3, OUTSIDE: 0.7})


def test_conflicting_candidates_share_the_token_uniformly():
    doc = merged(llm=[(3, 6, "LOC"), (3, 6, "ORG"), (4, 5, "LOC")])
    targets = soft_targets(doc, {"LOC": 0.8, "ORG": 0.2})
    third = 1 / 3
    assert targets[3] == pytest.approx({"B-LOC": 0.8 / 2, "B-ORG": 0.2 / 2, OUTSIDE: 0.5})
    assert targets[4] == pytest.approx(
        {
            "I-LOC": 0.8 * third,
            "I-ORG": 0.2 * third,
            "U-LOC": 0.8 * third,
            OUTSIDE: third * (0.2 + 0.8 + 0.2),
        }
    )


def test_missing_tokens_have_no_target_and_unknown_labels_get_the_default():
    doc = merged(human=[(0, 2, "PER")], llm=[(7, 9, "EVENT")], uncovered="missing")
    targets = soft_targets(doc, {}, default_lambda=0.4)
    assert targets[2] is None and targets[9] is None
    assert targets[7] == pytest.approx({"B-EVENT": 0.4, OUTSIDE: 0.6})


def test_lambda_follows_reliability_and_corrects_over_production():
    # Same precision, but the LLM proposes MISC 4x as often as the human does.
    stats = {
        "PER": LabelStats(human=100, proposed=100, matched=30),
        "MISC": LabelStats(human=100, proposed=400, matched=120),
        "LOC": LabelStats(human=100, proposed=100, matched=20),
    }
    reliability_only = LabelMixing(balance=0.0).fit(stats)
    assert reliability_only["PER"] == 1.0  # the best label gets 1, the others in proportion
    assert reliability_only["MISC"] == pytest.approx(1.0, abs=0.01)
    assert reliability_only["LOC"] == pytest.approx(
        stats["LOC"].precision() / stats["PER"].precision()
    )
    balanced = LabelMixing(balance=1.0).fit(stats)
    assert balanced["MISC"] < balanced["PER"] / 2  # over-production is discounted
    # the expected added mass of each label follows the human's class distribution
    mass = {label: balanced[label] * s.proposed for label, s in stats.items()}
    assert mass["MISC"] / mass["PER"] == pytest.approx(1.0, abs=0.05)
    clipped = LabelMixing(min_lambda=0.9, lambdas=(("LOC", 0.2),)).fit(stats)
    assert clipped == {"PER": 1.0, "MISC": 0.9, "LOC": 0.2}
    # An omission rate that halves every measured precision changes nothing.
    halved = {k: LabelStats(s.human, s.proposed, s.matched // 2) for k, s in stats.items()}
    unsmoothed = LabelMixing(strength=0.0)
    assert unsmoothed.fit(halved) == pytest.approx(unsmoothed.fit(stats), abs=0.01)


def test_the_targets_do_not_depend_on_the_overlap_rule():
    """Every candidate of an overlap is mixed, whichever the merge added: the
    reader refuses merger.overlap with λ mixing for that reason."""
    llm = [(4, 5, "ORG"), (3, 6, "LOC"), (3, 5, "PER"), (7, 9, "ORG")]
    docs = {
        (rule, seed): Merger(overlap=rule, seed=seed)(make_doc(VOCAB, WORDS, llm=llm))
        for rule, seed in [("longest", 0), ("first", 0), ("random", 0), ("random", 5)]
    }
    added = {key: str(doc.spans["llm_added"]) for key, doc in docs.items()}
    assert added[("longest", 0)] != added[("first", 0)]  # the rules did pick differently
    targets = {key: soft_targets(doc, {}) for key, doc in docs.items()}
    assert len({repr(t) for t in targets.values()}) == 1
    assert set(targets[("first", 0)][4]) == {"I-LOC", "U-ORG", "L-PER", OUTSIDE}


def test_registered_settings_are_validated():
    with pytest.raises(ValueError, match="min_lambda"):
        create_label_mixing(min_lambda=1.5)
    mixing = create_label_mixing(lambdas={"PER": 0.25})
    docs = [merged(llm=[(0, 2, "PER")]), merged(human=[(7, 9, "ORG")], uncovered="missing")]
    mixing.attach_all(docs, mixing.fit({}))
    # The one target format, rows fixed; every Doc gets the columns of all labels used.
    first, second = (doc.user_data[TAG_LIKELIHOODS] for doc in docs)
    assert first["tags"] == second["tags"] == tag_names(["ORG", "PER"])
    assert first["fixed"].all() and first["mask"].all()
    column = {tag: i for i, tag in enumerate(first["tags"])}
    assert first["values"][0, column["B-PER"]] == pytest.approx(0.25)
    assert first["values"][0, column[OUTSIDE]] == pytest.approx(0.75)
    assert first["values"][0].sum() == pytest.approx(1.0)
    # Missing tokens have no target (mask 0, no mass).
    assert second["mask"].tolist() == [0.0] * 7 + [1.0, 1.0, 0.0]
    assert not second["values"][second["mask"] == 0].any()


@settings(max_examples=300, deadline=None)
@given(
    annotated_docs(VOCAB),
    st.fixed_dictionaries({label: st.floats(0, 1) for label in LABELS}),
    st.sampled_from(["outside", "missing"]),
)
def test_every_target_is_a_distribution(doc, lambdas, uncovered):
    human = (
        [(e.start, e.end, e.label_) for e in doc.ents] if doc.user_data["human_annotated"] else []
    )
    Merger(uncovered=uncovered, overlap="random")(doc)
    targets = soft_targets(doc, lambdas)
    assert len(targets) == len(doc)
    for i, dist in enumerate(targets):
        if dist is None:
            assert doc[i].ent_iob == 0
            continue
        assert sum(dist.values()) == pytest.approx(1.0)
        assert all(p >= 0 for p in dist.values())
    for start, end, label in human:  # human tokens stay one-hot on the human tag
        assert all(
            len(targets[i]) == 1 and next(iter(targets[i]))[2:] == label for i in range(start, end)
        )
    assert soft_targets(doc, lambdas) == targets  # deterministic
