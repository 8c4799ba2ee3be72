"""Usage accounting, the hard budget, and the dry run's estimate.

``Usage`` counts what one run did (requests, cache hits, tokens, failures by
kind, latencies). ``Budget`` is checked *before* each request with the
request's worst case (an upper bound of its prompt tokens + ``max_tokens``),
so a run never spends more than allowed; it stops with :class:`BudgetExceeded`
and everything answered so far is in the prompt cache.

What is bounded, precisely: the tokens and cost *the server reports*, as long
as it counts at most one prompt token per UTF-8 byte of the prompt plus a
chat template (``OpenAICompatibleClient.max_prompt_tokens``; the embedded
model counts exactly) and at most ``max_tokens`` completion tokens (an answer
that is longer was generated against the request; it is cut, counted as
``oversized_answer``, and billed as reported).
"""

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from spacy_llm.registry import registry

from ..errors import EXIT_PARTIAL, EXIT_REQUESTS_FAILED, HybridNerError, OptionError


class BudgetExceeded(HybridNerError):
    """The next request would exceed the budget; nothing more is sent."""

    exit_code = EXIT_PARTIAL


class LLMRequestError(HybridNerError):
    """A request failed for good (after retries, or an error not worth retrying).

    kind (str): The failure kind, as counted in ``Usage.failures``: e.g.
        ``http_400``, ``http_429`` (also when Retry-After asks for longer
        than max_backoff), ``timeout``, ``empty`` (null or blank answer),
        ``local_error``.
    message (str): What happened, in one line.
    """

    exit_code = EXIT_REQUESTS_FAILED

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


def _percentile(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Usage:
    """What a run used. Thread-safe: workers record into it concurrently."""

    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    failures: Counter = field(default_factory=Counter)  # failed attempts by kind
    latencies: List[float] = field(default_factory=list)  # seconds per answered request
    not_cached: int = 0  # answers received (and paid) that the prompt cache could not store
    prompts: int = 0  # prompt occurrences answered (requests + cache hits + repeated)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_hit(self) -> None:
        with self._lock:
            self.cache_hits += 1

    def record_failure(self, kind: str) -> None:
        with self._lock:
            self.failures[kind] += 1

    def record_prompts(self, n: int) -> None:
        with self._lock:
            self.prompts += n

    def record_not_cached(self) -> None:
        with self._lock:
            self.not_cached += 1

    def record_answer(
        self, prompt_tokens: int, completion_tokens: int, cost: float, latency: float
    ) -> None:
        with self._lock:
            self.requests += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.cost += cost
            self.latencies.append(latency)

    def report(self) -> Dict[str, Any]:
        """A JSON-serialisable summary."""
        with self._lock:
            return {
                "requests": self.requests,
                "cache_hits": self.cache_hits,
                # Occurrences of a prompt already asked in this run: answered once, free.
                "repeated": max(0, self.prompts - self.requests - self.cache_hits),
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost": round(self.cost, 6),
                "not_cached": self.not_cached,
                "failures": dict(self.failures),
                "latency_p50_s": _round(_percentile(self.latencies, 0.5)),
                "latency_p95_s": _round(_percentile(self.latencies, 0.95)),
            }


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 4)


