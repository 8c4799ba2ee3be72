import pytest
import spacy

from hybrid_ner.merge.reliability import LabelStats, estimate_label_stats

from ..doc_builders import make_doc

WORDS = "John Smith visited New York City with Acme Corp yesterday".split()
VOCAB = spacy.blank("en").vocab


def test_counts_exact_matches_on_docs_both_annotated_only():
    docs = [
        make_doc(
            VOCAB,
            WORDS,
            human=[(0, 2, "PER"), (3, 6, "LOC")],
            llm=[(0, 2, "PER"), (3, 5, "LOC"), (3, 5, "LOC"), (0, 2, "ORG")],
        ),
        make_doc(VOCAB, WORDS, llm=[(0, 2, "PER")], annotated=False),
        make_doc(
            VOCAB, WORDS, human=[(7, 9, "ORG")]
        ),  # no proposals at all: the LLM did not see it
    ]
    del docs[2].spans["llm"]
    stats = estimate_label_stats(docs)
    assert stats == {
        "LOC": LabelStats(
            human=1, proposed=1, matched=0
        ),  # a duplicate counts once, a boundary error is wrong
        "ORG": LabelStats(human=0, proposed=1, matched=0),
        "PER": LabelStats(human=1, proposed=1, matched=1),
    }


def test_precision_is_smoothed_towards_the_prior():
    assert LabelStats(proposed=0).precision() == 0.5
    assert LabelStats(proposed=2, matched=2).precision(prior=0.5, strength=2) == 0.75
    assert LabelStats(proposed=1000, matched=900).precision() == pytest.approx(0.9, abs=0.001)
    assert LabelStats(proposed=4, matched=1).precision(strength=0) == 0.25
    assert LabelStats().precision(strength=0) == 0.0
