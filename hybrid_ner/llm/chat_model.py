"""The spacy-llm model: any chat backend behind a prompt cache, a hard budget,
usage accounting and N requests in flight.

spacy-llm calls a model with the prompts of a batch of Docs
(``Iterable[Iterable[str]]``: Docs × queries) and expects the answers in the
same shape. Here, cached prompts are answered from the cache, identical
prompts are sent once, and the rest run concurrently, up to the backend's
``max_in_flight`` at a time, each on a thread of its own. Each answer is
written to the cache the moment it arrives; when the budget is reached or a
request fails for good, no new request starts, the ones in flight finish (and
are cached), and the error is raised.

Several processes may share one cache without paying twice for a prompt:
before sending, a request claims its key in the cache
(:meth:`~hybrid_ner.llm.cache.PromptCache.claim`); a key another live process
holds is waited for until its answer is in the cache (or the claim is
released or goes stale, and this process takes it over). While requests are
in flight, the calling thread keeps this process's claims fresh.
"""

import math
import threading
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, Optional, Protocol

from ..errors import HybridNerError, OptionError
from .cache import CLAIM_ANSWERED, CLAIM_CLAIMED, CachedAnswer, PromptCache, request_key
from .usage import Budget, BudgetExceeded, RunEstimate, Usage

Messages = List[Dict[str, str]]

#: The generation parameters of ``hybrid_ner.LlamaCpp.v1`` and
#: ``hybrid_ner.OpenAICompatible.v1``: deterministic, short answers; "\nInput:"
#: stops a model that starts inventing examples. A small model may loop
#: ("LOC: x" forever); 160 tokens hold ~20 entity lines.
DEFAULT_GENERATION: Dict[str, Any] = {"temperature": 0.0, "max_tokens": 160, "stop": ["\nInput:"]}
# Chat templates add a few tokens per message around the content.
_TEMPLATE_TOKENS = 8
# How often a key another process claimed is looked up in the cache (seconds).
_POLL_S = 0.1


@dataclass(frozen=True)
class Completion:
    """One answer and its token counts (estimated if the backend gave none)."""

    text: str
    prompt_tokens: int
    completion_tokens: int


class ChatBackend(Protocol):
    """A chat-completions backend.

    ``model_id`` names the model for the cache key; ``max_in_flight`` is how
    many requests it takes at once; ``complete`` sends one request (retrying
    as it sees fit, recording failed attempts in ``usage``) and raises
    :class:`hybrid_ner.llm.usage.LLMRequestError` when it gives up.
    ``max_prompt_tokens``, ``stop_retries`` and ``cancel`` are optional.
    """

    model_id: str
    max_in_flight: int
    context_length: Optional[int]

    def complete(
        self, messages: Messages, params: Mapping[str, Any], usage: Usage
    ) -> Completion: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


def estimate_tokens(text: str, chars_per_token: float = 4.0) -> int:
    """Rough token count for backends without a tokenizer (English ≈ 4 chars/token)."""
    return max(1, math.ceil(len(text) / chars_per_token))


def check_generation(generation: Any) -> Dict[str, Any]:
    """The generation parameters, checked where a wrong type would otherwise
    fail inside a request: ``max_tokens`` a whole number >= 1 (or left out),
    ``temperature`` a number, ``stop`` a string or a list of strings.

    generation: The ``generation`` block of the model.
    RETURNS (Dict[str, Any]): A copy.
    RAISES (OptionError): Naming the setting and the value.
    """
    where = "[components.llm.model.generation]"
    if not isinstance(generation, dict):
        raise OptionError(f"{where} must be a block of settings, got {generation!r}")
    max_tokens = generation.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise OptionError(f"{where} max_tokens must be a whole number >= 1, got {max_tokens!r}")
    temperature = generation.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, (int, float))
    ):
        raise OptionError(f"{where} temperature must be a number, got {temperature!r}")
    stop = generation.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise OptionError(f"{where} stop must be a string or a list of strings, got {stop!r}")
    return dict(generation)