class Budget:
    """A hard limit on requests, tokens and money for one run.

    max_requests (Optional[int]): Requests sent (cache hits are free).
    max_tokens (Optional[int]): Prompt + completion tokens.
    max_cost (Optional[float]): Money, from the prices below.
    price_per_1k_input (float): Price of 1,000 prompt tokens.
    price_per_1k_output (float): Price of 1,000 completion tokens.
    """

    def __init__(
        self,
        max_requests: Optional[int] = None,
        max_tokens: Optional[int] = None,
        max_cost: Optional[float] = None,
        price_per_1k_input: float = 0.0,
        price_per_1k_output: float = 0.0,
    ) -> None:
        for name, value in (
            ("max_requests", max_requests),
            ("max_tokens", max_tokens),
            ("max_cost", max_cost),
            ("price_per_1k_input", price_per_1k_input),
            ("price_per_1k_output", price_per_1k_output),
        ):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise OptionError(f"Budget {name} must be a number >= 0, got {value}")
        if max_cost is not None and not (price_per_1k_input or price_per_1k_output):
            # Every request would cost 0: the limit would let the whole run through.
            raise OptionError(
                f"--max-cost {max_cost} needs --price-in and --price-out (per 1,000 tokens; "
                "budget price_per_1k_input, price_per_1k_output): without prices every request "
                "costs 0 and no cost limit applies"
            )
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.price_per_1k_input = price_per_1k_input
        self.price_per_1k_output = price_per_1k_output
        self._lock = threading.Lock()
        self._requests = 0
        self._tokens = 0
        self._cost = 0.0

    def cost_of(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price of a request."""
        return (
            prompt_tokens * self.price_per_1k_input + completion_tokens * self.price_per_1k_output
        ) / 1000

    def reserve(self, prompt_tokens: int, max_completion_tokens: int) -> None:
        """Reserve a request's worst case, or raise :class:`BudgetExceeded`."""
        tokens = prompt_tokens + max_completion_tokens
        cost = self.cost_of(prompt_tokens, max_completion_tokens)
        with self._lock:
            problems = []
            if self.max_requests is not None and self._requests + 1 > self.max_requests:
                problems.append(f"{self.max_requests} requests")
            if self.max_tokens is not None and self._tokens + tokens > self.max_tokens:
                problems.append(f"{self.max_tokens} tokens")
            if self.max_cost is not None and self._cost + cost > self.max_cost + 1e-12:
                problems.append(f"a cost of {self.max_cost}")
            if problems:
                raise BudgetExceeded(
                    "Budget reached: the next request could exceed "
                    + " and ".join(problems)
                    + ". Answers so far are cached; raise the budget and re-run to continue."
                )
            self._requests += 1
            self._tokens += tokens
            self._cost += cost

    def settle(
        self,
        reserved_prompt: int,
        reserved_completion: int,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None:
        """Replace a reservation by what the request really used."""
        with self._lock:
            self._tokens += (prompt_tokens + completion_tokens) - (
                reserved_prompt + reserved_completion
            )
            self._cost += self.cost_of(prompt_tokens, completion_tokens) - self.cost_of(
                reserved_prompt, reserved_completion
            )

    def release(self, reserved_prompt: int, reserved_completion: int) -> None:
        """Give back a reservation whose request failed without an answer."""
        with self._lock:
            self._requests -= 1
            self._tokens -= reserved_prompt + reserved_completion
            self._cost -= self.cost_of(reserved_prompt, reserved_completion)


@registry.llm_misc("hybrid_ner.Budget.v1")
def create_budget(
    max_requests: Optional[int] = None,
    max_tokens: Optional[int] = None,
    max_cost: Optional[float] = None,
    price_per_1k_input: float = 0.0,
    price_per_1k_output: float = 0.0,
) -> Budget:
    """A hard budget for one run; None means no limit.

    max_requests (Optional[int]): Requests sent (cache hits are free).
    max_tokens (Optional[int]): Prompt + completion tokens.
    max_cost (Optional[float]): Money, computed from the prices.
    price_per_1k_input (float): Price of 1,000 prompt tokens.
    price_per_1k_output (float): Price of 1,000 completion tokens.
    RETURNS (Budget): The budget.
    """
    return Budget(max_requests, max_tokens, max_cost, price_per_1k_input, price_per_1k_output)


@dataclass
class RunEstimate:
    """Prompts and tokens of a run, before any request
    (:meth:`hybrid_ner.llm.chat_model.ChatModel.estimate`). Completion tokens
    are a rough "expected" figure and a hard upper bound (``max_tokens`` per
    request). ``cached`` and ``repeated`` are free: the run's usage report
    counts them as ``cache_hits`` and ``repeated``."""

    docs: int
    prompts: int
    cached: int
    repeated: int
    to_send: int
    prompt_tokens: int
    completion_tokens_expected: int
    completion_tokens_max: int
    cost_expected: float
    cost_max: float
