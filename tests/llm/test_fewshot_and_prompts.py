import pytest
from spacy.tokens import Span

from hybrid_ner.errors import HybridNerError
from hybrid_ner.layers import HUMAN_ANNOTATED
from hybrid_ner.llm.fewshot import SentenceEmbedder, SimilarExamples, usable_as_example
from hybrid_ner.llm.parsing import parse_lines, parse_marked
from hybrid_ner.llm.prompts import (
    DEFAULT_DEFINITIONS,
    PerTypePrompt,
    SingleQueryPrompt,
    mark_entities,
)

from .conftest import SENTENCES, make_doc

LABELS = ["PER", "ORG", "LOC", "MISC"]


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder()


def test_embeddings_are_unit_vectors_and_similar_sentences_are_close(embedder):
    vectors = embedder(
        ["The striker scored twice .", "The forward scored two goals .", "Stock prices fell ."]
    )
    assert vectors.shape == (3, 384)
    assert abs(float((vectors**2).sum(1).mean()) - 1.0) < 1e-4
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_retrieves_most_similar_last_and_never_the_sentence_itself(nlp, embedder):
    pool = [make_doc(nlp, text, ents) for text, ents in SENTENCES]
    query = make_doc(nlp, "Siemens opened a plant in Berlin last year .", [])
    retriever = SimilarExamples(pool=pool, k=2, embedder=embedder)
    [examples] = retriever([query])
    assert len(examples) == 2
    assert query.text not in [ex.text for ex in examples]
    other = make_doc(nlp, "Bosch opened a factory in Munich .", [])
    [examples] = retriever([other])
    assert examples[-1].text == query.text  # the closest example stands next to the query


def test_pool_skips_docs_without_complete_annotation(nlp, embedder):
    complete = make_doc(nlp, "Paris is big .", [(0, 1, "LOC")])
    missing = make_doc(nlp, "Rome is big .", [])
    missing.set_ents([], default="missing")
    unannotated = make_doc(nlp, "Oslo is big .", [(0, 1, "LOC")])
    unannotated.user_data[HUMAN_ANNOTATED] = False
    assert [usable_as_example(d) for d in (complete, missing, unannotated)] == [True, False, False]
    retriever = SimilarExamples(pool=[missing, unannotated], k=2, embedder=embedder)
    with pytest.raises(HybridNerError, match="no fully annotated sentence"):
        retriever([complete])
    assert SimilarExamples(pool=None, k=4, embedder=embedder)([complete]) == [[]]


def test_per_type_prompt_round_trip(nlp):
    example = make_doc(nlp, *SENTENCES[0])
    assert mark_entities(example, "PER") == "@@Angela Merkel## met @@Emmanuel Macron## in Paris ."
    prompt = PerTypePrompt().render(
        "Macron visited Rome .", [example], LABELS, DEFAULT_DEFINITIONS, "LOC"
    )
    assert "label LOC entities" in prompt and DEFAULT_DEFINITIONS["LOC"] in prompt
    assert "Output: Angela Merkel met Emmanuel Macron in @@Paris## ." in prompt
    assert prompt.endswith("Input: Macron visited Rome .\nOutput:")
    # The gold answer parses back to the gold entities.
    parsed = parse_marked(example.text, mark_entities(example, "PER"), "PER")
    assert [(m.start, m.end) for m in parsed.mentions] == [
        (e.start_char, e.end_char) for e in example.ents[:2]
    ]


def test_single_query_prompt_round_trip(nlp):
    examples = [make_doc(nlp, *SENTENCES[4]), make_doc(nlp, *SENTENCES[1])]
    prompt = SingleQueryPrompt().render(
        "Bosch is in Stuttgart .", examples, LABELS, DEFAULT_DEFINITIONS, None
    )
    assert "Input: It rained all day .\nOutput: None" in prompt
    assert "Output:\nORG: Siemens\nLOC: Berlin" in prompt
    for label in LABELS:
        assert f"- {label}: {DEFAULT_DEFINITIONS[label]}" in prompt
    answer = SingleQueryPrompt.answer_for(examples[1], LABELS)
    parsed = parse_lines(examples[1].text, answer, LABELS)
    assert [(m.start, m.end, m.label) for m in parsed.mentions] == [
        (e.start_char, e.end_char, e.label_) for e in examples[1].ents
    ]


def test_prompts_share_the_instruction_prefix(nlp):
    doc = make_doc(nlp, *SENTENCES[1])
    first = SingleQueryPrompt().render("A .", [doc], LABELS, DEFAULT_DEFINITIONS, None)
    second = SingleQueryPrompt().render("B .", [], LABELS, DEFAULT_DEFINITIONS, None)
    head = first.split("\n\nBelow are some examples.")[0]
    assert second.startswith(head)


def test_custom_definitions_and_unknown_labels(nlp):
    prompt = PerTypePrompt().render("x", [], ["DRUG"], {"DRUG": "names of medicines"}, "DRUG")
    assert "DRUG entities are names of medicines" in prompt
    prompt = PerTypePrompt().render("x", [], ["GENE"], {}, "GENE")
    assert "entities of type GENE" in prompt
    span_doc = make_doc(nlp, "a b", [])
    span_doc.set_ents([Span(span_doc, 0, 1, label="GENE")])
    assert mark_entities(span_doc, "GENE") == "@@a## b"
