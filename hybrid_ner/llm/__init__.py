"""LLM entity proposals (importing registers the ``hybrid_ner.*.v1`` functions)."""

from . import cache, component, fewshot, model, prompts, task, usage, weights  # noqa: F401
from .chat_model import ChatModel
from .task import PARSE_STATS_KEY, EntityProposalTask

__all__ = ["ChatModel", "EntityProposalTask", "PARSE_STATS_KEY"]
