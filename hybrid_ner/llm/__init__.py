"""LLM entity proposals: spacy-llm task, prompts, few-shot retrieval, backends, cache, budget.
Importing it registers the ``hybrid_ner.*.v1`` functions; llama-cpp-python and httpx are
imported only when a request needs them."""

from . import cache, component, fewshot, model, prompts, task, usage, weights  # noqa: F401
from .chat_model import ChatModel
from .task import PARSE_STATS_KEY, EntityProposalTask

__all__ = ["ChatModel", "EntityProposalTask", "PARSE_STATS_KEY"]
