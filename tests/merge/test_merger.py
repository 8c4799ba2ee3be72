import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from spacy.tokens import DocBin

from hybrid_ner.errors import HybridNerError
from hybrid_ner.layers import HUMAN_KEY, LLM_ADDED_KEY, LLM_KEY, LLM_REJECTED_KEY
from hybrid_ner.merge.acceptance import (
    REASON_LABEL,
    REASON_RELIABILITY,
    create_accept_labels,
    create_accept_reliable,
)
from hybrid_ner.merge.merger import (
    REASON_DUPLICATE,
    REASON_OVERLAP_HUMAN,
    REASON_OVERLAP_LLM,
    Merger,
    candidate_spans,
)
from hybrid_ner.merge.reliability import LabelStats

from ..doc_builders import annotated_docs, make_doc, tuples

WORDS = "John Smith visited New York City with Acme Corp yesterday".split()
VOCAB = spacy.blank("en").vocab


def rejected(doc):
    return sorted((s.start, s.end, s.label_, s.id_) for s in doc.spans[LLM_REJECTED_KEY])


def test_human_wins_and_provenance_is_kept():
    doc = make_doc(
        VOCAB,
        WORDS,
        human=[(0, 2, "PER")],
        llm=[(1, 2, "PER"), (3, 6, "LOC"), (4, 5, "ORG"), (7, 9, "ORG"), (7, 9, "ORG")],
    )
    Merger()(doc)
    assert tuples(doc.spans[HUMAN_KEY]) == [(0, 2, "PER")]
    assert tuples(doc.spans[LLM_ADDED_KEY]) == [(3, 6, "LOC"), (7, 9, "ORG")]
    assert rejected(doc) == [
        (1, 2, "PER", REASON_OVERLAP_HUMAN),
        (4, 5, "ORG", REASON_OVERLAP_LLM),
        (7, 9, "ORG", REASON_DUPLICATE),
    ]
    assert tuples(doc.ents) == [(0, 2, "PER"), (3, 6, "LOC"), (7, 9, "ORG")]
    assert [t.ent_iob_ for t in doc][2] == "O"
    # the proposals themselves are untouched
    assert len(doc.spans[LLM_KEY]) == 5


def test_provenance_and_reasons_survive_a_docbin_round_trip():
    doc = make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(0, 1, "ORG"), (3, 6, "LOC")])
    Merger()(doc)
    doc_bin = DocBin(store_user_data=True, docs=[doc])
    (loaded,) = DocBin().from_bytes(doc_bin.to_bytes()).get_docs(spacy.blank("en").vocab)
    assert rejected(loaded) == [(0, 1, "ORG", REASON_OVERLAP_HUMAN)]
    assert tuples(loaded.spans[LLM_ADDED_KEY]) == [(3, 6, "LOC")]
    assert tuples(loaded.ents) == tuples(doc.ents)


@pytest.mark.parametrize(
    "rule,expected",
    [
        ("longest", [(3, 6, "LOC")]),  # the longest span wins
        ("first", [(4, 5, "ORG")]),  # the first proposed wins
        ("reliable", [(4, 5, "ORG")]),  # ORG is the more reliable label
    ],
)
def test_overlap_rules(rule, expected):
    stats = {
        "ORG": LabelStats(human=10, proposed=10, matched=9),
        "LOC": LabelStats(human=10, proposed=10, matched=2),
    }
    doc = Merger(overlap=rule, stats=stats)(
        make_doc(VOCAB, WORDS, llm=[(4, 5, "ORG"), (3, 6, "LOC")])
    )
    assert tuples(doc.spans[LLM_ADDED_KEY]) == expected
    # both stay candidates (what label mixing mixes)
    assert tuples(candidate_spans(doc)) == [(3, 6, "LOC"), (4, 5, "ORG")]


def added_by(merger, doc):
    return tuples(merger(doc).spans[LLM_ADDED_KEY])


def test_random_rule_is_seeded_per_doc_and_varies_with_the_seed():
    proposals = [(3, 6, "LOC"), (3, 6, "ORG"), (4, 5, "MISC"), (3, 5, "PER")]
    docs = [make_doc(VOCAB, WORDS, llm=proposals, doc_id=str(i)) for i in range(30)]
    picks = {
        seed: [added_by(Merger(overlap="random", seed=seed), d) for d in docs] for seed in (0, 1)
    }
    again = [added_by(Merger(overlap="random", seed=0), d) for d in docs]
    assert again == picks[0]
    assert picks[0] != picks[1]
    # every proposal is picked somewhere: the choice is random, not a fixed rule
    chosen = {span for added in picks[0] + picks[1] for span in added}
    assert chosen == set(proposals)


def test_label_acceptance():
    doc = make_doc(VOCAB, WORDS, llm=[(3, 6, "LOC"), (7, 9, "ORG")])
    Merger(accept=create_accept_labels(["LOC"]))(doc)
    assert tuples(doc.spans[LLM_ADDED_KEY]) == [(3, 6, "LOC")]
    assert rejected(doc) == [(7, 9, "ORG", REASON_LABEL)]


