"""The pure helpers of scripts/bench_prompt_order.py, in scripts/prompt_order_measure.py
(no model is loaded)."""

import importlib.util
from pathlib import Path

from hybrid_ner.llm.llamacpp import segment_ends

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prompt_order_measure.py"


def _bench():
    spec = importlib.util.spec_from_file_location("prompt_order_measure", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


def test_shared_prefix_len():
    assert bench.shared_prefix_len([1, 2, 3], [1, 2, 4]) == 2
    assert bench.shared_prefix_len([1, 2], [1, 2, 3]) == 2
    assert bench.shared_prefix_len([], [1]) == 0
    assert bench.shared_prefix_len("abc", "xbc") == 0


def test_evaluated_tokens_reuses_the_previous_prompt():
    # The first prompt is evaluated whole, the next ones after the shared prefix.
    assert bench.evaluated_tokens([[1, 2, 3, 4], [1, 2, 5, 6], [7, 8]]) == [4, 2, 2]


def test_evaluated_tokens_repeated_prompt_evaluates_one_token():
    # llama-cpp-python replays the last token to refresh the logits.
    assert bench.evaluated_tokens([[1, 2, 3], [1, 2, 3]]) == [3, 1]


def test_evaluated_tokens_compares_with_the_kv_cache_content():
    # The KV cache also holds the previous answer: a prompt extending it reuses it.
    prompts = [[1, 2], [1, 2, 9, 3]]
    kept = [[1, 2, 9], [1, 2, 9, 3, 8]]
    assert bench.evaluated_tokens(prompts, kept) == [2, 1]
    assert bench.evaluated_tokens(prompts) == [2, 2]


def test_similarity_order_most_similar_first_then_pool_position():
    a, b, c = object(), object(), object()
    scores = {id(a): 0.5, id(b): 0.9, id(c): 0.5}
    index = {id(a): 7, id(b): 3, id(c): 1}
    assert bench.similarity_order([a, b, c], scores, index) == [b, c, a]


def test_distinct_keeps_first_occurrences_in_order():
    assert bench.distinct(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_evaluated_tokens_reuses_whole_segments_only():
    # Segments end after token 0 (a blank line, say) or every 3 tokens.
    def ends(tokens):
        return segment_ends(tokens, 3, lambda token: token == 0)

    prompts = [[1, 2, 0, 5, 6, 7, 8], [1, 2, 0, 5, 6, 9], [1, 2, 0, 5, 6, 9]]
    assert ends(prompts[0]) == [3, 6, 7]
    # The second shares 5 tokens but only the segment [0, 3) is whole; the third
    # repeats the second, whose last segment is never reused.
    assert bench.evaluated_tokens(prompts, segment_ends=ends) == [7, 3, 3]


def test_block_ends_are_fixed_blocks_then_the_rest():
    assert bench.block_ends(4)(list(range(10))) == [4, 8, 10]
    assert bench.block_ends(4)(list(range(8))) == [4, 8]
    assert bench.evaluated_tokens([[1] * 8, [1] * 9], segment_ends=bench.block_ends(4)) == [8, 5]
