"""The embedded LLM: a GGUF model run in-process by llama.cpp.

No server, no API key, no network: the default backend, so the project runs
on a fresh machine. llama.cpp is not thread-safe and already uses all given
threads per request, so requests run one at a time (``max_in_flight = 1``).
The model is loaded at the first request, not when the config is built.
A blank answer is a failed request (kind ``empty``), never a cached answer.

Answers are a function of the prompt alone (issue 15). llama-cpp-python
reuses the KV cache for the longest common token prefix with the previous
request and evaluates the rest in one go; the floating-point result of a
token then depends on how the prompt was split between reused and evaluated
tokens (llama.cpp's kernels sum in an order that depends on the batch), so a
temperature-0 answer could depend on which prompt came before it. Here every
prompt is evaluated in one fixed segmentation, each segment one
``llama_decode`` call: a segment ends after a token whose text ends with
``segment_after`` (a blank line: few-shot prompts put one between the
instructions and each example) or after ``prefix_block`` tokens, whichever
comes first. Where a segment ends depends only on the tokens before it, so
two prompts sharing a prefix share its segments. The KV cache of a previous
prompt is reused only up to a segment end and only where it was itself
computed segment by segment, so the computation of every token is the same
whatever the history. Prompts sharing their instructions and first examples
reuse exactly those, not just the whole blocks inside them.
"""

import os
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .backend import Completion, Messages
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

#: Default longest evaluation segment in tokens (see :class:`LlamaCppBackend`).
DEFAULT_PREFIX_BLOCK = 64
#: Default text after which a segment ends (see :class:`LlamaCppBackend`).
DEFAULT_SEGMENT_AFTER = "\n\n"

_ALIGNED_CLASS = None


def segment_ends(
    tokens: Sequence[int], block: int, ends_segment: Callable[[int], bool]
) -> List[int]:
    """Where the segments of a prompt end, in order (the last is
    ``len(tokens)``): after a token for which ``ends_segment`` is true, or
    ``block`` tokens after the previous end. Each end depends only on the
    tokens before it, so prompts sharing a prefix share its segments.

    tokens (Sequence[int]): The prompt's token ids.
    block (int): The longest segment.
    ends_segment (Callable[[int], bool]): Whether a segment ends after a token.
    RETURNS (List[int]): The segment ends.
    """
    ends: List[int] = []
    start = 0
    for i, token in enumerate(tokens):
        if i + 1 - start == block or ends_segment(token):
            ends.append(i + 1)
            start = i + 1
    if start < len(tokens):
        ends.append(len(tokens))
    return ends


def ends_with_text(detokenize: Callable[[List[int]], bytes], text: str) -> Callable[[int], bool]:
    """Whether a token's text ends with ``text`` (the ``ends_segment`` of
    :func:`segment_ends`), cached per token id; never for ``text = ""``.

    detokenize (Callable[[List[int]], bytes]): Token ids to their bytes.
    text (str): The text a segment ends with.
    RETURNS (Callable[[int], bool]): The test.
    """
    suffix = text.encode("utf-8")
    known: Dict[int, bool] = {}

    def ends(token: int) -> bool:
        if token not in known:
            known[token] = bool(suffix) and detokenize([token]).endswith(suffix)
        return known[token]

    return ends


def aligned_llama_class():
    """``llama_cpp.Llama`` evaluating every prompt in fixed segments (imports llama_cpp)."""
    global _ALIGNED_CLASS
    if _ALIGNED_CLASS is None:
        _ALIGNED_CLASS = _make_aligned_class()
    return _ALIGNED_CLASS


