from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from spacy.tokens import Doc, Span

from hybrid_ner.corpus import write_docbin
from scripts.fake_openai_server import FaultServer, query_sentence

# (words, entities as (start, end, label)) for small gold corpora.
SENTENCES: List[Tuple[str, List[Tuple[int, int, str]]]] = [
    ("Angela Merkel met Emmanuel Macron in Paris .", [(0, 2, "PER"), (3, 5, "PER"), (6, 7, "LOC")]),
    ("Siemens opened a plant in Berlin last year .", [(0, 1, "ORG"), (5, 6, "LOC")]),
    ("The German team won the World Cup in Rio .", [(1, 2, "MISC"), (5, 7, "MISC"), (8, 9, "LOC")]),
    ("Jordan played for the Chicago Bulls .", [(0, 1, "PER"), (4, 6, "ORG")]),
    ("It rained all day .", []),
]


def make_doc(nlp, text: str, ents: List[Tuple[int, int, str]]) -> Doc:
    words = text.split(" ")
    doc = Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
    doc.set_ents([Span(doc, s, e, label=label) for s, e, label in ents])
    return doc


@pytest.fixture
def gold_docs(nlp) -> List[Doc]:
    return [make_doc(nlp, text, ents) for text, ents in SENTENCES]


@pytest.fixture
def gold_file(tmp_path, gold_docs) -> Path:
    """The gold Docs as a DocBin file."""
    path = tmp_path / "gold.spacy"
    write_docbin(path, gold_docs)
    return path


def gold_answers(docs: List[Doc]) -> Dict[str, List[Tuple[str, str]]]:
    """sentence → [(mention, label)] from the Docs' gold entities."""
    return {doc.text: [(ent.text, ent.label_) for ent in doc.ents] for doc in docs}


def lines_answerer(gold: Dict[str, List[Tuple[str, str]]]):
    """Answers single-query prompts with the gold entities as ``LABEL: text`` lines."""

    def answer(prompt: str) -> str:
        ents = gold.get(query_sentence(prompt), [])
        return "\n".join(f"{label}: {text}" for text, label in ents) or "None"

    return answer


@pytest.fixture
def server():
    with FaultServer(answer=lambda prompt: "None") as running:
        yield running
