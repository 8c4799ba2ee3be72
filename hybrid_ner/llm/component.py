"""``nlp.add_pipe("hybrid_ner_llm_proposer")``: spacy-llm's ``llm`` component
with this project's defaults.

Task: entity proposals into ``doc.spans["llm"]``; model: the embedded local
LLM with the persistent prompt cache; spacy-llm's own (unsafe) Doc cache
off; prompts and answers kept for audit (``save_io``). Every part can be
replaced in the config, e.g. the model by ``hybrid_ner.OpenAICompatible.v1``
or any spacy-llm model.
"""

from typing import Any, Callable, Iterable

from spacy.language import Language
from spacy_llm.pipeline.llm import LLMWrapper, make_llm

DEFAULT_PROPOSER_CONFIG = {
    "task": {"@llm_tasks": "hybrid_ner.EntityProposals.v1"},
    "model": {
        "@llm_models": "hybrid_ner.LlamaCpp.v1",
        "cache": {"@llm_misc": "hybrid_ner.PromptCache.v1"},
    },
    # spacy-llm's BatchCache keys on an order-free sum of token hashes: off.
    "cache": {
        "@llm_misc": "spacy.BatchCache.v1",
        "path": None,
        "batch_size": 64,
        "max_batches_in_mem": 4,
    },
    "save_io": True,
    "validate_types": True,
}


@Language.factory("hybrid_ner_llm_proposer", default_config=DEFAULT_PROPOSER_CONFIG)
def make_llm_proposer(
    nlp: Language,
    name: str,
    task: Any,
    model: Callable[[Iterable[Iterable[str]]], Iterable[Iterable[str]]],
    cache: Any,
    save_io: bool,
    validate_types: bool,
) -> LLMWrapper:
    """An LLM component that proposes entities next to the human ones.

    task: A spacy-llm task (default ``hybrid_ner.EntityProposals.v1``).
    model: A spacy-llm model (default ``hybrid_ner.LlamaCpp.v1``).
    cache: spacy-llm's Doc cache (off by default; the model has its own).
    save_io (bool): Keep prompts and answers in ``doc.user_data["llm_io"]``.
    validate_types (bool): Check that task and model types fit.
    RETURNS (LLMWrapper): The component.
    """
    return make_llm(nlp, name, task, model, cache, save_io, validate_types)
