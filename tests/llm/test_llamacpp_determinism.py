"""Issue 15: the embedded LLM's answer is a function of the prompt alone.

llama-cpp-python reuses the KV cache of the previous request up to the
longest shared token prefix; llama.cpp's floating-point results depend on how
a prompt is split into decode calls, so a temperature-0 answer could depend on
the request before it. LlamaCppBackend evaluates every prompt in a fixed
segmentation (segments end at blank lines or after ``prefix_block`` tokens)
and reuses the cache only in whole segments: these tests run the real embedded
model (one thread, short answers) on prompts sharing long prefixes, in several
orders, and against a fresh model per prompt.
"""

from typing import Any, Dict, List, Tuple

import pytest

from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm.llamacpp import LlamaCppBackend
from hybrid_ner.llm.usage import Usage
from hybrid_ner.llm.weights import create_wheel_weights

pytest.importorskip("llama_cpp", reason="the embedded LLM needs hybrid-ner[local-llm]")

GENERATION = {"temperature": 0.0, "max_tokens": 24, "stop": ["\nInput:"]}
INSTRUCTIONS = (
    "You are an expert named entity annotator. Find the named entities in the input sentence and "
    "answer "
    "with one line per entity type, formatted as `LABEL: entity1, entity2`. Use only these labels: "
    "PER for "
    "people, ORG for organisations such as companies, teams and institutions, LOC for locations "
    "such as "
    "countries, cities, rivers and mountains, MISC for other names such as nationalities, events "
    "and works. "
    "If the sentence has no entity, answer `None`. Do not explain."
)
EXAMPLES = [
    "Input: Angela Merkel met Emmanuel Macron in Paris .\nOutput:\nPER: Angela Merkel, Emmanuel "
    "Macron\nLOC: Paris",
    "Input: Siemens opened a plant in Berlin last year .\nOutput:\nORG: Siemens\nLOC: Berlin",
    "Input: The German team won the World Cup in Rio .\nOutput:\nMISC: German, World Cup\nLOC: Rio",
    "Input: Jordan played for the Chicago Bulls .\nOutput:\nPER: Jordan\nORG: Chicago Bulls",
]
SENTENCES = [
    "As of Spring 2007 , the band is supporting The Used on the Taste of Chaos tour in Europe .",
    "Barack Obama visited London on Monday with officials from the United Nations .",
    "Microsoft hired engineers from Google in Seattle .",
]


def _prompt(examples: List[int], sentence: int) -> str:
    shown = "\n\n".join(EXAMPLES[i] for i in examples)
    return f"{INSTRUCTIONS}\n\n{shown}\n\nInput: {SENTENCES[sentence]}\nOutput:"


# Long shared prefixes (instructions + examples), some prompts extending others' prefixes.
PROMPTS = [
    _prompt([0, 1, 2], 0),
    _prompt([0, 1, 2], 1),
    _prompt([0, 1, 2, 3], 0),
    _prompt([0, 1, 3], 2),
    _prompt([0, 1, 2, 3], 1),
]


@pytest.fixture(scope="module")
def weights():
    try:
        found = create_wheel_weights()
        found.path()
    except HybridNerError as err:
        pytest.skip(f"embedded model weights unavailable: {err}")
    return found


class Recorder:
    """Records each request's prompt length and the (start, length) of every
    eval call writing prompt positions (generated tokens are not counted)."""

    def __init__(self, llama: Any) -> None:
        self.requests: List[Dict[str, Any]] = []
        eval_, generate = llama.eval, llama.generate

        def wrapped_generate(tokens, *args, **kwargs):
            tokens = list(tokens)
            self.requests.append({"prompt_tokens": len(tokens), "tokens": tokens, "evals": []})
            return generate(tokens, *args, **kwargs)

        def wrapped_eval(tokens):
            start = llama.n_tokens
            if self.requests and start < self.requests[-1]["prompt_tokens"]:
                self.requests[-1]["evals"].append((start, len(tokens)))
            return eval_(tokens)

        llama.generate, llama.eval = wrapped_generate, wrapped_eval

    def evaluated(self) -> int:
        return sum(n for request in self.requests for _, n in request["evals"])

    def prompt_tokens(self) -> int:
        return sum(request["prompt_tokens"] for request in self.requests)


def _ask(backend: LlamaCppBackend, prompt: str) -> str:
    return backend.complete([{"role": "user", "content": prompt}], GENERATION, Usage()).text


