"""Which documents the human annotates: random (the grid's old choice) and uncertainty."""

import random

import pytest
import spacy
from spacy.util import registry

from hybrid_ner.corpus import write_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.layers import DOC_ID, HUMAN_ANNOTATED
from hybrid_ner.merge.selection import RandomSelection, UncertaintySelection
from hybrid_ner.simulation.omissions import simulate_budget

from ..doc_builders import make_doc

VOCAB = spacy.blank("en").vocab


def old_budget_choice(docs, fraction, seed):
    """The set of Docs the grid annotated before selections existed (by index)."""
    units = [doc.user_data.get(DOC_ID, str(i)) for i, doc in enumerate(docs)]
    doc_ids = list(dict.fromkeys(units))
    n_kept = round(fraction * len(doc_ids))
    too_coarse = n_kept in (0, len(doc_ids)) and 0 < round(fraction * len(docs)) < len(docs)
    if 0.0 < fraction < 1.0 and too_coarse:
        units = [f"sentence:{i}" for i in range(len(docs))]
        doc_ids = list(units)
    random.Random(f"budget:{seed}").shuffle(doc_ids)
    annotated = set(doc_ids[: round(fraction * len(doc_ids))])
    return {i for i, unit in enumerate(units) if unit in annotated}


def docs_in(doc_ids):
    words = "Ada met Bob in Paris".split()
    return [make_doc(VOCAB, words, [(0, 1, "PER")], doc_id=d) for d in doc_ids]


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 42])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("n_docs", [1, 3, 20])
def test_random_selection_is_the_old_budget_choice(seed, fraction, n_docs):
    docs = docs_in([f"d{i % n_docs}" for i in range(24)])
    expected = old_budget_choice(docs, fraction, seed)
    chosen = RandomSelection(seed).choose(docs, fraction)
    assert {i for unit in chosen for i in unit.sentences} == expected
    out = simulate_budget(docs, fraction, seed)
    assert {i for i, doc in enumerate(out) if doc.user_data[HUMAN_ANNOTATED]} == expected


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 1.0])
def test_budget_picks_round_fraction_of_documents(fraction):
    docs = docs_in([f"d{i // 2}" for i in range(40)])
    chosen = RandomSelection(3).choose(docs, fraction)
    assert len(chosen) == round(fraction * 20)
    assert all(len(unit.sentences) == 2 for unit in chosen)
    assert len(RandomSelection(3).rank(docs)) == 20


@pytest.fixture
def calibration_file(tmp_path):
    """PER proposals always right, MISC ones right half the time, silence on plain text."""
    docs = []
    for i in range(200):
        words = f"Ada Lovelace met Bob near the big parade {i} today".split()
        gold = [(0, 2, "PER"), (3, 4, "PER")] + ([(7, 8, "MISC")] if i % 2 else [])
        docs.append(make_doc(VOCAB, words, gold, [(0, 2, "PER"), (3, 4, "PER"), (7, 8, "MISC")]))
        docs.append(make_doc(VOCAB, "we walked home and then ate soup".split()))
    path = tmp_path / "dev_llm.spacy"
    write_docbin(path, docs)
    return path


def test_uncertainty_ranks_unreliable_proposals_first(calibration_file):
    words = "Cleo and Dan saw a big parade".split()
    docs = [
        make_doc(VOCAB, "we ate soup and then walked home".split(), doc_id="silent"),
        make_doc(VOCAB, words, [(0, 1, "PER")], [(0, 1, "PER"), (2, 3, "PER")], doc_id="sure"),
        # Gold says PER everywhere: the selection must not read it.
        make_doc(VOCAB, words, [(5, 7, "PER")], [(5, 7, "MISC"), (6, 7, "PER")], doc_id="unsure"),
    ]
    selection = registry.misc.get("hybrid_ner.uncertainty_selection.v1")(
        calibration=str(calibration_file)
    )
    ranking = selection.rank(docs)
    assert ranking[0].doc_id == "unsure"
    assert ranking[0].score > 1.5 * max(unit.score for unit in ranking[1:])
    assert ranking[0].why.endswith("expected token errors; 2 proposals")
    assert [unit.doc_id for unit in selection.choose(docs, 1 / 3)] == ["unsure"]
    # The Docs themselves are left as they were.
    assert all(
        HUMAN_ANNOTATED not in doc.user_data or doc.user_data[HUMAN_ANNOTATED] for doc in docs
    )


def test_uncertainty_selection_needs_a_calibration_file(tmp_path):
    with pytest.raises(HybridNerError, match="needs a calibration file"):
        UncertaintySelection(calibration=tmp_path / "missing.spacy").rank(docs_in(["a", "b"]))


def test_uncertainty_fills_the_budget_by_sentences_and_ranks_per_sentence(calibration_file):
    words = "Cleo and Dan saw a big parade".split()
    unsure = ([(5, 7, "PER")], [(5, 7, "MISC"), (6, 7, "PER")])
    # One unsure sentence in a long quiet document, short documents of one unsure sentence each.
    long_doc = [make_doc(VOCAB, words, *unsure, doc_id="long")]
    long_doc += [make_doc(VOCAB, "we ate soup and then walked home".split(), doc_id="long")] * 9
    short = [make_doc(VOCAB, words, *unsure, doc_id=f"short{i}") for i in range(10)]
    docs = long_doc + short
    selection = UncertaintySelection(calibration=calibration_file)
    ranking = selection.rank(docs)
    # Per sentence: the long document holds little more uncertainty than one short one, over
    # ten times the sentences (ten times the cost).
    assert ranking[-1].doc_id == "long"
    assert ranking[-1].score < ranking[0].score / 2
    # 25% of 20 sentences: five short documents, not the long one (ten sentences).
    chosen = selection.choose(docs, 0.25, ranking)
    assert sorted(len(unit.sentences) for unit in chosen) == [1] * 5
