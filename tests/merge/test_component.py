import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

from hybrid_ner.layers import HUMAN_KEY, LLM_ADDED_KEY, LLM_REJECTED_KEY

from ..doc_builders import make_doc, tuples

WORDS = "Ann met Bob in Rome and Acme in Oslo".split()
PATTERNS = [
    {"label": "PER", "pattern": "Ann"},
    {"label": "PER", "pattern": "Bob"},
    {"label": "ORG", "pattern": "Rome"},  # the proposal source is wrong about Rome...
    {"label": "ORG", "pattern": "Acme"},
    {"label": "ORG", "pattern": "Oslo"},  # ... and Oslo
]


def proposal_pipeline(**merger_config):
    """A span ruler writes proposals to doc.spans["llm"]; the merger follows it."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("span_ruler", config={"spans_key": "llm", "annotate_ents": False})
    ruler.add_patterns(PATTERNS)
    nlp.add_pipe("hybrid_ner_merger", config=merger_config)
    return nlp


def human_doc(vocab, ents):
    doc = Doc(vocab, words=WORDS)
    doc.set_ents([Span(doc, s, e, label) for s, e, label in ents])
    return doc


def test_merges_after_any_proposal_source_and_keeps_human_entities():
    nlp = proposal_pipeline()
    doc = nlp(human_doc(nlp.vocab, [(0, 1, "PER"), (4, 5, "LOC")]))
    assert tuples(doc.spans[HUMAN_KEY]) == [(0, 1, "PER"), (4, 5, "LOC")]
    assert tuples(doc.spans[LLM_ADDED_KEY]) == [(2, 3, "PER"), (6, 7, "ORG"), (8, 9, "ORG")]
    assert [(s.text, s.id_) for s in doc.spans[LLM_REJECTED_KEY]] == [
        ("Ann", "overlap_human"),
        ("Rome", "overlap_human"),
    ]
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Ann", "PER"),
        ("Bob", "PER"),
        ("Rome", "LOC"),
        ("Acme", "ORG"),
        ("Oslo", "ORG"),
    ]


def test_reliability_is_estimated_at_initialize_and_saved(tmp_path):
    nlp = proposal_pipeline(
        accept={"@misc": "hybrid_ner.accept_reliable.v1", "min_precision": 0.6, "min_support": 3}
    )
    # Training data carrying human entities and the same source's proposals:
    # ORG is right 1 time in 3.
    annotated = []
    for i in range(4):
        doc = make_doc(
            nlp.vocab,
            WORDS,
            human=[(2, 3, "PER"), (4, 5, "LOC"), (6, 7, "ORG"), (8, 9, "LOC")],
            llm=[(2, 3, "PER"), (4, 5, "ORG"), (6, 7, "ORG"), (8, 9, "ORG")],
        )
        annotated.append(Example(Doc(nlp.vocab, words=WORDS), doc))
    nlp.initialize(lambda: annotated)
    nlp.get_pipe("span_ruler").add_patterns(PATTERNS)  # initialize cleared the ruler
    merger = nlp.get_pipe("hybrid_ner_merger").merger
    assert merger.stats["ORG"].proposed == 12 and merger.stats["ORG"].matched == 4
    doc = nlp(human_doc(nlp.vocab, []))
    assert {s.label_ for s in doc.spans[LLM_ADDED_KEY]} == {"PER"}
    assert {s.id_ for s in doc.spans[LLM_REJECTED_KEY]} == {"low_reliability"}
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("hybrid_ner_merger").merger.stats == merger.stats
    assert tuples(loaded(human_doc(loaded.vocab, [])).ents) == tuples(doc.ents)
    from_bytes = proposal_pipeline(
        accept={"@misc": "hybrid_ner.accept_reliable.v1", "min_precision": 0.6, "min_support": 3}
    )
    from_bytes.from_bytes(nlp.to_bytes())
    assert from_bytes.get_pipe("hybrid_ner_merger").merger.stats == merger.stats
