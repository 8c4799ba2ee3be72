from collections import Counter

import pytest
from spacy.tokens import Doc

from hybrid_ner.corpus import read_conll, write_docbin
from hybrid_ner.layers import HUMAN_ANNOTATED, OMITTED_KEY, UNANNOTATED_KEY
from hybrid_ner.simulation.omissions import omit_entities, simulate_budget, simulate_omissions

from ..conftest import WIKIGOLD


@pytest.fixture(scope="module")
def wikigold_docs():
    return read_conll(WIKIGOLD).docs


def spans(group):
    return [(s.start, s.end, s.label_) for s in group]


def test_omission_rate_is_respected_and_nothing_is_lost(wikigold_docs):
    noisy = simulate_omissions(wikigold_docs, 0.4, seed=0)
    n_gold = sum(len(d.ents) for d in wikigold_docs)
    n_kept = sum(len(d.ents) for d in noisy)
    assert 0.37 < 1 - n_kept / n_gold < 0.43
    for gold, doc in zip(wikigold_docs, noisy):
        assert [t.text for t in doc] == [t.text for t in gold] and doc.text == gold.text
        # kept + omitted == gold, as a partition
        assert sorted(spans(doc.ents) + spans(doc.spans[OMITTED_KEY])) == sorted(spans(gold.ents))
        # an omitted entity looks like a real "no entity": its tokens are O, not missing
        for span in doc.spans[OMITTED_KEY]:
            assert all(t.ent_iob_ == "O" for t in span)
    # the input is unchanged
    assert sum(len(d.ents) for d in wikigold_docs) == n_gold


def test_per_label_rates(wikigold_docs):
    noisy = simulate_omissions(wikigold_docs, 0.0, seed=1, label_rates={"PER": 1.0})
    kept = Counter(e.label_ for d in noisy for e in d.ents)
    assert kept["PER"] == 0 and kept["LOC"] == 1014 and kept["ORG"] == 898


def test_same_seed_same_bytes_other_seed_other_result(tmp_path, wikigold_docs):
    paths = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        path = tmp_path / f"{name}.spacy"
        write_docbin(path, simulate_omissions(wikigold_docs[:300], 0.4, seed=seed))
        paths.append(path.read_bytes())
    assert paths[0] == paths[1]
    assert paths[0] != paths[2]


def test_noise_of_a_sentence_does_not_depend_on_the_rest(wikigold_docs):
    alone = omit_entities(wikigold_docs[10], 0.5, seed=7)
    in_corpus = simulate_omissions(wikigold_docs[:20], 0.5, seed=7)[10]
    assert spans(alone.ents) == spans(in_corpus.ents)


def test_rate_out_of_range(nlp):
    with pytest.raises(ValueError, match="must be in"):
        omit_entities(nlp("x"), 1.5, seed=0)


def test_missing_tokens_stay_missing(nlp):
    doc = Doc(nlp.vocab, words=["Ada", "met", "Bob", "here"])
    doc.set_ents([doc[0:1]], missing=[doc[3:4]], default="outside")
    doc.set_ents([doc[0:1], doc[2:3]], default="unmodified")
    out = omit_entities(doc, 1.0, seed=0)
    assert [t.ent_iob_ for t in out] == ["O", "O", "O", ""]


def test_budget_keeps_whole_documents(wikigold_docs):
    out = simulate_budget(wikigold_docs, 0.25, seed=0)
    by_doc = {}
    for doc in out:
        by_doc.setdefault(doc.user_data["doc_id"], set()).add(doc.user_data[HUMAN_ANNOTATED])
    assert all(len(flags) == 1 for flags in by_doc.values())
    n_annotated_docs = sum(1 for flags in by_doc.values() if True in flags)
    assert n_annotated_docs == round(0.25 * 145)
    for gold, doc in zip(wikigold_docs, out):
        if doc.user_data[HUMAN_ANNOTATED]:
            assert spans(doc.ents) == spans(gold.ents)
        else:
            # MISSING, not "no entity"; the hidden entities stay inspectable
            assert all(t.ent_iob == 0 for t in doc)
            assert spans(doc.spans[UNANNOTATED_KEY]) == spans(gold.ents)


def budget_docs(nlp, doc_ids):
    docs = []
    for i, doc_id in enumerate(doc_ids):
        doc = Doc(nlp.vocab, words=["Ada", "visited", f"Town{i}"])
        doc.set_ents([doc[0:1]], default="outside")
        doc.user_data["doc_id"] = doc_id
        docs.append(doc)
    return docs