def test_reliability_threshold_is_estimated_from_doubly_annotated_docs():
    # The LLM's ORG proposals never match the human; its LOC proposals always do.
    train = [
        make_doc(
            VOCAB, WORDS, human=[(3, 6, "LOC")], llm=[(3, 6, "LOC"), (0, 2, "ORG")], doc_id=str(i)
        )
        for i in range(12)
    ]
    # Docs the human did not annotate do not count, however wrong they look.
    train += [make_doc(VOCAB, WORDS, llm=[(3, 6, "PER")], annotated=False) for _ in range(50)]
    merger = Merger(accept=create_accept_reliable(min_precision=0.5, min_support=5)).fit(train)
    assert merger.stats["ORG"] == LabelStats(human=0, proposed=12, matched=0)
    assert merger.stats["LOC"] == LabelStats(human=12, proposed=12, matched=12)
    assert "PER" not in merger.stats
    doc = merger(make_doc(VOCAB, WORDS, llm=[(3, 6, "LOC"), (0, 2, "ORG"), (7, 9, "PER")]))
    assert tuples(doc.spans[LLM_ADDED_KEY]) == [(3, 6, "LOC"), (7, 9, "PER")]
    assert rejected(doc) == [(0, 2, "ORG", REASON_RELIABILITY)]


def test_per_label_thresholds_override_the_default():
    stats = {"ORG": LabelStats(human=20, proposed=20, matched=8)}  # precision ≈ 0.41
    doc = make_doc(VOCAB, WORDS, llm=[(7, 9, "ORG")])
    lenient = create_accept_reliable(0.3, min_support=1)
    assert added_by(Merger(accept=lenient, stats=stats), doc) == [(7, 9, "ORG")]
    strict = create_accept_reliable(0.3, label_thresholds={"ORG": 0.5}, min_support=1)
    assert added_by(Merger(accept=strict, stats=stats), doc) == []
    with pytest.raises(ValueError, match="ORG"):
        create_accept_reliable(label_thresholds={"ORG": 1.5})


def test_uncovered_tokens_outside_or_missing():
    doc = make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(7, 9, "ORG")])
    Merger(uncovered="missing")(doc)
    assert [t.ent_iob_ for t in doc] == ["B", "I", "", "", "", "", "", "B", "I", ""]
    doc = make_doc(VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(7, 9, "ORG")])
    Merger(uncovered="outside")(doc)
    assert [t.ent_iob_ for t in doc] == ["B", "I", "O", "O", "O", "O", "O", "B", "I", "O"]


def test_unannotated_docs_take_proposals_and_merging_twice_changes_nothing():
    doc = make_doc(VOCAB, WORDS, llm=[(0, 2, "PER"), (3, 6, "LOC")], annotated=False)
    assert all(t.ent_iob == 0 for t in doc)
    merger = Merger()
    merger(doc)
    assert tuples(doc.spans[HUMAN_KEY]) == []
    assert tuples(doc.ents) == [(0, 2, "PER"), (3, 6, "LOC")]
    before = (tuples(doc.ents), tuples(doc.spans[LLM_ADDED_KEY]), rejected(doc))
    merger(doc)  # the added LLM entities are not mistaken for human ones
    assert (tuples(doc.ents), tuples(doc.spans[LLM_ADDED_KEY]), rejected(doc)) == before


def test_candidates_are_added_plus_overlap_losers():
    doc = make_doc(
        VOCAB, WORDS, human=[(0, 2, "PER")], llm=[(3, 6, "LOC"), (3, 6, "ORG"), (0, 1, "ORG")]
    )
    Merger()(doc)
    assert tuples(candidate_spans(doc)) == [(3, 6, "LOC"), (3, 6, "ORG")]


def test_unlabelled_proposal_is_a_clear_error():
    doc = make_doc(VOCAB, WORDS, llm=[(3, 6, "LOC")])
    doc.user_data["doc_id"] = "doc-7"
    doc.spans[LLM_KEY] = list(doc.spans[LLM_KEY]) + [doc[7:9]]
    with pytest.raises(HybridNerError, match=r"doc_id=doc-7.*'Acme Corp'.*no label"):
        Merger()(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotated_docs(VOCAB), annotated_docs(VOCAB))
def test_merge_properties(doc, other):
    human_before = tuples(doc.ents) if doc.user_data["human_annotated"] else []
    n_proposed = len(doc.spans[LLM_KEY])
    merger = Merger(overlap="random", seed=3)
    merger(doc)
    # no human span is ever lost or changed
    assert tuples(doc.spans[HUMAN_KEY]) == human_before
    assert set(human_before) <= set(tuples(doc.ents))
    # no added span overlaps a human span or another added span
    human_tokens = {i for s, e, _ in human_before for i in range(s, e)}
    added_tokens = [i for s, e, _ in tuples(doc.spans[LLM_ADDED_KEY]) for i in range(s, e)]
    assert not human_tokens & set(added_tokens)
    assert len(added_tokens) == len(set(added_tokens))
    # every proposal is accounted for exactly once
    assert len(doc.spans[LLM_ADDED_KEY]) + len(doc.spans[LLM_REJECTED_KEY]) == n_proposed
    assert sorted(tuples(doc.ents)) == sorted(human_before + tuples(doc.spans[LLM_ADDED_KEY]))
    # merging again, after another Doc, changes nothing (the random choice is per Doc)
    added = (tuples(doc.spans[LLM_ADDED_KEY]), rejected(doc))
    merger(other)
    assert (added_by(merger, doc), rejected(doc)) == added


@pytest.mark.parametrize("setting", [{"overlap": "shortest"}, {"uncovered": "inside"}])
def test_unknown_rule_is_refused_not_ignored(setting):
    with pytest.raises(HybridNerError, match=next(iter(setting))):
        Merger(**setting)
