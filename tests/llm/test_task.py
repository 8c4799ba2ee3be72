import re

import pytest
from spacy.tokens import Span

from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.layers import LLM_KEY, OMITTED_KEY
from hybrid_ner.llm.config import build_proposer, load_config
from hybrid_ner.llm.task import PARSE_STATS_KEY
from scripts.fake_openai_server import openai_config, query_sentence

from .conftest import gold_answers, lines_answerer


def pipeline(server, tmp_path, query="hybrid_ner.SingleQueryPrompt.v1", pool=None, k=0):
    config = openai_config(
        server.base_url,
        {
            "components.llm.task.prompt": {"@llm_misc": query},
            "components.llm.task.examples.pool": pool,
            "components.llm.task.examples.k": k,
            "components.llm.model.cache.path": str(tmp_path / "cache.sqlite"),
        },
    )
    return build_proposer(config).component


def marker_answerer(gold, extra=()):
    """Per-type answers: the sentence with the gold entities of the asked label
    marked, plus ``extra`` (sentence, mention, label) disagreements."""

    def answer(prompt):
        label = re.search(r"label (\w+) entities", prompt).group(1)
        sentence = query_sentence(prompt)
        marked = sentence
        wanted = [t for t, lab in gold.get(sentence, []) if lab == label]
        wanted += [m for s, m, lab in extra if s == sentence and lab == label]
        for text in sorted(set(wanted), key=len, reverse=True):
            marked = marked.replace(text, f"@@{text}##", 1)
        return marked

    return answer


def test_proposals_go_to_span_group_and_human_labels_stay(server, tmp_path, gold_docs):
    server.answer = lines_answerer(gold_answers(gold_docs))
    nlp = pipeline(server, tmp_path)
    human = gold_docs[0].copy()
    human.set_ents([Span(human, 0, 2, label="PER")], default="outside")  # the human missed two
    human.spans[OMITTED_KEY] = [Span(human, 3, 5, label="PER")]
    unannotated = gold_docs[1].copy()
    unannotated.set_ents([], default="missing")
    docs = list(nlp.pipe([human, unannotated]))
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Angela Merkel", "PER")]
    assert [(s.text, s.label_) for s in docs[0].spans[LLM_KEY]] == [
        ("Angela Merkel", "PER"),
        ("Emmanuel Macron", "PER"),
        ("Paris", "LOC"),
    ]
    assert [(s.text, s.label_) for s in docs[0].spans[OMITTED_KEY]] == [("Emmanuel Macron", "PER")]
    assert all(token.ent_iob_ == "" for token in docs[1])  # still MISSING
    assert [(s.text, s.label_) for s in docs[1].spans[LLM_KEY]] == [
        ("Siemens", "ORG"),
        ("Berlin", "LOC"),
    ]


def test_per_type_queries_keep_overlapping_and_conflicting_proposals(server, tmp_path, gold_docs):
    jordan = "Jordan played for the Chicago Bulls ."
    server.answer = marker_answerer(
        gold_answers(gold_docs), extra=[(jordan, "Jordan", "LOC"), (jordan, "Chicago", "LOC")]
    )
    nlp = pipeline(server, tmp_path, query="hybrid_ner.PerTypePrompt.v1")
    doc = nlp(gold_docs[3].copy())
    assert len(server.requests) == 4  # one query per label
    assert sorted((s.text, s.label_) for s in doc.spans[LLM_KEY]) == [
        ("Chicago", "LOC"),
        ("Chicago Bulls", "ORG"),
        ("Jordan", "LOC"),
        ("Jordan", "PER"),
    ]
    stats = doc.user_data[PARSE_STATS_KEY]
    assert stats["kept"] == 4 and [q["query"] for q in stats["queries"]] == [
        "PER",
        "ORG",
        "LOC",
        "MISC",
    ]


