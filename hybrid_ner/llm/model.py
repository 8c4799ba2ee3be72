"""The registered spacy-llm models: the embedded LLM and any OpenAI-compatible server."""

from typing import Any, Dict, Optional

from spacy_llm.registry import registry

from .cache import PromptCache
from .chat_model import DEFAULT_GENERATION, ChatModel
from .llamacpp import LlamaCppBackend
from .openai_client import OpenAICompatibleClient as Client
from .usage import Budget
from .weights import GgufWeights, create_wheel_weights


@registry.llm_models("hybrid_ner.LlamaCpp.v1")
def create_llama_cpp_model(
    weights: Optional[GgufWeights] = None,
    n_ctx: int = LlamaCppBackend.DEFAULT_N_CTX,
    n_threads: Optional[int] = None,
    n_batch: int = LlamaCppBackend.DEFAULT_N_BATCH,
    generation: Dict[str, Any] = DEFAULT_GENERATION,
    system_prompt: Optional[str] = None,
    cache: Optional[PromptCache] = None,
    budget: Optional[Budget] = None,
) -> ChatModel:
    """The embedded LLM (``weights`` None: Qwen2.5-Coder-0.5B-Instruct)."""
    backend = LlamaCppBackend(weights or create_wheel_weights(), n_ctx, n_threads, n_batch)
    return ChatModel(backend, generation, system_prompt, cache, budget)


@registry.llm_models("hybrid_ner.OpenAICompatible.v1")
def create_openai_compatible_model(
    base_url: str = Client.DEFAULT_BASE_URL,
    model: str = Client.DEFAULT_MODEL,
    api_key_env: Optional[str] = Client.DEFAULT_API_KEY_ENV,
    concurrency: int = Client.DEFAULT_MAX_IN_FLIGHT,
    timeout: float = Client.DEFAULT_TIMEOUT,
    max_tries: int = Client.DEFAULT_MAX_TRIES,
    backoff: float = Client.DEFAULT_BACKOFF,
    max_backoff: float = Client.DEFAULT_MAX_BACKOFF,
    context_length: Optional[int] = None,
    generation: Dict[str, Any] = DEFAULT_GENERATION,
    system_prompt: Optional[str] = None,
    cache: Optional[PromptCache] = None,
    budget: Optional[Budget] = None,
) -> ChatModel:
    """Any OpenAI-compatible API (``concurrency``: the client's ``max_in_flight``)."""
    backend = Client(
        base_url, model, api_key_env, concurrency, timeout, max_tries, backoff, max_backoff,
        context_length,
    )  # fmt: skip
    return ChatModel(backend, generation, system_prompt, cache, budget)
