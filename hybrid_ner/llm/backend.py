"""What the model wrapper needs from an LLM backend (HTTP API or local)."""

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol

from .usage import Usage

Messages = List[Dict[str, str]]


@dataclass(frozen=True)
class Completion:
    """One answer and its token counts (estimated if the backend gave none)."""

    text: str
    prompt_tokens: int
    completion_tokens: int


class ChatBackend(Protocol):
    """A chat-completions backend.

    ``model_id`` names the model for the cache key; ``max_in_flight`` is how
    many requests it takes at once; ``complete`` sends one request (retrying
    as it sees fit, recording failed attempts in ``usage``) and raises
    :class:`hybrid_ner.llm.usage.LLMRequestError` when it gives up.
    """

    model_id: str
    max_in_flight: int
    context_length: Optional[int]

    def complete(
        self, messages: Messages, params: Mapping[str, Any], usage: Usage
    ) -> Completion: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


def estimate_tokens(text: str, chars_per_token: float = 4.0) -> int:
    """Rough token count for backends without a tokenizer (English ≈ 4 chars/token)."""
    return max(1, math.ceil(len(text) / chars_per_token))
