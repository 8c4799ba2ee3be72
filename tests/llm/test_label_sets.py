"""Label sets of a proposal run: default prompts unchanged, a custom label
set in its own words, labels from the data, and one-line errors."""

import pytest
import srsly

from hybrid_ner.cli import main
from hybrid_ner.corpus import write_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm.labels import (
    example_mentions,
    order_labels,
    parse_labels,
    read_label_definitions,
)
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


def run_cli(*args):
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code
    return 0


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


def test_default_prompt_through_the_cli_is_unchanged(server, tmp_path, nlp, capsys):
    """`propose --dry-run` on CoNLL-labelled data with the default config shows
    exactly the prompt the recording was made with (zero-shot here)."""
    docs = [
        make_doc(nlp, "Bosch is in Stuttgart .", [(0, 1, "ORG"), (3, 4, "LOC")]),
        make_doc(nlp, "Ada met Bob in Rome .", [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC")]),
        make_doc(nlp, "The German team won .", [(1, 2, "MISC")]),
    ]
    write_docbin(tmp_path / "in.spacy", docs)
    code = run_cli(
        "propose",
        tmp_path / "in.spacy",
        tmp_path / "out.spacy",
        "--base-url",
        server.base_url,
        "--model",
        "scripted",
        "--api-key-env",
        "",
        "--cache",
        tmp_path / "c.sqlite",
        "--dry-run",
    )
    assert code == 0 and server.requests == []
    out = capsys.readouterr().out
    assert "Labels: PER, ORG, LOC, MISC (from the human annotation of the input)" in " ".join(
        out.split()
    )
    assert EXPECTED_SINGLE_ZERO_SHOT in out


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
    assert order_labels({"MISC", "person", "PER", "album"}, CONLL) == [
        "PER",
        "MISC",
        "album",
        "person",
    ]
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


TWEETS = [
    ("Ada Lovelace loves her new iPhone .", [(0, 2, "person"), (5, 6, "product")]),
    ("Acme hired Grace Hopper today .", [(0, 1, "corporation"), (2, 4, "person")]),
    ("Nothing to see here .", []),
]


@pytest.fixture
def tweets(tmp_path, nlp):
    write_docbin(tmp_path / "in.spacy", [make_doc(nlp, text, ents) for text, ents in TWEETS])
    return tmp_path / "in.spacy"


def backend(server, tmp_path):
    return [
        "--base-url",
        server.base_url,
        "--model",
        "scripted",
        "--api-key-env",
        "",
        "--cache",
        tmp_path / "c.sqlite",
    ]


def test_labels_come_from_the_data_and_the_dry_run_shows_the_prompt(
    server, tmp_path, tweets, capsys
):
    code = run_cli(
        "propose", tweets, tmp_path / "out.spacy", *backend(server, tmp_path), "--dry-run"
    )
    assert code == 0 and server.requests == []
    out = " ".join(capsys.readouterr().out.split())
    assert "Labels: corporation, person, product (from the human annotation of the input)" in out
    assert "Not asked for: PER, ORG, LOC, MISC" in out
    assert "No definition for corporation, person, product" in out
    assert (
        '"corporation: Acme" or "person: Ada Lovelace"' in out
        and "Input: Ada Lovelace loves her new iPhone ." in out
    )


def test_labels_and_definitions_by_option(server, tmp_path, tweets, capsys):
    (tmp_path / "defs.yml").write_text("person: names of people\nproduct: names of products\n")
    code = run_cli(
        "propose",
        tweets,
        tmp_path / "out.spacy",
        *backend(server, tmp_path),
        "--dry-run",
        "--labels",
        "product,person",
        "--label-definitions",
        tmp_path / "defs.yml",
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Labels: product, person (from --labels)" in " ".join(out.split())
    assert "- product: names of products\n- person: names of people\n" in out
    assert '"product: iPhone" or "person: Ada Lovelace"' in out


def test_a_pool_label_outside_the_label_set_is_one_line(server, tmp_path, tweets, capsys):
    code = run_cli(
        "propose",
        tweets,
        tmp_path / "out.spacy",
        *backend(server, tmp_path),
        "--labels",
        "person,product",
        "--examples",
        tweets,
        "--k",
        2,
    )
    assert code == 1 and server.requests == []
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert (
        "in.spacy: its examples use labels the label set (person, product) lacks: corporation (1 "
        "entities)" in err
    )


def test_the_task_refuses_such_a_pool_too(nlp):
    from hybrid_ner.llm.fewshot import SimilarExamples

    pool = [make_doc(nlp, text, ents) for text, ents in TWEETS]
    retriever = SimilarExamples(pool=pool, k=1, embedder=lambda texts: None)
    task = create_entity_proposal_task(labels=["person"], examples=retriever)
    with pytest.raises(
        HybridNerError, match="lacks: corporation .1 entities., product .1 entities."
    ):
        list(task.generate_prompts(pool[:1]))


def test_dotted_overrides_and_options_are_one_mechanism(server, tmp_path, tweets, capsys):
    args = ["propose", tweets, tmp_path / "out.spacy", *backend(server, tmp_path), "--dry-run"]
    assert (
        run_cli(
            *args, "--components.llm.model.timeout", 5, "--components.llm.task.labels", '["person"]'
        )
        == 0
    )
    out = " ".join(capsys.readouterr().out.split())
    assert "Labels: person (from --components.llm.task.labels)" in out
    assert run_cli(*args, "--k", 2, "--components.llm.task.examples.k", 3) == 1
    assert (
        "--components.llm.task.examples.k and --k set the same config value"
        in capsys.readouterr().err
    )
    assert run_cli(*args, "--components.llm.nope.x", 1) == 1
    assert "has no [components.llm.nope] section" in capsys.readouterr().err
    assert run_cli(*args, "--bogus") == 2
    assert "No such option: --bogus" in capsys.readouterr().err
