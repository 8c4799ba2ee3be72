"""The embedded LLM: a GGUF model run in-process by llama.cpp.

No server, no API key, no network: the default backend, so the project runs
on a fresh machine. llama.cpp is not thread-safe and already uses all given
threads per request, so requests run one at a time (``max_in_flight = 1``).
The model is loaded at the first request, not when the config is built.
A blank answer is a failed request (kind ``empty``), never a cached answer.

Answers are a function of the prompt alone (issue 15): llama-cpp-python
reuses the KV cache of the previous request's common prefix, and llama.cpp's
floating-point results depend on how a prompt is split between reused and
newly evaluated tokens, so a temperature-0 answer could depend on which
prompt came before it. Every request therefore starts from an empty cache
(``Llama.reset``): each prompt is evaluated whole, in the same ``n_batch``
chunks whatever the history. Only llama-cpp-python's public API is used.
"""

import os
import threading
from typing import Any, Dict, Mapping, Optional

from .chat_model import Completion, Messages
from .usage import LLMRequestError, Usage
from .weights import GgufWeights

# Sampling parameters llama-cpp-python's create_chat_completion understands.
_PARAMS = {
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "stop",
    "seed",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
}


class LlamaCppBackend:
    """Chat completions from a local GGUF model via llama-cpp-python.

    weights (GgufWeights): The verified model file.
    n_ctx (int): Context length in tokens.
    n_threads (Optional[int]): CPU threads; all cores if None.
    n_batch (int): Prompt tokens evaluated per step.
    seed (int): Sampling seed (irrelevant at temperature 0).
    """

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
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_batch = n_batch
        self.seed = seed
        # The hash names the exact weights, so a different file never hits the cache.
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
            self._llama = Llama(
                model_path=str(self.weights.path()),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                seed=self.seed,
                verbose=False,
            )
        return self._llama

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(self, messages: Messages, params: Mapping[str, Any], usage: Usage) -> Completion:
        kwargs: Dict[str, Any] = {k: v for k, v in params.items() if k in _PARAMS}
        with self._lock:
            llama = self._model()
            llama.reset()  # no reuse of the previous prompt: the answer depends on this one alone
            try:
                result = llama.create_chat_completion(messages=messages, **kwargs)
            except ValueError as err:  # e.g. prompt longer than the context
                usage.record_failure("local_error")
                raise LLMRequestError(
                    "local_error", f"llama.cpp: {err} (raise n_ctx or use fewer examples)"
                ) from None
        text = result["choices"][0]["message"].get("content")
        if not isinstance(text, str) or not text.strip():
            # Not "no entities": a blank answer cached as one would never be asked again.
            # At temperature 0 a re-run gives the same blank answer, hence the advice.
            usage.record_failure("empty")
            raise LLMRequestError(
                "empty",
                "llama.cpp: the model gave a blank answer (nothing before a stop sequence); "
                "not cached: change the prompt (--k, --query, generation.stop) or the model",
            )
        info = result.get("usage") or {}
        return Completion(
            text=text,
            prompt_tokens=int(info.get("prompt_tokens", 0)),
            completion_tokens=int(info.get("completion_tokens", 0)),
        )

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