def test_drops_are_counted_per_doc(server, tmp_path, gold_docs):
    server.answer = lambda prompt: "ORG: Siemens\nLOC: Munich\nCITY: Berlin\nrubbish"
    doc = pipeline(server, tmp_path)(gold_docs[1].copy())
    assert [(s.text, s.label_) for s in doc.spans[LLM_KEY]] == [("Siemens", "ORG")]
    stats = doc.user_data[PARSE_STATS_KEY]
    assert stats["items"] == 3 and stats["kept"] == 1
    assert stats["dropped"] == {"not_in_text": 1, "unknown_label": 1, "garbage": 1}
    assert stats["queries"][0]["response"].startswith("ORG: Siemens")


def test_mentions_cutting_tokens_follow_alignment_mode(server, tmp_path, nlp):
    from .conftest import make_doc

    doc = make_doc(nlp, "He flew to U.S.-based Acme .", [])
    server.answer = lambda prompt: "LOC: U.S"
    expanded = pipeline(server, tmp_path)(doc.copy())
    assert [s.text for s in expanded.spans[LLM_KEY]] == ["U.S.-based"]
    config = openai_config(
        server.base_url,
        {"components.llm.task.alignment_mode": "strict", "components.llm.model.cache.path": None},
    )
    strict = build_proposer(config).component(doc.copy())
    assert list(strict.spans[LLM_KEY]) == []
    assert strict.user_data[PARSE_STATS_KEY]["dropped"] == {"misaligned": 1}


def test_audit_trail_survives_docbin(server, tmp_path, gold_docs, nlp):
    server.answer = lines_answerer(gold_answers(gold_docs))
    docs = list(pipeline(server, tmp_path).pipe(d.copy() for d in gold_docs))
    write_docbin(tmp_path / "out.spacy", docs)
    back = read_docbin(tmp_path / "out.spacy", nlp.vocab)
    for before, after in zip(docs, back):
        assert [(e.start, e.end, e.label_) for e in after.ents] == [
            (e.start, e.end, e.label_) for e in before.ents
        ]
        assert [(s.start, s.end, s.label_) for s in after.spans[LLM_KEY]] == [
            (s.start, s.end, s.label_) for s in before.spans[LLM_KEY]
        ]
        io = after.user_data["llm_io"]["llm"]
        assert io["prompt"][0].endswith(f"Input: {after.text}\nOutput:")
        assert list(io["response"]) == [
            q["response"] for q in after.user_data[PARSE_STATS_KEY]["queries"]
        ]


def test_factory_with_project_defaults(nlp, tmp_path, server, gold_docs):
    server.answer = lines_answerer(gold_answers(gold_docs))
    component = nlp.add_pipe(
        "hybrid_ner_llm_proposer",
        config={
            "model": {
                "@llm_models": "hybrid_ner.OpenAICompatible.v1",
                "base_url": server.base_url,
                "model": "scripted",
                "api_key_env": None,
                "cache": {
                    "@llm_misc": "hybrid_ner.PromptCache.v1",
                    "path": str(tmp_path / "c.sqlite"),
                },
            },
        },
    )
    doc = nlp(gold_docs[2].copy())
    assert [(s.text, s.label_) for s in doc.spans[LLM_KEY]] == [
        ("German", "MISC"),
        ("World Cup", "MISC"),
        ("Rio", "LOC"),
    ]
    assert component.task.labels == ("PER", "ORG", "LOC", "MISC")


def test_bad_config_is_one_clear_error(tmp_path):
    from hybrid_ner.errors import HybridNerError

    config = load_config(None, {"components.llm.task.alignment_mode": "sideways"})
    with pytest.raises(HybridNerError, match="alignment_mode"):
        build_proposer(config)
    (tmp_path / "bad.cfg").write_text("[nlp\nlang = ")
    with pytest.raises(HybridNerError, match="bad.cfg"):
        load_config(tmp_path / "bad.cfg")


