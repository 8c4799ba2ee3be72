"""Issue 15: the embedded LLM's answer is a function of the prompt alone.

llama-cpp-python reuses the KV cache of the previous request up to the
longest shared token prefix; llama.cpp's floating-point results depend on how
a prompt is split into decode calls, so a temperature-0 answer could depend on
the request before it. LlamaCppBackend starts every request from an empty
cache (``Llama.reset``): these tests run the real embedded model (one thread,
short answers) on prompts sharing long prefixes, in several orders, and
against a fresh model per prompt.
"""

from typing import Any, Dict, List, Tuple

import pytest

from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm.llamacpp import LlamaCppBackend
from hybrid_ner.llm.usage import Usage
from hybrid_ner.llm.weights import create_wheel_weights

pytest.importorskip("llama_cpp", reason="the embedded LLM needs hybrid-ner[llama]")

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
    """Records the prompt length and the evaluated prompt tokens of each request."""

    def __init__(self, llama: Any) -> None:
        self.requests: List[Dict[str, Any]] = []
        eval_, generate = llama.eval, llama.generate

        def wrapped_generate(tokens, *args, **kwargs):
            tokens = list(tokens)
            self.requests.append({"prompt_tokens": len(tokens), "evaluated": 0})
            return generate(tokens, *args, **kwargs)

        def wrapped_eval(tokens):
            if self.requests and llama.n_tokens < self.requests[-1]["prompt_tokens"]:
                self.requests[-1]["evaluated"] += len(tokens)
            return eval_(tokens)

        llama.generate, llama.eval = wrapped_generate, wrapped_eval


def _ask(backend: LlamaCppBackend, prompt: str) -> str:
    return backend.complete([{"role": "user", "content": prompt}], GENERATION, Usage()).response


def _run(weights, prompts: List[str]) -> Tuple[Dict[str, str], Recorder]:
    backend = LlamaCppBackend(weights, n_ctx=2048, n_threads=1)
    try:
        recorder = Recorder(backend._model())
        answers = {prompt: _ask(backend, prompt) for prompt in prompts}
    finally:
        backend.close()
    return answers, recorder


@pytest.mark.slow
def test_answers_do_not_depend_on_the_order_of_requests(weights):
    cold = {}
    for prompt in PROMPTS:  # a fresh model (empty KV cache) per prompt
        answers, _ = _run(weights, [prompt])
        cold.update(answers)
    orders = {"A": list(PROMPTS), "B": list(reversed(PROMPTS)), "C": sorted(PROMPTS)}
    for name, order in orders.items():
        answers, recorder = _run(weights, order)
        assert answers == cold, f"order {name}"
        # Nothing of the previous prompt is reused: every prompt is evaluated whole.
        assert all(r["evaluated"] == r["prompt_tokens"] for r in recorder.requests), name