def _run(weights, prompts: List[str]) -> Tuple[Dict[str, str], Recorder]:
    backend = LlamaCppBackend(weights, n_ctx=2048, n_threads=1)
    try:
        recorder = Recorder(backend._model())
        answers = {prompt: _ask(backend, prompt) for prompt in prompts}
    finally:
        backend.close()
    return answers, recorder


def _segments(llama: Any, tokens: List[int]) -> List[Tuple[int, int]]:
    """The fixed segmentation of a prompt as (start, length) pairs."""
    ends = llama.segment_ends(tokens)
    return [(start, end - start) for start, end in zip([0] + ends, ends)]


def _segmenter(weights, **kwargs: Any) -> Any:
    """A model (not loaded again per call) to compute segmentations with."""
    return LlamaCppBackend(weights, n_ctx=2048, n_threads=1, **kwargs)._model()


@pytest.mark.slow
def test_answers_do_not_depend_on_the_order_of_requests(weights):
    cold = {}
    for prompt in PROMPTS:  # a fresh model (empty KV cache) per prompt
        answers, _ = _run(weights, [prompt])
        cold.update(answers)
    orders = {
        "A": list(PROMPTS),
        "B": list(reversed(PROMPTS)),
        "C": sorted(PROMPTS),  # prefix-sorted, as hybrid-ner propose schedules prompts
    }
    llama = _segmenter(weights)
    for name, order in orders.items():
        answers, recorder = _run(weights, order)
        assert answers == cold, f"order {name}"
        # Every prompt position was computed in the fixed segmentation: the
        # evaluated evals are exactly its last blocks, whatever was reused.
        for request in recorder.requests:
            expected = _segments(llama, request["tokens"])
            assert request["evals"] == expected[len(expected) - len(request["evals"]) :], (
                f"order {name}"
            )
        if name == "C":
            # The shared prefixes are still reused, in whole segments.
            assert recorder.evaluated() < 0.7 * recorder.prompt_tokens(), recorder.requests


@pytest.mark.slow
def test_only_whole_segments_of_a_prompt_are_reused(weights):
    # The same prompt twice: only its last segment is evaluated again.
    answers, recorder = _run(weights, [PROMPTS[0], PROMPTS[0]])
    first, second = recorder.requests
    llama = _segmenter(weights)
    assert first["evals"] == _segments(llama, first["tokens"])
    assert second["evals"] == _segments(llama, second["tokens"])[-1:]


def test_segments_end_at_blank_lines_and_block_size(weights):
    llama = _segmenter(weights)
    text = _prompt([0, 1, 2], 0)
    tokens = llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    segments = _segments(llama, tokens)
    pieces = [llama.detokenize(tokens[s : s + n]).decode("utf-8") for s, n in segments]
    assert "".join(pieces) == text
    assert all(0 < n <= llama.prefix_block for _, n in segments)
    # A segment ends at the blank line after the instructions and after each
    # example, and nowhere else short of the block size.
    for piece, (_, n) in zip(pieces[:-1], segments[:-1]):
        assert piece.endswith("\n\n") or n == llama.prefix_block
    blank_ends = [p for p in pieces if p.endswith("\n\n")]
    assert len(blank_ends) == 4  # instructions, 3 examples
    # Length only: every segment but the last is a whole block.
    by_length = _segments(_segmenter(weights, segment_after=""), tokens)
    assert {n for _, n in by_length[:-1]} == {llama.prefix_block}


@pytest.mark.slow
def test_a_shared_instruction_and_example_prefix_is_reused_exactly(weights):
    # The second prompt shares the instructions and examples 0 and 1 with the
    # first: it evaluates from the end of example 1 on, nothing before.
    answers, recorder = _run(weights, [_prompt([0, 1, 2], 0), _prompt([0, 1, 3], 2)])
    first, second = recorder.requests
    llama = _segmenter(weights)
    tokens = second["tokens"]
    prefix = next(i for i, (a, b) in enumerate(zip(first["tokens"], tokens)) if a != b)
    boundary = max(end for end in llama.segment_ends(tokens) if end <= prefix)
    assert second["evals"][0][0] == boundary
    assert llama.detokenize(tokens[:boundary]).decode("utf-8").endswith(f"{EXAMPLES[1]}\n\n")
    assert sum(n for _, n in second["evals"]) == len(tokens) - boundary


def test_prefix_block_is_checked(weights):
    with pytest.raises(ValueError):
        LlamaCppBackend(weights, n_batch=128, prefix_block=256)
    with pytest.raises(ValueError):
        LlamaCppBackend(weights, prefix_block=0)
