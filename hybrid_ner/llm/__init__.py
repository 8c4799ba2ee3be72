"""LLM entity proposals: spacy-llm task, prompt formats, few-shot retrieval,
backends (embedded llama.cpp, OpenAI-compatible HTTP), prompt cache, budget.

Importing the package registers its functions (``hybrid_ner.*.v1``) in
spacy-llm's registries; entry points do the same for configs. Neither
llama-cpp-python nor httpx is imported until a request needs it.
"""

from . import cache, component, fewshot, model, prompts, task, usage, weights  # noqa: F401
from .chat_model import ChatModel
from .task import PARSE_STATS_KEY, EntityProposalTask

__all__ = ["ChatModel", "EntityProposalTask", "PARSE_STATS_KEY"]
