from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from hybrid_ner.evaluation import proposal_quality


def test_exact_match_counts_per_label_and_distribution():
    doc = Doc(Vocab(), words="Ada met Bob in Paris and Rome today".split())
    doc.set_ents([Span(doc, 0, 1, "PER"), Span(doc, 2, 3, "PER"), Span(doc, 4, 5, "LOC")])
    doc.spans["llm"] = [
        Span(doc, 0, 1, "PER"),
        Span(doc, 0, 1, "PER"),  # duplicate counts once
        Span(doc, 2, 3, "ORG"),  # wrong label: FP for ORG, FN for PER
        Span(doc, 4, 5, "LOC"),
        Span(doc, 6, 7, "LOC"),
    ]
    q = proposal_quality([doc], "llm")
    assert q["per_label"]["PER"] == {
        "p": 1.0,
        "r": 0.5,
        "f": 2 / 3,
        "tp": 1,
        "fp": 0,
        "fn": 1,
        "proposed": 1,
        "gold": 2,
    }
    assert q["per_label"]["LOC"]["p"] == 0.5 and q["per_label"]["LOC"]["r"] == 1.0
    assert q["per_label"]["ORG"]["fp"] == 1 and q["per_label"]["ORG"]["gold"] == 0
    assert q["overall"]["tp"] == 2 and q["overall"]["proposed"] == 4 and q["overall"]["gold"] == 3
    assert q["distribution"] == {"LOC": 0.5, "ORG": 0.25, "PER": 0.25}
    assert q["gold_distribution"]["PER"] == 2 / 3


def test_docs_without_the_group_count_as_no_proposals_and_gold_can_be_a_span_group():
    doc = Doc(Vocab(), words="Ada met Bob".split())
    doc.spans["gold"] = [Span(doc, 0, 1, "PER")]
    q = proposal_quality([doc], "llm", gold_key="gold")
    assert q["overall"]["fn"] == 1 and q["overall"]["p"] == 0.0 and q["overall"]["f"] == 0.0
