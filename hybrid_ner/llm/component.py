"""``nlp.add_pipe("hybrid_ner_llm_proposer")``: spacy-llm's ``llm`` component
with this project's defaults.

Task: entity proposals into ``doc.spans["llm"]``; model: the embedded local
LLM with the persistent prompt cache; spacy-llm's own (unsafe) Doc cache
off; prompts and answers kept for audit (``save_io``). Every part can be
replaced in the config, e.g. the model by ``hybrid_ner.OpenAICompatible.v1``
or any spacy-llm model.

:data:`DEFAULT_PROPOSER_CONFIG` is the one default proposal config: this
factory's default, and the ``[components.llm]`` block of the built-in config
of ``hybrid-ner propose`` (:data:`hybrid_ner.llm.config.DEFAULT_CONFIG`). It
names the blocks only; every value it leaves out is the default of the
registered function that reads it (e.g. ``k`` of ``SimilarExamples.v1``).
"""

from typing import Any, Callable, Dict, Iterable

from spacy.language import Language
from spacy_llm.pipeline.llm import DEFAULT_CACHE_CONFIG, LLMWrapper, make_llm

TASK = "hybrid_ner.EntityProposals.v1"
SINGLE_QUERY = "hybrid_ner.SingleQueryPrompt.v1"
PER_TYPE = "hybrid_ner.PerTypePrompt.v1"
SIMILAR_EXAMPLES = "hybrid_ner.SimilarExamples.v1"
SENTENCE_EMBEDDER = "hybrid_ner.SentenceEmbedder.v1"
LLAMA_CPP = "hybrid_ner.LlamaCpp.v1"
OPENAI_COMPATIBLE = "hybrid_ner.OpenAICompatible.v1"
WHEEL_WEIGHTS = "hybrid_ner.WheelWeights.v1"
PROMPT_CACHE = "hybrid_ner.PromptCache.v1"
BUDGET = "hybrid_ner.Budget.v1"

DEFAULT_PROPOSER_CONFIG: Dict[str, Any] = {
    "task": {
        "@llm_tasks": TASK,
        "prompt": {"@llm_misc": SINGLE_QUERY},
        # Zero-shot until a pool is given (``--examples``).
        "examples": {"@llm_misc": SIMILAR_EXAMPLES, "pool": None},
    },
    "model": {
        "@llm_models": LLAMA_CPP,
        "cache": {"@llm_misc": PROMPT_CACHE},
        "budget": {"@llm_misc": BUDGET},
    },
    # spacy-llm's BatchCache keys on an order-free sum of token hashes: off
    # (spacy-llm's default, path = null); the model keeps a prompt-level cache.
    "cache": DEFAULT_CACHE_CONFIG,
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
