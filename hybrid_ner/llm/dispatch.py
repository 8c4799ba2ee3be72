"""The dispatcher of :class:`~hybrid_ner.llm.chat_model.ChatModel`: worker
threads (one per request in flight), the urgent and prefetch queues, budget
reservations, and the watcher of keys another process claimed in a shared
prompt cache. The methods that touch the queues run with ``_lock`` held,
except ``_work``, ``_send`` and ``_watch`` (the threads' own loops).
"""

import threading
import time
from collections import deque
from typing import Deque, Dict, List, Optional

from ..errors import HybridNerError
from .backend import Messages
from .cache import CLAIM_ANSWERED, CLAIM_CLAIMED, CachedAnswer
from .usage import BudgetExceeded

# Idle worker threads exit after this many seconds (a model never closed leaks none).
_IDLE_EXIT_S = 2.0
# How often keys claimed by another process are looked up in the cache.
_POLL_S = 0.1

# Entry states.
QUEUED, SENDING, DEFERRED, DONE = "queued", "sending", "deferred", "done"


class Request:
    __slots__ = ("key", "messages", "prompt_tokens")

    def __init__(self, key: str, messages: Messages) -> None:
        self.key = key
        self.messages = messages
        self.prompt_tokens = 0


class Entry:
    """One distinct prompt to answer: the request, its answer (or error) once
    known, and how many occurrences in calls still ask for it."""

    __slots__ = ("request", "state", "answer", "error", "done", "remaining", "ticked")

    def __init__(self, request: Request, remaining: int) -> None:
        self.request = request
        self.state = QUEUED
        self.answer: Optional[str] = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.remaining = remaining
        # The progress bar was advanced when the answer arrived: the first
        # occurrence collected does not advance it again.
        self.ticked = False

    def resolve(self, answer: Optional[str], error: Optional[BaseException] = None) -> None:
        self.state = DONE
        self.answer, self.error = answer, error
        self.done.set()


class Dispatcher:
    """Sends the queued requests of a chat model, ``backend.max_in_flight`` at a
    time. The model (:class:`~hybrid_ner.llm.chat_model.ChatModel`) fills the
    queues and provides ``_request``, ``_reserve_count`` and ``_max_tokens``."""

    def __init__(self) -> None:
        # All guarded by _lock; workers wait on _has_work, the claims watcher
        # on _watched, drains on _drained.
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._watched = threading.Condition(self._lock)
        self._drained = threading.Condition(self._lock)
        # By key: queued, running, deferred or not yet collected.
        self._entries: Dict[str, Entry] = {}
        self._urgent: Deque[Entry] = deque()  # asked for by the running call: sent first
        self._queue: Deque[Entry] = deque()  # prefetched, in the order the calls will ask
        self._deferred: Dict[str, Entry] = {}  # claimed by another process: awaited in the cache
        self._in_flight = 0
        self._error: Optional[BaseException] = None  # stops new requests until the error is raised
        self._closed = False
        self._workers: List[threading.Thread] = []
        self._watcher: Optional[threading.Thread] = None
        self._keys: Dict[str, str] = {}  # prompt -> key, computed by prefetch for the call
        # A second Ctrl+C: close() abandons the requests in flight instead of waiting.
        self._abandon = False
        #: Requests still in flight when close() abandoned them (not cached by this run).
        self.abandoned = 0

    def _tick(self, n: int = 1) -> None:
        if self.progress is not None and n > 0:
            self.progress(n)

    def _raise_after_drain(self, error: BaseException) -> None:
        """Wait until the requests in flight are answered (and cached), forget
        what was queued, and raise: the next call starts afresh."""
        with self._lock:
            try:
                while self._in_flight:
                    self._drained.wait()
            except KeyboardInterrupt:  # a second Ctrl+C: stop waiting for them
                self._abandon = True
                self._fail_queued(error)
                raise
            error = self._error or error
            self._fail_queued(error)
            self._entries.clear()
            self._keys.clear()
            self._error = None
        raise error

    def _enqueue(self, entries: List[Entry], queue: Deque[Entry]) -> None:
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

    def _head(self) -> Optional[Entry]:
        """The next entry to send (the urgent queue first); skips entries that
        were moved to the urgent queue and sent from there."""
        for queue in (self._urgent, self._queue):
            while queue and queue[0].state != QUEUED:
                queue.popleft()
            if queue:
                return queue[0]
        return None

    def _next(self) -> Optional[Entry]:
        """Take the next entry whose worst case fits the budget, or None."""
        entry = self._head() if self._error is None else None
        if entry is None:
            return None
        if self.budget is not None:
            request = entry.request
            if not request.prompt_tokens:
                request.prompt_tokens = self._reserve_count(request.messages)
            try:
                self.budget.reserve(request.prompt_tokens, self._max_tokens)
            except BudgetExceeded as err:
                # Requests in flight may settle for less than they reserved.
                if not self._in_flight:
                    self._fail(err)
                return None
        entry.state = SENDING
        self._in_flight += 1
        return entry

    def _work(self) -> None:
        """A worker's loop. Every exception ends in :meth:`_fail` (the entries
        waited for are resolved with it): no error can leave a caller waiting
        for an answer that no thread will give."""
        me = threading.current_thread()
        while True:
            with self._lock:
                idle_since = time.monotonic()
                while True:
                    try:
                        entry = None if self._closed else self._next()
                    except Exception as err:  # e.g. the tokenizer cannot load: end the run
                        self._fail(err)
                        entry = None
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
            except BaseException as err:  # _send resolves its own errors; this is a bug guard
                self._stop(entry, err)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._has_work.notify()  # one waiting for budget may fit now
                    if not self._in_flight:
                        self._drained.notify_all()

    def _send(self, entry: Entry) -> None:
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
                    entry.state = DEFERRED
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

    def _stop(self, entry: Entry, error: BaseException) -> None:
        with self._lock:
            self._fail(error)
        entry.resolve(None, error)

    def _release_budget(self, request: Request) -> None:
        if self.budget is not None:
            self.budget.release(request.prompt_tokens, self._max_tokens)

    def _resolve_cached(self, entry: Entry, cached: CachedAnswer) -> None:
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
                if entry.state == QUEUED:
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
                        entry.state = QUEUED
                        retry.append(entry)
                if retry:
                    self._urgent.extendleft(reversed(retry))
                    self._start_threads()  # idle workers may have left meanwhile
                    self._has_work.notify(len(retry))
