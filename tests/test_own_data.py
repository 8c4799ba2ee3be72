"""Your own data and label set in a few commands (issue 14): a made-up
corpus with the labels person, corporation and product goes through
convert -> noise -> propose (loopback LLM server) -> score-proposals -> merge,
with no config file and no CoNLL label anywhere."""

import warnings

import spacy
import srsly

from hybrid_ner.corpus import read_docbin
from hybrid_ner.simulation.annotator import create_simulated_annotator
from hybrid_ner.simulation.presets import DEFAULT_PRECISION, DEFAULT_RECALL
from scripts.fake_openai_server import FaultServer, propose_options, query_sentence

from .cli_runner import run_cli
from .doc_builders import make_doc

PEOPLE = ["Ada Lovelace", "Grace Hopper", "Linus Torvalds", "Alan Turing", "Tim Cook"]
CORPORATIONS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli"]
PRODUCTS = ["iPhone", "Windows", "Galaxy Tab", "Model S", "PlayStation"]


def tweets(n: int, offset: int = 0):
    """(tokens, tags) per sentence, IOB2; every fifth sentence has no entity."""
    sentences = []
    for i in range(offset, offset + n):
        if i % 5 == 4:
            sentences.append([(w, "O") for w in f"nothing new on day {i} .".split()])
            continue
        tokens = []
        for text, label in (
            (PEOPLE[i % 5], "person"),
            ("says", None),
            (CORPORATIONS[(2 * i) % 5], "corporation"),
            ("will sell the", None),
            (PRODUCTS[(3 * i) % 5], "product"),
            (f"in week {i} .", None),
        ):
            for j, word in enumerate(text.split()):
                tokens.append((word, f"{'B' if j == 0 else 'I'}-{label}" if label else "O"))
        sentences.append(tokens)
    return sentences


def conll(sentences) -> str:
    return "\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences) + "\n"


def run(capsys, *argv):
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, out + err
    return " ".join(out.split())


def test_own_labels_from_conll_to_merged_corpus(tmp_path, capsys):
    (tmp_path / "gold.conll").write_text(conll(tweets(30)))
    (tmp_path / "pool.conll").write_text(conll(tweets(8, offset=100)))
    run(capsys, "convert", tmp_path / "gold.conll", tmp_path / "gold.spacy")
    run(capsys, "convert", tmp_path / "pool.conll", tmp_path / "pool.spacy")
    # The "human" annotation: the gold with a third of the entities omitted.
    run(capsys, "noise", tmp_path / "gold.spacy", tmp_path / "human.spacy", "--omit-rate", 0.3)
    vocab = spacy.blank("en").vocab
    gold = {
        doc.text: [(ent.text, ent.label_) for ent in doc.ents]
        for doc in read_docbin(tmp_path / "gold.spacy", vocab)
    }

    def answer(prompt: str) -> str:
        # Right, except that every product in weeks 0-9 is called a corporation.
        sentence = query_sentence(prompt)
        ents = [
            (
                text,
                "corporation"
                if label == "product"
                and " week " in sentence
                and int(sentence.split(" week ")[1].split()[0]) < 10
                else label,
            )
            for text, label in gold.get(sentence, [])
        ]
        return "\n".join(f"{label}: {text}" for text, label in ents) or "None"

    with FaultServer(answer=answer) as server:
        out = run(
            capsys,
            "propose",
            tmp_path / "human.spacy",
            tmp_path / "proposals.spacy",
            *propose_options(server, tmp_path / "cache.sqlite"),
            "--examples",
            tmp_path / "pool.spacy",
            "--k",
            2,
        )
        prompts = [request["messages"][-1]["content"] for request in server.requests]
    assert (
        "Labels: corporation, person, product "
        "(from the human annotation of the input and the example pool" in out
    )
    assert len(prompts) == 30
    assert all("- person: entities of type person" in p and '"corporation: ' in p for p in prompts)
    assert not any(
        "PER" in p or "John Smith" in p or "Output: None\n\nInput: Ada" in p for p in prompts
    )
    assert any("Output:\nperson: " in p for p in prompts)  # the examples show their entities
    run(
        capsys,
        "score-proposals",
        tmp_path / "proposals.spacy",
        "--gold",
        tmp_path / "gold.spacy",
        "--output",
        tmp_path / "scores.json",
    )
    scores = srsly.read_json(tmp_path / "scores.json")
    assert set(scores["per_label"]) == {"person", "corporation", "product"}
    assert scores["per_label"]["person"]["f"] == 1.0
    assert (
        scores["per_label"]["product"]["r"] < 1.0 and scores["per_label"]["corporation"]["p"] < 1.0
    )
    out = run(
        capsys,
        "merge",
        tmp_path / "proposals.spacy",
        tmp_path / "merged.spacy",
        "--accept",
        "labels",
        "--labels",
        "person,product",
    )
    merged = read_docbin(tmp_path / "merged.spacy", vocab)
    human = read_docbin(tmp_path / "human.spacy", vocab)
    assert sum(len(d.ents) for d in merged) > sum(len(d.ents) for d in human)
    assert {ent.label_ for doc in merged for ent in doc.ents} == {
        "person",
        "corporation",
        "product",
    }


def test_the_simulated_annotator_names_the_labels_it_has_no_rates_for():
    vocab = spacy.blank("en").vocab
    docs = [
        make_doc(
            vocab,
            "Ada uses Windows at Acme .".split(),
            human=[(0, 1, "person"), (2, 3, "product"), (4, 5, "ORG")],
        )
    ]
    annotator = create_simulated_annotator("gpt-3.5-class", seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        annotator.annotate_all(docs)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert (
        "no rates for label(s) person, product" in message
        and f"precision {DEFAULT_PRECISION:g}" in message
    )
    assert annotator.params()["defaulted"] == {
        "labels": ["person", "product"],
        "precision": DEFAULT_PRECISION,
        "recall": DEFAULT_RECALL,
    }
    conll_only = [make_doc(vocab, "Ada met Bob .".split(), human=[(0, 1, "PER")])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        annotator.annotate_all(conll_only)
    assert caught == [] and "defaulted" not in annotator.params()