@dataclass
class _Request:
    key: str
    messages: Messages
    reserved: int = 0  # prompt tokens reserved in the budget


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
        self.generation = check_generation(DEFAULT_GENERATION if generation is None else generation)
        self.system_prompt = system_prompt
        self.cache = cache
        if budget is not None and not self.generation.get("max_tokens"):
            if budget.max_tokens is not None or budget.max_cost is not None:
                raise OptionError(
                    "--max-tokens and --max-cost need generation.max_tokens in the config: "
                    "without it an answer has no bound and the limit could be exceeded"
                )
        self.budget = budget
        self.usage = Usage()
        #: Called with the number of prompts answered (cached or not): progress bars.
        self.progress: Optional[Callable[[int], None]] = None
        #: Requests still in flight when a second Ctrl+C abandoned them (not cached).
        self.abandoned = 0

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

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens of the prompt (the backend's count or estimate)."""
        messages = self.messages(prompt)
        return sum(self.backend.count_tokens(m["content"]) + _TEMPLATE_TOKENS for m in messages)

    @property
    def max_tokens(self) -> int:
        """The completion tokens a request may use (0: no bound)."""
        return int(self.generation.get("max_tokens") or 0)

    def _reserve(self, request: _Request) -> None:
        """Reserve a request's worst case in the budget: an upper bound of its
        prompt tokens, so that ``--max-cost``/``--max-tokens`` hold whatever
        the server counts. A backend that cannot count exactly (an HTTP
        server's tokenizer is unknown) gives ``max_prompt_tokens``; what a
        request really used replaces the reservation when its answer arrives.

        RAISES (BudgetExceeded): If it does not fit.
        """
        if self.budget is None:
            return
        if not request.reserved:
            bound = getattr(self.backend, "max_prompt_tokens", None)
            request.reserved = (
                int(bound(request.messages))
                if callable(bound)
                else sum(
                    self.backend.count_tokens(m["content"]) + _TEMPLATE_TOKENS
                    for m in request.messages
                )
            )
        self.budget.reserve(request.reserved, self.max_tokens)

    def _release(self, request: _Request) -> None:
        if self.budget is not None:
            self.budget.release(request.reserved, self.max_tokens)

    def _tick(self, n: int) -> None:
        if self.progress is not None and n > 0:
            self.progress(n)

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        """Answer the prompts of a batch: one list of answers per Doc."""
        grouped = [list(doc_prompts) for doc_prompts in prompts]
        keys = [[self.key(prompt) for prompt in doc_prompts] for doc_prompts in grouped]
        occurrences = Counter(key for doc_keys in keys for key in doc_keys)
        first = {}
        for doc_prompts, doc_keys in zip(grouped, keys):
            for prompt, key in zip(doc_prompts, doc_keys):
                first.setdefault(key, prompt)
        hits = self.cache.get_many(occurrences) if self.cache is not None else {}
        answers = {key: hit.response for key, hit in hits.items()}
        for key in hits:
            self.usage.record_hit()
            self._tick(occurrences[key])
        requests = [_Request(key, self.messages(first[key])) for key in first if key not in hits]
        answers.update(self._send_all(requests, occurrences))
        self.usage.record_prompts(sum(occurrences.values()))
        return [[answers[key] for key in doc_keys] for doc_keys in keys]

    def estimate(self, prompts: List[List[str]], expected: List[str]) -> RunEstimate:
        """What answering these prompts would send and cost; sends nothing.

        prompts (List[List[str]]): The prompts of each Doc of a run.
        expected (List[str]): Per Doc, a typical answer (its token count is
            the "expected" completion).
        RETURNS (RunEstimate): Counts for the prompts not in the cache.
        """
        keys = [[self.key(prompt) for prompt in doc_prompts] for doc_prompts in prompts]
        cached = (
            self.cache.present(k for doc_keys in keys for k in doc_keys) if self.cache else set()
        )
        seen: set = set()
        n_prompts = n_cached = repeated = to_send = prompt_tokens = expected_tokens = 0
        for doc_prompts, doc_keys, answer in zip(prompts, keys, expected):
            for prompt, key in zip(doc_prompts, doc_keys):
                n_prompts += 1
                if key in seen:  # sent once, answers every occurrence (usage: "repeated")
                    repeated += 1
                    continue
                seen.add(key)
                if key in cached:  # usage report: "cache_hits"
                    n_cached += 1
                    continue
                to_send += 1
                prompt_tokens += self.prompt_tokens(prompt)
                expected_tokens += min(self.max_tokens or 10**9, self.backend.count_tokens(answer))
        price = self.budget.cost_of if self.budget is not None else (lambda p, c: 0.0)
        most = to_send * self.max_tokens
        return RunEstimate(
            docs=len(prompts),
            prompts=n_prompts,
            cached=n_cached,
            repeated=repeated,
            to_send=to_send,
            prompt_tokens=prompt_tokens,
            completion_tokens_expected=expected_tokens,
            completion_tokens_max=most,
            cost_expected=round(price(prompt_tokens, expected_tokens), 6),
            cost_max=round(price(prompt_tokens, most), 6),
        )

    def _send_all(self, requests: List[_Request], occurrences: Counter) -> Dict[str, str]:
        """Send the requests, ``max_in_flight`` at a time, each reserved in the
        budget before it starts (in order). A key another process holds is
        set aside and looked up in the cache every ``_POLL_S`` until its
        answer is there (a cache hit) or its claim is free (sent from here).
        The first error (a request that failed for good, the budget) stops
        new requests; the ones in flight finish and are cached; then it is
        raised. Ctrl+C too; a second Ctrl+C abandons the requests in flight."""
        pending: Deque[_Request] = deque(requests)
        running: Dict[Future, _Request] = {}
        waiting: Dict[str, _Request] = {}  # claimed by another process
        answers: Dict[str, str] = {}
        error: Optional[BaseException] = None
        refreshed = time.monotonic()
        try:
            while running or (error is None and (pending or waiting)):
                while pending and error is None and len(running) < self.backend.max_in_flight:
                    try:
                        self._reserve(pending[0])
                    except BudgetExceeded as err:
                        if not running:  # else: requests in flight may settle for less
                            error = err
                        break
                    except Exception as err:  # e.g. the tokenizer cannot load
                        error = err
                        break
                    request = pending.popleft()
                    running[self._start(request)] = request
                timeout = _POLL_S if waiting or self.cache is None else self.cache.claim_timeout / 4
                if running:
                    done, _ = wait(running, timeout, FIRST_COMPLETED)
                elif error is None and waiting:
                    done = set()
                    time.sleep(timeout)
                else:
                    break
                for future in done:
                    request = running.pop(future)
                    try:
                        answer = future.result()
                    except Exception as err:
                        error = error or err
                        continue
                    if answer is None:
                        waiting[request.key] = request
                    else:
                        answers[request.key] = answer
                        self._tick(occurrences[request.key])
                if self.cache is not None and error is None:
                    if waiting:
                        pending.extendleft(reversed(self._look_up(waiting, answers, occurrences)))
                    if running and time.monotonic() - refreshed > self.cache.claim_timeout / 4:
                        self.cache.refresh_claims()
                        refreshed = time.monotonic()
        except KeyboardInterrupt:
            self._drain(running)
            raise
        except Exception as err:  # the cache failed: the requests in flight still finish
            self._drain(running, interrupted=False)
            raise err
        if error is not None:
            raise error
        return answers

    def _look_up(
        self, waiting: Dict[str, _Request], answers: Dict[str, str], occurrences: Counter
    ) -> List[_Request]:
        """The answers that arrived for keys another process holds (moved to
        ``answers``), and the requests whose claim is free now (to send)."""
        assert self.cache is not None
        for key, hit in self.cache.get_many(list(waiting)).items():
            del waiting[key]
            answers[key] = hit.response
            self.usage.record_hit()
            self._tick(occurrences[key])
        free = self.cache.claimable(list(waiting))
        return [waiting.pop(key) for key in list(waiting) if key in free]

    def _drain(self, running: Dict[Future, _Request], interrupted: bool = True) -> None:
        """Wait for the requests in flight (they are cached). After Ctrl+C no
        retry starts, and a second Ctrl+C abandons them (``abandoned``)."""
        stop_retries = getattr(self.backend, "stop_retries", None)
        if interrupted and callable(stop_retries):
            stop_retries()
        try:
            wait(running)
        except KeyboardInterrupt:
            self.abandoned = sum(1 for future in running if not future.done())
            cancel = getattr(self.backend, "cancel", None)
            if callable(cancel):  # an HTTP client ends each at its next chunk
                cancel()
            if not interrupted:
                raise

    def _start(self, request: _Request) -> Future:
        """Send a request on a thread of its own. A daemon thread: a request
        abandoned by a second Ctrl+C never keeps the process from exiting."""
        future: Future = Future()

        def work() -> None:
            try:
                future.set_result(self._send(request))
            except BaseException as err:
                future.set_exception(err)

        threading.Thread(target=work, name="hybrid-ner-llm", daemon=True).start()
        return future

    def _send(self, request: _Request) -> Optional[str]:
        """One request (a worker thread), claimed in the cache first: None if
        another process holds the key (its reservation released). The answer
        is stored before this returns; the reservation is settled or released."""
        if self.cache is not None:
            try:
                status, hit = self.cache.claim(request.key)
            except BaseException:
                self._release(request)
                raise
            if status != CLAIM_CLAIMED:
                self._release(request)
                if status != CLAIM_ANSWERED or hit is None:
                    return None
                self.usage.record_hit()  # answered by another process since the look-up
                return hit.response
        try:
            return self._complete(request).text
        except BaseException:
            if self.cache is not None:
                self.cache.release(request.key)  # let another process try it
            raise

    def _complete(self, request: _Request) -> Completion:
        start = time.perf_counter()
        try:
            completion = self.backend.complete(request.messages, self.generation, self.usage)
        except BaseException:
            self._release(request)
            raise
        latency = time.perf_counter() - start
        cost = 0.0
        if self.budget is not None:
            self.budget.settle(
                request.reserved,
                self.max_tokens,
                completion.prompt_tokens,
                completion.completion_tokens,
            )
            cost = self.budget.cost_of(completion.prompt_tokens, completion.completion_tokens)
        # Paid whether or not it can be stored: counted first.
        self.usage.record_answer(
            completion.prompt_tokens, completion.completion_tokens, cost, latency
        )
        if self.cache is not None:
            try:
                self.cache.put(
                    request.key,
                    self.backend.model_id,
                    {"messages": request.messages, "params": self.generation},
                    CachedAnswer(
                        completion.text, completion.prompt_tokens, completion.completion_tokens
                    ),
                )
            except Exception:
                self.usage.record_not_cached()
                raise
        return completion

    def close(self) -> None:
        """Stop: release the claims, close backend and cache. Requests
        abandoned by a second Ctrl+C are not waited for."""
        self.backend.close()
        if self.cache is not None:
            try:  # a full disk cannot release claims: they go stale with this process
                self.cache.release_claims()
            except HybridNerError:
                pass
            self.cache.close()
