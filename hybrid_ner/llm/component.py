"""``nlp.add_pipe("hybrid_ner_llm_proposer")``: spacy-llm's ``llm`` with our defaults."""

from typing import Any, Dict

from spacy.language import Language
from spacy_llm.pipeline.llm import DEFAULT_CACHE_CONFIG, make_llm

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
        "examples": {"@llm_misc": SIMILAR_EXAMPLES, "pool": None},  # zero-shot until --examples
    },
    "model": {
        "@llm_models": LLAMA_CPP,
        "cache": {"@llm_misc": PROMPT_CACHE},
        "budget": {"@llm_misc": BUDGET},
    },
    # spacy-llm's BatchCache keys on an order-free sum of token hashes: off.
    "cache": DEFAULT_CACHE_CONFIG,
    "save_io": True,
    "validate_types": True,
}


make_llm_proposer = Language.factory(
    "hybrid_ner_llm_proposer", default_config=DEFAULT_PROPOSER_CONFIG, func=make_llm
)
