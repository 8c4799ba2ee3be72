"""The embedded LLM: a GGUF model run in-process by llama-cpp-python, one request at a time,
each from an empty KV cache (results depend on how much of a prompt is reused)."""

import os
import threading
from typing import Any, Mapping, Optional

from .cache import CachedAnswer
from .chat_model import Messages
from .usage import LLMRequestError, Usage
from .weights import GgufWeights

# Sampling parameters llama-cpp-python's create_chat_completion understands.
_PARAMS = {"temperature", "top_p", "top_k", "max_tokens", "stop", "seed"}
_PARAMS |= {"repeat_penalty", "presence_penalty", "frequency_penalty"}


class LlamaCppBackend:
    """Chat completions from local GGUF ``weights`` (``n_threads`` None: all cores)."""

    max_in_flight = 1
    #: The defaults of this backend and of ``hybrid_ner.LlamaCpp.v1``.
    DEFAULT_N_CTX = 4096
    DEFAULT_N_BATCH = 512

    def __init__(
        self,
        weights: GgufWeights,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: Optional[int] = None,
        n_batch: int = DEFAULT_N_BATCH,
        seed: int = 0,
    ) -> None:
        self.weights = weights
        self.settings = {"n_ctx": n_ctx, "n_batch": n_batch, "seed": seed}
        self.settings["n_threads"] = self.settings["n_threads_batch"] = n_threads or os.cpu_count()
        # The hash names the exact weights: a different file never hits the cache.
        self.model_id = f"llama.cpp:{weights.name}:{(weights.sha256 or 'unverified')[:16]}"
        self.context_length = n_ctx
        self._lock = threading.Lock()
        self._llama: Any = None

    def _model(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LLMRequestError(
                    "missing_dependency",
                    "The embedded LLM needs llama-cpp-python: pip install 'hybrid-ner[llama]'",
                ) from None
            path = str(self.weights.path())
            self._llama = Llama(model_path=path, verbose=False, **self.settings)
        return self._llama

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(self, messages: Messages, params: Mapping[str, Any], usage: Usage) -> CachedAnswer:
        kwargs = {k: v for k, v in params.items() if k in _PARAMS}
        with self._lock:
            llama = self._model()
            llama.reset()  # the answer depends on this prompt alone
            try:
                result = llama.create_chat_completion(messages=messages, **kwargs)
            except ValueError as err:  # e.g. prompt longer than the context
                usage.add(failure="local_error")
                raise LLMRequestError(
                    "local_error", f"llama.cpp: {err} (raise n_ctx or use fewer examples)"
                ) from None
        text = result["choices"][0]["message"].get("content")
        if not isinstance(text, str) or not text.strip():
            # Not "no entities": cached, it would never be asked again; at
            # temperature 0 a re-run gives the same blank answer, hence the advice.
            usage.add(failure="empty")
            raise LLMRequestError(
                "empty",
                "llama.cpp: the model gave a blank answer (nothing before a stop sequence); "
                "not cached: change the prompt (--k, --query, generation.stop) or the model",
            )
        info = result.get("usage") or {}
        tokens = (int(info.get("prompt_tokens", 0)), int(info.get("completion_tokens", 0)))
        return CachedAnswer(text, *tokens)

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
