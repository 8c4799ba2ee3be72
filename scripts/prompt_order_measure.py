"""What scripts/bench_prompt_order.py measures: the pure helpers (prefix reuse
of llama-cpp-python, the old example order; tested without a model) and the
meters on a llama.cpp instance (evaluated tokens, llama.cpp's own counters, the
raw prompt-processing rate).
"""

import time
from typing import Any, Callable, Dict, List, Optional, Sequence

# Pure helpers (tested without a model).


def shared_prefix_len(a: Sequence[Any], b: Sequence[Any]) -> int:
    """The length of the longest common prefix of two sequences."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def evaluated_tokens(
    sequences: Sequence[Sequence[int]],
    kept: Optional[Sequence[Sequence[int]]] = None,
    segment_ends: Optional[Callable[[Sequence[int]], List[int]]] = None,
) -> List[int]:
    """Prompt tokens llama-cpp-python evaluates for each prompt sent in this
    order, with its prefix reuse: the part of the prompt after its longest
    common prefix with what the KV cache holds (the previous prompt and its
    answer, ``kept``; the previous prompt if not given). A prompt fully in
    the cache still evaluates its last token (to refresh the logits); the
    first prompt is evaluated whole.

    With ``segment_ends`` (the project's LlamaCppBackend, issue 15: a
    prompt's segment ends, the last being its length), reuse is cut down to
    whole segments: the cache holds the previous prompt's segments but its
    last (``kept`` is then ignored), and a prompt always evaluates its last
    segment.
    """
    counts = []
    previous: Sequence[int] = ()
    for i, tokens in enumerate(sequences):
        reused = shared_prefix_len(previous, tokens)
        if segment_ends is not None:
            ends = [0] + segment_ends(tokens)[:-1]
            reused = max(end for end in ends if end <= reused)
            previous = tokens[: ends[-1]]
        else:
            if reused >= len(tokens):
                reused = max(len(tokens) - 1, 0)
            previous = kept[i] if kept is not None else tokens
        counts.append(len(tokens) - reused)
    return counts


def block_ends(block: int) -> Callable[[Sequence[int]], List[int]]:
    """``segment_ends`` of fixed ``block``-token segments."""

    def ends(tokens: Sequence[int]) -> List[int]:
        return [*range(block, len(tokens), block), len(tokens)] if tokens else []

    return ends


def similarity_order(
    examples: Sequence[Any], scores: Dict[int, float], index: Dict[int, int]
) -> List[Any]:
    """Examples in retrieval order: most similar first, then pool position
    (the order before issue 15.1). ``scores`` and ``index`` are keyed by
    ``id(example)``."""
    return sorted(examples, key=lambda ex: (-scores[id(ex)], index[id(ex)]))


def distinct(prompts: Sequence[str]) -> List[str]:
    """Each prompt once, first occurrence first (ChatModel sends a repeated
    prompt once)."""
    return list(dict.fromkeys(prompts))


# The benchmark.


class Meter:
    """Counts what llama.cpp evaluates per request by wrapping the Llama
    instance's ``generate`` (the full prompt tokens) and ``eval`` (a call
    starting inside the prompt evaluates prompt tokens, one block or the
    remaining suffix; a call starting after it evaluates generated tokens)."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.requests: List[Dict[str, Any]] = []
        self._current: Optional[Dict[str, Any]] = None
        eval_, generate = llama.eval, llama.generate

        def wrapped_generate(tokens, *args, **kwargs):
            self._current = {
                "prompt_tokens": len(tokens),
                "tokens": list(tokens),
                "evaluated": None,
                "prompt_s": 0.0,
                "generated": 0,
                "generate_s": 0.0,
            }
            self.requests.append(self._current)
            return generate(tokens, *args, **kwargs)

        def wrapped_eval(tokens):
            position = llama.n_tokens
            start = time.perf_counter()
            eval_(tokens)
            elapsed = time.perf_counter() - start
            current = self._current
            if current is None:
                return
            if position < current["prompt_tokens"]:
                current["evaluated"] = (current["evaluated"] or 0) + len(tokens)
                current["prompt_s"] += elapsed
            else:
                current["generated"] += len(tokens)
                current["generate_s"] += elapsed

        llama.generate = wrapped_generate
        llama.eval = wrapped_eval

    def finish(self) -> Optional[Dict[str, Any]]:
        """The request just answered (with the tokens the KV cache now holds)."""
        current, self._current = self._current, None
        if current is not None:
            current["kept"] = self.llama.input_ids[: self.llama.n_tokens].tolist()
        return current


def perf(llama: Any) -> Dict[str, float]:
    """llama.cpp's own counters (prompt eval = decodes of more than one token)."""
    import llama_cpp

    llama_cpp.llama_synchronize(llama._ctx.ctx)
    data = llama_cpp.llama_perf_context(llama._ctx.ctx)
    return {
        "n_p_eval": data.n_p_eval,
        "t_p_eval_s": data.t_p_eval_ms / 1000,
        "n_eval": data.n_eval,
        "t_eval_s": data.t_eval_ms / 1000,
    }


def perf_reset(llama: Any) -> None:
    import llama_cpp

    llama_cpp.llama_synchronize(llama._ctx.ctx)  # counts of queued decodes land before the reset
    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)


def raw_rate(llama: Any, tokens: List[int], repeats: int = 2) -> Dict[str, Any]:
    """Prompt-processing tokens/s on an uncached prompt (the best of ``repeats``)."""
    times = []
    for _ in range(repeats):
        llama.reset()
        start = time.perf_counter()
        llama.eval(tokens)
        times.append(time.perf_counter() - start)
    llama.reset()
    return {"tokens": len(tokens), "seconds": times, "tokens_per_s": len(tokens) / min(times)}
