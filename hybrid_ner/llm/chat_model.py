"""The spacy-llm model: a chat backend behind the prompt cache, budget and usage. After the
first error no request starts; those in flight finish and are cached, then it is raised."""

import threading
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..errors import OptionError
from .cache import CLAIM_ANSWERED, CLAIM_CLAIMED, PromptCache, request_key
from .usage import Budget, BudgetExceeded, RunEstimate, Usage

Messages = List[Dict[str, str]]

#: The generation parameters of the registered models: deterministic, short
#: answers; "\nInput:" stops a model inventing examples; 160 tokens hold ~20
#: entity lines (a small model may loop "LOC: x" forever).
DEFAULT_GENERATION: Dict[str, Any] = {"temperature": 0.0, "max_tokens": 160, "stop": ["\nInput:"]}
_TEMPLATE_TOKENS = 8  # chat templates add a few tokens per message
_POLL_S = 0.1  # how often a key another process claimed is looked up


@dataclass
class _Request:
    key: str
    messages: Messages
    reserved: int = 0  # prompt tokens reserved in the budget


class ChatModel:
    """A spacy-llm model over a chat ``backend`` (LlamaCppBackend or OpenAICompatibleClient;
    optional methods: ``max_prompt_tokens``, ``stop_retries``, ``cancel``)."""

    def __init__(
        self,
        backend: Any,
        generation: Optional[Dict[str, Any]] = None,
        system_prompt: Optional[str] = None,
        cache: Optional[PromptCache] = None,
        budget: Optional[Budget] = None,
    ) -> None:
        self.backend = backend
        generation = DEFAULT_GENERATION if generation is None else generation
        where = "[components.llm.model.generation]"  # a wrong type would fail in a request
        if not isinstance(generation, dict):
            raise OptionError(f"{where} must be a block of settings, got {generation!r}")
        max_tokens, temperature, stop = map(generation.get, ("max_tokens", "temperature", "stop"))
        if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
            raise OptionError(f"{where} max_tokens must be a whole number >= 1, got {max_tokens!r}")
        if temperature is not None and type(temperature) not in (int, float):
            raise OptionError(f"{where} temperature must be a number, got {temperature!r}")
        stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else [None]
        if stop is not None and not all(isinstance(s, str) for s in stops):
            raise OptionError(f"{where} stop must be a string or a list of strings, got {stop!r}")
        self.generation = dict(generation)
        self.system_prompt = system_prompt
        self.cache = cache
        limited = budget is not None and (budget.max_tokens, budget.max_cost) != (None, None)
        if limited and not self.generation.get("max_tokens"):
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
        """The backend's context length (spacy-llm reads it); unknown counts as unlimited."""
        return self.backend.context_length or 10**9

    @property
    def max_tokens(self) -> int:
        """The completion tokens a request may use (0: no bound)."""
        return int(self.generation.get("max_tokens") or 0)

    def messages(self, prompt: str) -> Messages:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [{"role": "user", "content": prompt}]

    def key(self, prompt: str) -> str:
        return request_key(self.backend.model_id, self.messages(prompt), self.generation)

    def prompt_tokens(self, messages: Messages, bound: bool = False) -> int:
        """The backend's count of prompt tokens, or with ``bound`` its upper bound (budget)."""
        upper = getattr(self.backend, "max_prompt_tokens", None)
        if bound and callable(upper):
            return int(upper(messages))
        return sum(self.backend.count_tokens(m["content"]) + _TEMPLATE_TOKENS for m in messages)

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        """Answer the prompts of a batch: one list of answers per Doc."""
        grouped = [list(doc_prompts) for doc_prompts in prompts]
        keys = [[self.key(prompt) for prompt in doc_prompts] for doc_prompts in grouped]
        occurrences = Counter(key for doc_keys in keys for key in doc_keys)
        first = {key: prompt for ps, ks in zip(grouped, keys) for prompt, key in zip(ps, ks)}
        hits = self.cache.get_many(occurrences) if self.cache is not None else {}
        answers = {key: hit.response for key, hit in hits.items()}
        for key, hit in hits.items():
            self.usage.record_hit(hit.prompt_tokens, hit.completion_tokens)
            if self.progress is not None:
                self.progress(occurrences[key])
        requests = [_Request(key, self.messages(first[key])) for key in first if key not in hits]
        answers.update(self._send_all(requests, occurrences))
        self.usage.add(prompts=sum(occurrences.values()))
        return [[answers[key] for key in doc_keys] for doc_keys in keys]

    def estimate(self, prompts: List[List[str]], expected: List[str]) -> RunEstimate:
        """What the prompts would send and cost given a typical answer per Doc; sends nothing."""
        keys = [[self.key(prompt) for prompt in doc_prompts] for doc_prompts in prompts]
        cached = (
            self.cache.present(k for ks in keys for k in ks) if self.cache is not None else set()
        )
        seen: set = set()
        n_prompts = repeated = n_cached = to_send = prompt_tokens = expected_tokens = 0
        for doc_prompts, doc_keys, answer in zip(prompts, keys, expected):
            for prompt, key in zip(doc_prompts, doc_keys):
                n_prompts += 1
                repeated += key in seen
                n_cached += key not in seen and key in cached
                if key not in seen and key not in cached:
                    to_send += 1
                    prompt_tokens += self.prompt_tokens(self.messages(prompt))
                    answer_tokens = self.backend.count_tokens(answer)
                    expected_tokens += min(self.max_tokens or answer_tokens, answer_tokens)
                seen.add(key)
        price = self.budget.cost_of if self.budget is not None else (lambda p, c: 0.0)
        most = to_send * self.max_tokens
        counts = (len(prompts), n_prompts, n_cached, repeated, to_send, prompt_tokens)
        costs = [round(price(prompt_tokens, n), 6) for n in (expected_tokens, most)]
        return RunEstimate(*counts, expected_tokens, most, *costs)

    def reserve(self, messages: Messages) -> int:
        """Reserve a request's worst case (or raise BudgetExceeded). RETURNS: prompt tokens."""
        if self.budget is None:
            return 0
        reserved = self.prompt_tokens(messages, bound=True)
        self.budget.reserve(reserved, self.max_tokens)
        return reserved

    def release(self, reserved: int) -> None:
        """Give back the reservation of a request that got no answer."""
        if self.budget is not None:
            self.budget.release(reserved, self.max_tokens)

    def account(self, reserved: int, prompt_tokens: int, completion_tokens: int) -> None:
        """Settle a reservation with what an answer used and count it (paid, stored or not)."""
        cost = 0.0
        if self.budget is not None:
            self.budget.settle(reserved, self.max_tokens, prompt_tokens, completion_tokens)
            cost = self.budget.cost_of(prompt_tokens, completion_tokens)
        self.usage.record_answer(prompt_tokens, completion_tokens, cost)

    def _send_all(self, requests: List[_Request], occurrences: Counter) -> Dict[str, str]:
        """Send the requests, ``max_in_flight`` at a time, each reserved (in order) first."""
        pending, running = deque(requests), {}  # type: ignore[var-annotated]
        answers: Dict[str, str] = {}
        error: Optional[BaseException] = None
        stop = threading.Event()  # ends the waits for other processes' claims
        try:
            while pending or running:
                while pending and error is None and len(running) < self.backend.max_in_flight:
                    request = pending[0]
                    try:
                        request.reserved = self.reserve(request.messages)
                    except Exception as err:  # over budget, or e.g. the tokenizer cannot load
                        over = isinstance(err, BudgetExceeded)
                        error = None if over and running else err  # in flight may settle for less
                        break
                    running[self._start(pending.popleft(), stop)] = request
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    request = running.pop(future)
                    try:
                        answer = future.result()
                    except Exception as err:
                        error = error or err
                        stop.set()
                        continue
                    if answer is not None:
                        answers[request.key] = answer
                        if self.progress is not None:
                            self.progress(occurrences[request.key])
        except KeyboardInterrupt:
            stop.set()
            self._drain(running)
            raise
        if error is not None:
            raise error
        return answers

    def _drain(self, running: Dict[Future, _Request]) -> None:
        """After Ctrl+C: no retry; await (and cache) those in flight unless Ctrl+C again."""
        getattr(self.backend, "stop_retries", lambda: None)()
        try:
            wait(running)
        except KeyboardInterrupt:
            self.abandoned = sum(1 for future in running if not future.done())
            getattr(self.backend, "cancel", lambda: None)()  # HTTP: ends each at its next chunk

    def _start(self, request: _Request, stop: threading.Event) -> Future:
        """Send on a daemon thread: an abandoned request never keeps the process alive."""
        future: Future = Future()

        def work() -> None:
            try:
                future.set_result(self._send(request, stop))
            except BaseException as err:
                future.set_exception(err)

        threading.Thread(target=work, name="hybrid-ner-llm", daemon=True).start()
        return future

    def _send(self, request: _Request, stop: threading.Event) -> Optional[str]:
        """Claim the key (waiting for another live holder), send, cache, settle; None: stopped."""
        try:
            while self.cache is not None:
                status, hit = self.cache.claim(request.key)
                if status == CLAIM_CLAIMED:
                    break
                if status == CLAIM_ANSWERED and hit is not None:
                    self.release(request.reserved)
                    # Answered by another process meanwhile.
                    self.usage.record_hit(hit.prompt_tokens, hit.completion_tokens)
                    return hit.response
                if stop.wait(_POLL_S):
                    self.release(request.reserved)
                    return None
            completion = self.backend.complete(request.messages, self.generation, self.usage)
        except BaseException:
            self.release(request.reserved)
            if self.cache is not None:  # let another process try it
                with suppress(Exception):  # a broken cache: the claim goes with this process
                    self.cache.release(request.key)
            raise
        self.account(request.reserved, completion.prompt_tokens, completion.completion_tokens)
        if self.cache is not None:
            request_record = {"messages": request.messages, "params": self.generation}
            try:
                self.cache.put(request.key, self.backend.model_id, request_record, completion)
            except Exception:
                self.usage.add(not_cached=1)
                raise
        return completion.response

    def close(self) -> None:
        """Release this process's claims; close backend and cache."""
        self.backend.close()
        if self.cache is not None:
            with suppress(Exception):  # a full disk cannot release claims: they go with us
                self.cache.release()
            self.cache.close()
