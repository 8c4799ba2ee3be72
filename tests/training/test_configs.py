"""The training configs: max_steps alone sets the length of training, and
model-best is never the step-0 evaluation."""

import io
import re
from pathlib import Path
from typing import Dict, List

import pytest
import srsly
from spacy.tokens import Doc, Span
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config, registry
from spacy.vocab import Vocab

from hybrid_ner.corpus import write_docbin

from ..conftest import ROOT

CONFIGS = sorted((ROOT / "configs").glob("ner*.cfg"))


@registry.scorers("test_hybrid_ner.scripted_scores.v1")
def create_scripted_scores(scores: List[float]):
    """An NER scorer whose i-th evaluation scores ``scores[i]`` (0 after
    that): it sets up the case spaCy gets wrong, a step-0 evaluation that
    beats every later one."""
    calls = []

    def score(examples, **kwargs) -> Dict[str, object]:
        calls.append(1)
        value = scores[len(calls) - 1] if len(calls) <= len(scores) else 0.0
        return {"ents_f": value, "ents_p": value, "ents_r": value, "ents_per_type": {}}

    return score


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_length_is_in_steps_and_model_best_skips_step_0(path):
    training = load_config(path)["training"]
    assert training["max_epochs"] == 0 and training["max_steps"] > 0, (
        "max_steps alone must set the length"
    )
    assert training["eval_frequency"] <= training["max_steps"]
    assert training["logger"]["@loggers"] == "hybrid_ner.BestAfterStartLogger.v1"
    assert training["logger"]["first_step"] >= 1


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    """Two short sentences: one batch per epoch."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.spacy"
    vocab = Vocab()
    docs = []
    for i, (words, ents) in enumerate(
        [
            (["Ada", "Lovelace", "lives", "in", "London", "."], [(0, 2, "person")]),
            (
                ["Acme", "Corp", "sells", "the", "Widget", "."],
                [(0, 2, "corporation"), (4, 5, "product")],
            ),
        ]
    ):
        doc = Doc(vocab, words=words)
        doc.set_ents([Span(doc, s, e, label) for s, e, label in ents], default="outside")
        doc.user_data["doc_id"] = f"tiny:{i}"
        docs.append(doc)
    write_docbin(path, docs)
    return path


def train_fast_config(corpus: Path, output: Path, overrides: Dict[str, object]) -> List[int]:
    """Train configs/ner_fast.cfg with spaCy's own loop; RETURNS the steps
    that were evaluated (from the console log)."""
    config = load_config(
        ROOT / "configs" / "ner_fast.cfg",
        interpolate=False,
        overrides={
            "paths.train": str(corpus),
            "paths.dev": str(corpus),
            **overrides,
        },
    )
    nlp = init_nlp(config)
    log = io.StringIO()
    train(nlp, output, stdout=log, stderr=log)
    steps = [int(m.group(1)) for m in re.finditer(r"^\s*\d+\s+(\d+)\s", log.getvalue(), re.M)]
    return steps, log.getvalue()


def test_max_steps_alone_and_model_best_after_step_0(tiny_corpus, tmp_path):
    # Step 0 scores 0.9, later evaluations 0.1, 0.3, 0.2: spaCy alone keeps step 0.
    steps, _ = train_fast_config(
        tiny_corpus,
        tmp_path,
        {
            "training.max_steps": 6,
            "training.eval_frequency": 2,
            "components.ner.scorer": {
                "@scorers": "test_hybrid_ner.scripted_scores.v1",
                "scores": [0.9, 0.1, 0.3, 0.2],
            },
        },
    )
    # 7 steps over a corpus of one batch: the config's max_epochs does not stop it.
    assert steps == [0, 2, 4, 6]
    meta = srsly.read_json(tmp_path / "model-best" / "meta.json")
    assert meta["performance"]["ents_f"] == pytest.approx(0.3)
    assert srsly.read_json(tmp_path / "model-last" / "meta.json")["performance"][
        "ents_f"
    ] == pytest.approx(0.2)


def test_step_0_model_best_only_without_a_later_evaluation(tiny_corpus, tmp_path):
    """A run shorter than eval_frequency keeps spaCy's step-0 model-best (so
    tiny runs still have one) and says to use model-last."""
    steps, log = train_fast_config(
        tiny_corpus,
        tmp_path,
        {
            "training.max_steps": 3,
            "training.eval_frequency": 10,
        },
    )
    assert steps == [0]
    assert (tmp_path / "model-last").exists() and (tmp_path / "model-best").exists()
    warning = [line for line in log.splitlines() if line.startswith("Warning:")]
    assert len(warning) == 1
    assert f"{tmp_path / 'model-best'} is an evaluation before step 1" in warning[0]
    assert "use model-last, or lower eval_frequency" in warning[0]
