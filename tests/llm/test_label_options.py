"""Label sets of a proposal run, through ``propose``: the default prompt
unchanged, labels from the data or from options, and one-line errors."""

import pytest

from hybrid_ner.cli import main
from hybrid_ner.corpus import write_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm.task import create_entity_proposal_task
from scripts.fake_openai_server import propose_options

from .conftest import make_doc
from .test_label_sets import EXPECTED_SINGLE_ZERO_SHOT


def run_cli(*args):
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code
    return 0


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
        *propose_options(server, tmp_path / "c.sqlite"),
        "--dry-run",
    )
    assert code == 0 and server.requests == []
    out = capsys.readouterr().out
    assert "Labels: PER, ORG, LOC, MISC (from the human annotation of the input)" in " ".join(
        out.split()
    )
    assert EXPECTED_SINGLE_ZERO_SHOT in out


TWEETS = [
    ("Ada Lovelace loves her new iPhone .", [(0, 2, "person"), (5, 6, "product")]),
    ("Acme hired Grace Hopper today .", [(0, 1, "corporation"), (2, 4, "person")]),
    ("Nothing to see here .", []),
]


@pytest.fixture
def tweets(tmp_path, nlp):
    write_docbin(tmp_path / "in.spacy", [make_doc(nlp, text, ents) for text, ents in TWEETS])
    return tmp_path / "in.spacy"


def test_labels_come_from_the_data_and_the_dry_run_shows_the_prompt(
    server, tmp_path, tweets, capsys
):
    code = run_cli(
        "propose",
        tweets,
        tmp_path / "out.spacy",
        *propose_options(server, tmp_path / "c.sqlite"),
        "--dry-run",
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
        *propose_options(server, tmp_path / "c.sqlite"),
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
        *propose_options(server, tmp_path / "c.sqlite"),
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
    args = [
        "propose",
        tweets,
        tmp_path / "out.spacy",
        *propose_options(server, tmp_path / "c.sqlite"),
        "--dry-run",
    ]
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