def _make_aligned_class():
    import numpy
    from llama_cpp import Llama

    class BlockAlignedLlama(Llama):
        """A ``Llama`` whose prompt evaluation does not depend on history.

        ``generate`` (which ``create_completion`` and ``create_chat_completion``
        use) first brings the KV cache to the prompt's last segment end before
        its end (:meth:`segment_ends`): it keeps the longest reusable prefix
        ending at a segment end and evaluates the following segments one
        ``eval`` call each. Llama.generate then finds exactly those tokens in
        the cache matching the prompt and evaluates the rest (the last segment)
        as one call.

        ``_aligned`` counts the leading cached tokens computed segment by
        segment (each segment one decode call of exactly its tokens): only
        they may be reused. Generated tokens (decoded one by one), the last
        segment, and anything evaluated by other callers are not.
        """

        def __init__(
            self,
            *args: Any,
            prefix_block: int = DEFAULT_PREFIX_BLOCK,
            segment_after: str = DEFAULT_SEGMENT_AFTER,
            **kwargs: Any,
        ) -> None:
            self.prefix_block = int(prefix_block)
            self._aligned = 0
            super().__init__(*args, **kwargs)
            #: Whether a segment ends after a token (its text ends with segment_after).
            self.ends_segment = ends_with_text(
                lambda ids: self.detokenize(ids, special=True), segment_after
            )
            limit = min(self.n_batch, self.context_params.n_ubatch)
            if not 1 <= self.prefix_block <= limit:
                self.close()
                raise ValueError(
                    f"prefix_block must be between 1 and n_batch/n_ubatch ({limit}), "
                    f"got {self.prefix_block}: a segment must be one llama.cpp micro-batch"
                )
            # Recurrent state cannot be cut back to a prefix: Llama.generate then
            # re-evaluates whole prompts (deterministic, no reuse); nothing to align.
            self._can_align = not (
                getattr(self, "_is_recurrent", False) or getattr(self, "_is_hybrid", False)
            )

        def reset(self) -> None:
            self._aligned = 0
            super().reset()

        def load_state(self, state: Any) -> None:
            self._aligned = 0  # restored KV of unknown segmentation
            super().load_state(state)

        def eval(self, tokens: Sequence[int]) -> None:
            # eval drops the cache from n_tokens on, before decoding; align_prefix
            # alone extends what is aligned.
            self._aligned = min(self._aligned, self.n_tokens)
            super().eval(tokens)

        def generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any):
            tokens = list(tokens)
            reset = args[6] if len(args) > 6 else kwargs.get("reset", True)
            if reset and self._can_align and tokens:
                self.align_prefix(tokens)
            return super().generate(tokens, *args, **kwargs)

        def segment_ends(self, tokens: Sequence[int]) -> List[int]:
            """The ends of the prompt's segments (:func:`segment_ends`)."""
            return segment_ends(tokens, self.prefix_block, self.ends_segment)

        def align_prefix(self, tokens: Sequence[int]) -> int:
            """Leave exactly the prompt's segments before its last one in the
            KV cache, each computed as one decode call.
            RETURNS (int): The number of prompt tokens this evaluated."""
            ends = [0] + self.segment_ends(tokens)[:-1]  # the last is left to generate
            target = ends[-1]
            aligned = min(self._aligned, self.n_tokens, target)
            if aligned:
                cached = self.input_ids[:aligned]
                differs = numpy.flatnonzero(
                    cached != numpy.asarray(tokens[:aligned], dtype=cached.dtype)
                )
                if len(differs):
                    aligned = int(differs[0])
            # The cached segments ended where this prompt's do, up to `aligned`.
            keep = max(end for end in ends if end <= aligned)
            if keep == 0:
                self.reset()
            else:
                self.n_tokens = keep  # the next eval (or generate) drops the cache beyond
            self._aligned = keep
            for start, end in zip(ends, ends[1:]):
                if start >= keep:
                    self.eval(tokens[start:end])
                    self._aligned = end
            return target - keep

    return BlockAlignedLlama


class LlamaCppBackend:
    """Chat completions from a local GGUF model via llama-cpp-python.

    weights (GgufWeights): The verified model file.
    n_ctx (int): Context length in tokens.
    n_threads (Optional[int]): CPU threads; all cores if None.
    n_batch (int): Prompt tokens evaluated per step.
    seed (int): Sampling seed (irrelevant at temperature 0).
    prefix_block (int): Prompts are evaluated in segments of at most this
        many tokens and the KV cache of the previous request is reused only in
        whole segments, so that an answer depends on the prompt alone, never
        on the request before it (see the module docstring). Smaller blocks
        reuse more of a shared prefix but decode in smaller, slower batches; at
        most ``n_batch`` (and 512, llama.cpp's micro-batch). Answers can differ
        between segmentations (and thread counts), as between two machines.
    segment_after (str): A segment also ends after a token whose text ends
        with this (default a blank line, which separates the instructions and
        each example of a few-shot prompt), so that prompts sharing examples
        reuse exactly them; "" ends segments by length only.
    """

    max_in_flight = 1
    #: The defaults of this backend and of ``hybrid_ner.LlamaCpp.v1``.
    DEFAULT_N_CTX = 4096
    DEFAULT_N_BATCH = 512
    DEFAULT_PREFIX_BLOCK = DEFAULT_PREFIX_BLOCK
    DEFAULT_SEGMENT_AFTER = DEFAULT_SEGMENT_AFTER

    def __init__(
        self,
        weights: GgufWeights,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: Optional[int] = None,
        n_batch: int = DEFAULT_N_BATCH,
        seed: int = 0,
        prefix_block: int = DEFAULT_PREFIX_BLOCK,
        segment_after: str = DEFAULT_SEGMENT_AFTER,
    ) -> None:
        if not 1 <= prefix_block <= min(n_batch, 512):
            raise ValueError(
                f"prefix_block must be between 1 and min(n_batch, 512), got {prefix_block}"
            )
        self.weights = weights
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_batch = n_batch
        self.seed = seed
        self.prefix_block = prefix_block
        self.segment_after = segment_after
        # The hash names the exact weights, so a different file never hits the cache.
        self.model_id = f"llama.cpp:{weights.name}:{(weights.sha256 or 'unverified')[:16]}"
        self.context_length = n_ctx
        self._lock = threading.Lock()
        self._llama = None

    def _model(self):
        if self._llama is None:
            try:
                llama_class = aligned_llama_class()
            except ImportError:
                raise LLMRequestError(
                    "missing_dependency",
                    "The embedded LLM needs llama-cpp-python: pip install 'hybrid-ner[local-llm]'",
                ) from None
            self._llama = llama_class(
                model_path=str(self.weights.path()),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                seed=self.seed,
                verbose=False,
                prefix_block=self.prefix_block,
                segment_after=self.segment_after,
            )
        return self._llama

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(self, messages: Messages, params: Mapping[str, Any], usage: Usage) -> Completion:
        kwargs: Dict[str, Any] = {k: v for k, v in params.items() if k in _PARAMS}
        with self._lock:
            llama = self._model()
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
