"""Usage, the hard budget and the dry run's estimate. The budget reserves each request's worst
case (prompt-token bound + ``max_tokens``: longer answers are cut): no run overspends."""

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from spacy_llm.registry import registry

from ..errors import EXIT_PARTIAL, EXIT_REQUESTS_FAILED, HybridNerError, OptionError


class BudgetExceeded(HybridNerError):
    """The next request would exceed the budget; nothing more is sent."""

    exit_code = EXIT_PARTIAL


class LLMRequestError(HybridNerError):
    """A request failed for good; ``kind`` is counted in ``Usage.failures`` (``http_429``...)."""

    exit_code = EXIT_REQUESTS_FAILED

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass
class Usage:
    """What a run used. Thread-safe: workers record into it concurrently."""

    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The tokens of the answers found in the cache, as paid for once: what a replay costs.
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    cost: float = 0.0
    failures: Counter = field(default_factory=Counter)  # failed attempts by kind
    not_cached: int = 0  # answers received (and paid) that the cache could not store
    prompts: int = 0  # prompt occurrences answered (requests + cache hits + repeated)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: Any) -> None:
        """Add to counters by name; ``failure=kind`` counts a failed attempt."""
        with self._lock:
            kind = counts.pop("failure", None)
            if kind is not None:
                self.failures[kind] += 1
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def record_hit(self, tokens_in: int, tokens_out: int) -> None:
        self.add(cache_hits=1, cached_prompt_tokens=tokens_in, cached_completion_tokens=tokens_out)

    def record_answer(self, prompt_tokens: int, completion_tokens: int, cost: float) -> None:
        self.add(
            requests=1, cost=cost, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )

    def report(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "cache_hits": self.cache_hits,
                # Occurrences of a prompt already asked in this run: answered once, free.
                "repeated": max(0, self.prompts - self.requests - self.cache_hits),
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cached_prompt_tokens": self.cached_prompt_tokens,
                "cached_completion_tokens": self.cached_completion_tokens,
                "cost": round(self.cost, 6),
                "not_cached": self.not_cached,
                "failures": dict(self.failures),
            }


class Budget:
    """``hybrid_ner.Budget.v1``: a hard limit on a run's requests, tokens and cost (None: none)."""

    def __init__(
        self,
        max_requests: Optional[int] = None,
        max_tokens: Optional[int] = None,
        max_cost: Optional[float] = None,
        price_per_1k_input: float = 0.0,
        price_per_1k_output: float = 0.0,
    ) -> None:
        for name, value in locals().items():
            if isinstance(value, (int, float)) and (not math.isfinite(value) or value < 0):
                raise OptionError(f"Budget {name} must be a number >= 0, got {value}")
        if max_cost is not None and not (price_per_1k_input or price_per_1k_output):
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
        self._spent = [0, 0, 0.0]  # requests, tokens, cost (reserved or settled)

    def cost_of(self, prompt_tokens: int, completion_tokens: int) -> float:
        price_in, price_out = self.price_per_1k_input, self.price_per_1k_output
        return (prompt_tokens * price_in + completion_tokens * price_out) / 1000

    def _add(self, requests: int, prompt_tokens: int, completion_tokens: int) -> None:
        self._spent[0] += requests
        self._spent[1] += prompt_tokens + completion_tokens
        self._spent[2] += self.cost_of(prompt_tokens, completion_tokens)

    def reserve(self, prompt_tokens: int, max_completion_tokens: int) -> None:
        """Reserve a request's worst case, or raise :class:`BudgetExceeded`."""
        tokens = prompt_tokens + max_completion_tokens
        cost = self.cost_of(prompt_tokens, max_completion_tokens)
        with self._lock:
            requests, spent_tokens, spent_cost = self._spent
            problems = []
            if self.max_requests is not None and requests + 1 > self.max_requests:
                problems.append(f"{self.max_requests} requests")
            if self.max_tokens is not None and spent_tokens + tokens > self.max_tokens:
                problems.append(f"{self.max_tokens} tokens")
            if self.max_cost is not None and spent_cost + cost > self.max_cost + 1e-12:
                problems.append(f"a cost of {self.max_cost}")
            if problems:
                raise BudgetExceeded(
                    f"Budget reached: the next request could exceed {' and '.join(problems)}. "
                    "Answers so far are cached; raise the budget and re-run to continue."
                )
            self._add(1, prompt_tokens, max_completion_tokens)

    def settle(self, reserved_in: int, reserved_out: int, used_in: int, used_out: int) -> None:
        """Replace a reservation (prompt, completion tokens) by what the request used."""
        with self._lock:
            self._add(0, used_in - reserved_in, used_out - reserved_out)

    def release(self, reserved_prompt: int, reserved_completion: int) -> None:
        """Give back a reservation whose request got no answer."""
        with self._lock:
            self._add(-1, -reserved_prompt, -reserved_completion)


create_budget = registry.llm_misc("hybrid_ner.Budget.v1")(Budget)


@dataclass
class RunEstimate:
    """A run's prompts, tokens and cost before any request (expected and most)."""

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