def test_budget_on_one_document_falls_back_to_sentences(nlp, capsys):
    docs = budget_docs(nlp, ["corpus:0"] * 10)
    out = simulate_budget(docs, 0.3, seed=0)
    assert sum(d.user_data[HUMAN_ANNOTATED] for d in out) == 3
    printed = capsys.readouterr().out
    assert "Budget by sentence: 0.3 of 1 document(s) rounds to 0" in printed
    assert len(printed.strip().splitlines()) == 1
    again = simulate_budget(docs, 0.3, seed=0)
    assert [d.user_data[HUMAN_ANNOTATED] for d in again] == [
        d.user_data[HUMAN_ANNOTATED] for d in out
    ]


def test_budget_by_document_when_documents_suffice(nlp, capsys):
    docs = budget_docs(nlp, [f"d{i // 2}" for i in range(10)])
    out = simulate_budget(docs, 0.4, seed=0)
    flags = {}
    for doc in out:
        flags.setdefault(doc.user_data["doc_id"], set()).add(doc.user_data[HUMAN_ANNOTATED])
    assert all(len(f) == 1 for f in flags.values()) and sum(True in f for f in flags.values()) == 2
    # all or nothing needs no fallback either
    assert all(
        d.user_data[HUMAN_ANNOTATED]
        for d in simulate_budget(budget_docs(nlp, ["x"] * 4), 1.0, seed=0)
    )
    assert capsys.readouterr().out == ""


def test_hard_model_keeps_the_overall_rate_but_omits_hard_entities_more(wikigold_docs):
    uniform = simulate_omissions(wikigold_docs, 0.4, seed=0)
    hard = simulate_omissions(wikigold_docs, 0.4, seed=0, model="hard")
    n_gold = sum(len(d.ents) for d in wikigold_docs)
    for noisy in (uniform, hard):
        assert 0.37 < sum(len(d.spans[OMITTED_KEY]) for d in noisy) / n_gold < 0.43
    forms = Counter(e.text.lower() for d in wikigold_docs for e in d.ents)

    def omitted_share(noisy, keep):
        total = sum(1 for d in wikigold_docs for e in d.ents if keep(e))
        dropped = sum(1 for d in noisy for e in d.spans[OMITTED_KEY] if keep(e))
        return dropped / total

    def singleton(e):
        return forms[e.text.lower()] == 1

    def frequent(e):
        return forms[e.text.lower()] >= 5

    def long(e):
        return len(e) >= 3

    # Uniform: about the same share everywhere; hard: rare and long ones far more often.
    assert abs(omitted_share(uniform, singleton) - omitted_share(uniform, frequent)) < 0.1
    assert omitted_share(hard, singleton) > omitted_share(hard, frequent) + 0.25
    assert omitted_share(hard, long) > omitted_share(uniform, long) + 0.1
    # The same partition guarantees as the uniform model.
    for gold, doc in zip(wikigold_docs, hard):
        assert sorted(spans(doc.ents) + spans(doc.spans[OMITTED_KEY])) == sorted(spans(gold.ents))


def test_hard_probabilities_have_the_requested_mean_and_favour_hard_entities(wikigold_docs):
    from hybrid_ner.simulation.omissions import hard_omission_probabilities

    for rate in (0.0, 0.2, 0.6, 0.95, 1.0):
        probs = [p for row in hard_omission_probabilities(wikigold_docs, rate) for p in row]
        assert len(probs) == sum(len(d.ents) for d in wikigold_docs)
        if rate in (0.0, 1.0):
            assert probs == pytest.approx([rate] * len(probs), abs=1e-9)  # none, or all
        else:  # harder entities more often than the mean, easier ones less
            assert 0.0 < min(probs) < rate < max(probs) <= 1.0
        assert sum(probs) / len(probs) == pytest.approx(rate, abs=1e-6)


def test_hard_model_refuses_per_label_rates_and_unknown_models(wikigold_docs):
    with pytest.raises(ValueError, match="uniform model only"):
        simulate_omissions(wikigold_docs[:5], 0.4, 0, {"PER": 1.0}, model="hard")
    with pytest.raises(ValueError, match="Unknown omission model"):
        simulate_omissions(wikigold_docs[:5], 0.4, 0, model="clumsy")
