"""The spacy-llm model: any chat backend behind a prompt cache, a hard budget,
usage accounting and N requests in flight.

spacy-llm calls a model with the prompts of a batch of Docs
(``Iterable[Iterable[str]]``: Docs × queries) and expects the answers in the
same shape. Here, cached prompts are answered from the cache, identical
prompts are sent once, and the rest run concurrently up to the backend's
``max_in_flight`` on persistent worker threads (:mod:`.dispatch`). Each
answer is written to the cache the moment it arrives; when the budget is
reached or a request fails for good, no new request starts, the ones in
flight finish (and are cached), and the error is raised.

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
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..errors import HybridNerError, OptionError
from .backend import ChatBackend, Messages
from .cache import CachedAnswer, PromptCache, request_key
from .dispatch import QUEUED, Dispatcher, Entry, Request
from .usage import Budget, Usage

#: The generation parameters of ``hybrid_ner.LlamaCpp.v1`` and
#: ``hybrid_ner.OpenAICompatible.v1``: deterministic, short answers; "\nInput:"
#: stops a model that starts inventing examples. A small model may loop
#: ("LOC: x" forever); 160 tokens hold ~20 entity lines.
DEFAULT_GENERATION: Dict[str, Any] = {"temperature": 0.0, "max_tokens": 160, "stop": ["\nInput:"]}
# Chat templates add a few tokens per message around the content.
_TEMPLATE_TOKENS = 8


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


class ChatModel(Dispatcher):
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
        super().__init__()
        self.backend = backend
        self.generation = check_generation(DEFAULT_GENERATION if generation is None else generation)
        self.system_prompt = system_prompt
        self.cache = cache
        self.budget = budget
        self.usage = Usage()
        #: Called with the number of prompts answered (cached or not): progress bars.
        self.progress: Optional[Callable[[int], None]] = None

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

    def _reserve_count(self, messages: Messages) -> int:
        """The prompt tokens a budget reserves for a request: an upper bound,
        so that ``--max-cost``/``--max-tokens`` hold whatever the server
        counts. A backend that cannot count exactly (an HTTP server's
        tokenizer is unknown) gives ``max_prompt_tokens``: one token per UTF-8
        byte, which no byte-level BPE or SentencePiece tokenizer exceeds,
        plus its chat template; what a request really used replaces the
        reservation when its answer arrives."""
        bound = getattr(self.backend, "max_prompt_tokens", None)
        if not callable(bound):
            return self._count(messages)
        return int(bound(messages))

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
            Entry(Request(key, self.messages(first[key])), counts[key])
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
        needed: Dict[str, Entry] = {}
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
            Entry(Request(key, self.messages(first_prompt[key])), 0)
            for key in missing
            if key not in hits
        ]
        if self.backend.max_in_flight == 1:
            # A serial local model reuses the evaluated prefix of the previous
            # prompt: neighbours in sorted order share the longest prefixes.
            new.sort(key=lambda e: [m["content"] for m in e.request.messages])
        with self._lock:
            # Needed now: this call's queued prefetched requests, then its new ones.
            self._enqueue([e for e in needed.values() if e.state == QUEUED] + new, self._urgent)
            needed.update((e.request.key, e) for e in new)
        try:
            for entry in needed.values():
                entry.done.wait()
        except BaseException as err:  # Ctrl+C: nothing new starts, what is in flight finishes
            with self._lock:
                self._fail(err)
            stop_retries = getattr(self.backend, "stop_retries", None)
            if callable(stop_retries):  # their current attempt only: Ctrl+C ends the run
                stop_retries()
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
        self.usage.record_prompts(sum(occurrences.values()))
        return [[answers[key] for key in doc_keys] for doc_keys in keys]

    def _key_of(self, prompt: str) -> str:
        key = self._keys.pop(prompt, None)  # computed by prefetch
        return key if key is not None else self.key(prompt)

    def _request(self, request: Request, max_tokens: int) -> str:
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
        return completion.text

    def close(self) -> None:
        """Stop: requests not yet started are dropped, those in flight finish
        their current attempt (and are cached; no retry starts), claims are
        released, backend and cache closed.

        After a second Ctrl+C (while the first waited for the requests in
        flight), or a Ctrl+C during this wait, the requests in flight are
        abandoned (``abandoned`` says how many) instead of waited for: Ctrl+C
        always ends the run. A KeyboardInterrupt here is raised again once
        everything is closed."""
        with self._lock:
            self._closed = True
            self._fail_queued(HybridNerError("The model was closed"))
            workers = list(self._workers)
            watcher = self._watcher
            abandon = self._abandon
        interrupted: Optional[KeyboardInterrupt] = None
        threads = [
            t for t in workers + [watcher] if t is not None and t is not threading.current_thread()
        ]
        stop_retries = getattr(self.backend, "stop_retries", None)
        if callable(stop_retries):  # the requests in flight finish their current attempt
            stop_retries()
        if abandon:
            self._cancel_in_flight()
        else:
            try:
                for thread in threads:
                    thread.join()
            except KeyboardInterrupt as err:
                interrupted = err
                self._cancel_in_flight()
        with self._lock:
            self._entries.clear()
            self._keys.clear()
            self._closed = False  # usable again, as before
            self._abandon = False
        self.backend.close()
        if self.cache is not None:
            try:  # a full disk cannot release claims: they go stale with this process
                self.cache.release_claims()
            except HybridNerError:
                pass
            self.cache.close()
        if interrupted is not None:
            raise interrupted

    def _cancel_in_flight(self) -> None:
        """Abandon the requests in flight: the backend cancels them where it
        can (an HTTP client ends each at its next chunk); none is waited for."""
        with self._lock:
            self.abandoned = self._in_flight
        cancel = getattr(self.backend, "cancel", None)
        if callable(cancel):
            cancel()