def test_proposal_quality_scores_only_complete_docs(nlp):
    from hybrid_ner.evaluation import proposal_quality, scorable

    from .conftest import make_doc

    doc = make_doc(nlp, "Jordan played for the Chicago Bulls .", [(0, 1, "PER"), (4, 6, "ORG")])
    doc.spans[LLM_KEY] = [Span(doc, 0, 1, "PER"), Span(doc, 0, 1, "LOC"), Span(doc, 4, 5, "ORG")]
    missing = make_doc(nlp, "Rome .", [])
    missing.set_ents([], default="missing")
    missing.spans[LLM_KEY] = [Span(missing, 0, 1, "LOC")]  # not scored: no gold
    quality = proposal_quality(scorable([doc, missing]), LLM_KEY)
    scores = quality["per_label"]
    assert {k: scores["PER"][k] for k in ("p", "r", "f", "tp", "fp", "fn")} == {
        "p": 1.0,
        "r": 1.0,
        "f": 1.0,
        "tp": 1,
        "fp": 0,
        "fn": 0,
    }
    assert scores["LOC"]["fp"] == 1 and scores["ORG"]["fn"] == 1 and scores["ORG"]["fp"] == 1
    assert quality["overall"]["p"] == pytest.approx(1 / 3) and quality["overall"]["r"] == 0.5


def test_spacy_llm_builtin_models_stay_usable(server, nlp, gold_docs, monkeypatch):
    """The task's prompts are plain strings, so spacy-llm's own models work
    with it (here its OpenAI model, with the auth check pointed at the local server)."""
    from spacy_llm.models.rest.openai.model import OpenAI
    from spacy_llm.pipeline.llm import make_llm
    from spacy_llm.registry import registry

    class LocalOpenAI(OpenAI):
        def _verify_auth(self) -> None:
            assert self._endpoint.startswith("http://127.0.0.1:")

    server.answer = lines_answerer(gold_answers(gold_docs))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test")  # sent only to the local server
    model = LocalOpenAI(
        name="scripted",
        endpoint=f"{server.base_url}/chat/completions",
        config={},
        strict=True,
        max_tries=2,
        interval=0.1,
        max_request_time=5,
        context_length=4096,
    )
    task = registry.llm_tasks.get("hybrid_ner.EntityProposals.v1")()
    cache = registry.llm_misc.get("spacy.BatchCache.v1")(
        path=None, batch_size=8, max_batches_in_mem=1
    )
    component = make_llm(nlp, "llm", task, model, cache, save_io=False, validate_types=True)
    doc = component(gold_docs[1].copy())
    assert [(s.text, s.label_) for s in doc.spans[LLM_KEY]] == [
        ("Siemens", "ORG"),
        ("Berlin", "LOC"),
    ]
    assert [(e.text, e.label_) for e in doc.ents] == [("Siemens", "ORG"), ("Berlin", "LOC")]


def test_dry_run_estimate_counts_prompts_tokens_cost_and_cache(server, tmp_path, gold_docs):
    from hybrid_ner.llm.usage import Budget

    server.answer = marker_answerer(gold_answers(gold_docs))
    proposer = build_proposer(
        openai_config(
            server.base_url,
            {
                "components.llm.task.prompt": {"@llm_misc": "hybrid_ner.PerTypePrompt.v1"},
                "components.llm.task.examples.k": 0,
                "components.llm.model.cache.path": str(tmp_path / "cache.sqlite"),
            },
        )
    )
    component, task, model = proposer.component, proposer.task, proposer.model
    model.budget = Budget(price_per_1k_input=1.0, price_per_1k_output=2.0)

    def estimate_run():
        prompts = [list(p) for p, _ in task.generate_prompts(gold_docs)]
        expected = [task.prompt.expected_answer(d.text, len(task.labels)) for d in gold_docs]
        return model.estimate(prompts, expected)

    before = estimate_run()
    assert (before.docs, before.prompts, before.cached, before.to_send) == (5, 20, 0, 20)
    assert server.requests == []
    assert before.completion_tokens_max == 20 * model.generation["max_tokens"]
    assert (
        before.prompt_tokens > 20 * 50
        and 0 < before.completion_tokens_expected < before.completion_tokens_max
    )
    assert before.cost_expected == pytest.approx(
        (before.prompt_tokens + 2 * before.completion_tokens_expected) / 1000, abs=1e-6
    )
    list(component.pipe(d.copy() for d in gold_docs[:2]))
    after = estimate_run()
    assert (after.cached, after.to_send) == (8, 12)
