"""Label sets of a proposal run, the prompts: the default prompts unchanged, a
custom label set in its own words, and the label helpers."""

import pytest
import srsly

from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm.labels import example_mentions, parse_labels, read_label_definitions
from hybrid_ner.llm.prompts import PerTypePrompt, SingleQueryPrompt, format_example
from hybrid_ner.llm.task import create_entity_proposal_task

from .conftest import make_doc

CONLL = ["PER", "ORG", "LOC", "MISC"]
# Rendered by the code before the label set became configurable (issue 14): the
# committed recording (assets/llm_answers) is keyed by these exact texts.
EXPECTED_SINGLE = (
    "You are an excellent linguist. The task is to find the named entities in the given sentence "
    "and give the type of each.\n"
    "Entity types:\n"
    "- PER: names of people, including first names, surnames and fictional characters\n"
    "- ORG: names of organisations: companies, institutions, government bodies, political parties, "
    "sports teams, bands and clubs\n"
    "- LOC: names of locations: countries, cities, states, regions, continents, rivers, mountains "
    "and other geographical or political places\n"
    "- MISC: other proper names: nationalities, languages, events, works of art, products, titles, "
    "and adjectives or words derived from names (e.g. German, Olympic)\n"
    "Write one line per entity: its type, a colon and the entity copied exactly from the sentence, "
    'e.g. "PER: John Smith" or "LOC: Paris", in order of appearance. If the sentence has no '
    'entity, answer "None".\n'
    "\n"
    "Below are some examples.\n"
    "\n"
    "Input: It rained all day .\n"
    "Output: None\n"
    "\n"
    "Input: Siemens opened a plant in Berlin last year .\n"
    "Output:\n"
    "ORG: Siemens\n"
    "LOC: Berlin\n"
    "\n"
    "Input: Bosch is in Stuttgart .\n"
    "Output:"
)
EXPECTED_SINGLE_ZERO_SHOT = (
    "You are an excellent linguist. The task is to find the named entities in the given sentence "
    "and give the type of each.\n"
    "Entity types:\n"
    "- PER: names of people, including first names, surnames and fictional characters\n"
    "- ORG: names of organisations: companies, institutions, government bodies, political parties, "
    "sports teams, bands and clubs\n"
    "- LOC: names of locations: countries, cities, states, regions, continents, rivers, mountains "
    "and other geographical or political places\n"
    "- MISC: other proper names: nationalities, languages, events, works of art, products, titles, "
    "and adjectives or words derived from names (e.g. German, Olympic)\n"
    "Write one line per entity: its type, a colon and the entity copied exactly from the sentence, "
    'e.g. "PER: John Smith" or "LOC: Paris", in order of appearance. If the sentence has no '
    'entity, answer "None".\n'
    "\n"
    "Input: Bosch is in Stuttgart .\n"
    "Output:"
)
EXPECTED_PER_TYPE = (
    "You are an excellent linguist. The task is to label ORG entities in the given sentence. ORG "
    "entities are names of organisations: companies, institutions, government bodies, political "
    "parties, sports teams, bands and clubs.\n"
    "Copy the sentence exactly and surround every ORG entity with @@ and ##, like @@entity##. "
    "Change nothing else. If the sentence has no ORG entity, copy it unchanged.\n"
    "\n"
    "Below are some examples.\n"
    "\n"
    "Input: It rained all day .\n"
    "Output: It rained all day .\n"
    "\n"
    "Input: Siemens opened a plant in Berlin last year .\n"
    "Output: @@Siemens## opened a plant in Berlin last year .\n"
    "\n"
    "Input: Bosch is in Stuttgart .\n"
    "Output:"
)


@pytest.fixture
def examples(nlp):
    return [
        make_doc(nlp, "It rained all day .", []),
        make_doc(
            nlp, "Siemens opened a plant in Berlin last year .", [(0, 1, "ORG"), (5, 6, "LOC")]
        ),
    ]


def test_default_conll_prompts_are_byte_identical(examples):
    task = create_entity_proposal_task(labels=CONLL)
    text = "Bosch is in Stuttgart ."
    assert (
        SingleQueryPrompt().render(text, examples, CONLL, task.definitions, None) == EXPECTED_SINGLE
    )
    assert (
        SingleQueryPrompt().render(text, [], CONLL, task.definitions, None)
        == EXPECTED_SINGLE_ZERO_SHOT
    )
    assert (
        PerTypePrompt().render(text, examples, CONLL, task.definitions, "ORG") == EXPECTED_PER_TYPE
    )


def test_a_custom_label_set_renders_its_own_labels(nlp):
    labels = ["person", "corporation", "product"]
    definitions = {"person": "names of people", "product": "names of products"}
    pool = [
        make_doc(nlp, "Ada Lovelace joined Acme .", [(0, 2, "person"), (3, 4, "corporation")]),
        make_doc(nlp, "Acme sells the iPhone .", [(0, 1, "corporation"), (3, 4, "product")]),
    ]
    mentions = example_mentions(pool, labels)
    assert mentions == {"person": "Ada Lovelace", "corporation": "Acme", "product": "iPhone"}
    task = create_entity_proposal_task(
        labels=labels,
        label_definitions=definitions,
        prompt=SingleQueryPrompt(example_mentions=mentions),
    )
    prompt = task.prompt.render("Bob uses Windows .", pool, labels, task.definitions, None)
    assert (
        "- person: names of people\n- corporation: entities of type corporation\n- product: names "
        "of products\n" in prompt
    )
    assert 'e.g. "person: Ada Lovelace" or "corporation: Acme", in order' in prompt
    assert (
        "Output:\ncorporation: Acme\nproduct: iPhone" in prompt
    )  # the examples in the same labels
    for conll in ("PER", "LOC", "John Smith", "Paris"):
        assert conll not in prompt
    per_type = PerTypePrompt().render(
        "Bob uses Windows .", pool, labels, task.definitions, "product"
    )
    assert (
        "label product entities" in per_type
        and "product entities are names of products" in per_type
    )


def test_format_example_without_mentions_uses_a_placeholder():
    assert (
        format_example(["PER", "ORG", "LOC", "MISC"], {"PER": "John Smith", "LOC": "Paris"})
        == '"PER: John Smith" or "LOC: Paris"'
    )
    assert format_example(["person", "group"], {}) == '"person: ..." or "group: ..."'
    assert format_example(["product"], {"product": "iPhone"}) == '"product: iPhone"'


def test_label_helpers(tmp_path):
    assert parse_labels(" person, corporation,,person ") == ["person", "corporation"]
    with pytest.raises(ValueError, match="--labels: no label"):
        parse_labels(" , ")
    (tmp_path / "d.yaml").write_text("person: names of\n  people\nproduct: products\n")
    assert read_label_definitions(tmp_path / "d.yaml") == {
        "person": "names of people",
        "product": "products",
    }
    srsly.write_json(tmp_path / "d.json", {"person": "people"})
    assert read_label_definitions(tmp_path / "d.json") == {"person": "people"}
    (tmp_path / "bad.json").write_text('["person"]')
    with pytest.raises(HybridNerError, match="bad.json: expected a mapping"):
        read_label_definitions(tmp_path / "bad.json")
