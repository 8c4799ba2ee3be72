"""OpenAI-compatible chat-completions client (OpenAI, vLLM, Ollama, llama.cpp server...):
transient failures and blank answers are retried with jittered back-off."""

import email.utils
import json
import math
import os
import random
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from ..errors import OptionError, mask_secrets, register_secret
from .cache import CachedAnswer
from .chat_model import Messages
from .usage import LLMRequestError, Usage

if TYPE_CHECKING:  # httpx is imported where a request is made: configs load without it
    import httpx

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# No tokenizer makes tokens this long: beyond it an answer is over max_tokens
# whatever token counts the server reports.
MAX_CHARS_PER_TOKEN = 32
#: Tokens a chat template may add per message and per request (the budget's bound).
TEMPLATE_TOKENS_MAX = 64


class _Retryable(Exception):
    def __init__(self, kind: str, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()  # type: ignore[arg-type]
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def check_base_url(base_url: str) -> str:
    """The API root if it is an http(s) URL with a host (not retried as a connection error)."""
    import httpx

    shown, example = mask_secrets(str(base_url)), "e.g. http://127.0.0.1:8080/v1"
    if not isinstance(base_url, str) or not base_url.strip():
        raise OptionError(f"--base-url is empty: give the API root, {example}")
    try:
        url = httpx.URL(base_url.strip())
    except Exception as err:  # httpx.InvalidURL, ValueError, ...
        reason = f"is not a valid URL ({mask_secrets(str(err))})"
        raise OptionError(f"--base-url {shown!r} {reason}; {example}") from None
    if url.scheme not in ("http", "https"):
        raise OptionError(
            f"--base-url {shown!r} must start with http:// or https:// "
            f"(got {url.scheme + '://' if url.scheme else 'no scheme'}); {example}"
        )
    if not url.host:
        raise OptionError(f"--base-url {shown!r} has no host; {example}")
    return base_url.strip()


class OpenAICompatibleClient:
    """Chat completions over HTTP with retries.

    base_url (str): API root with the version, e.g. ``http://127.0.0.1:8080/v1``.
    model (str): Model name sent with each request.
    api_key_env (Optional[str]): Variable holding the API key; None or unset: no key.
    max_in_flight (int): Concurrent requests.
    timeout (float): Seconds per attempt, the whole body included.
    max_tries (int): Attempts per request, the first included.
    backoff, max_backoff (float): First retry delay (doubling per retry), cap on one delay.
    context_length (Optional[int]): The model's context, if known.
    chars_per_token (float): For token estimates when the server reports none.
    seed (int): Seeds the jitter.
    """

    #: The defaults of this client and of ``hybrid_ner.OpenAICompatible.v1``.
    DEFAULT_BASE_URL = "https://api.openai.com/v1"
    DEFAULT_MODEL = "gpt-4o-mini"
    DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
    DEFAULT_MAX_IN_FLIGHT = 16
    DEFAULT_TIMEOUT = 60.0
    DEFAULT_MAX_TRIES = 6
    DEFAULT_BACKOFF = 1.0
    DEFAULT_MAX_BACKOFF = 60.0

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: Optional[str] = DEFAULT_API_KEY_ENV,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        timeout: float = DEFAULT_TIMEOUT,
        max_tries: int = DEFAULT_MAX_TRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        context_length: Optional[int] = None,
        chars_per_token: float = 4.0,
        seed: int = 0,
    ) -> None:
        if max_in_flight < 1 or max_tries < 1 or timeout <= 0 or backoff < 0:
            raise ValueError("max_in_flight and max_tries must be >= 1, timeout > 0, backoff >= 0")
        self.base_url = check_base_url(base_url).rstrip("/")
        self.shown_url = mask_secrets(self.base_url)  # credentials in it are masked
        self.model = model
        self.model_id = f"openai-compatible:{model}"
        self.api_key_env = api_key_env
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self.max_tries = max_tries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.context_length = context_length
        self.chars_per_token = chars_per_token
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._client: Optional["httpx.Client"] = None
        self._cancelled = threading.Event()  # a second Ctrl+C: abandon requests in flight
        self._no_retries = threading.Event()  # Ctrl+C: finish attempts, start no retry

    def _http(self) -> "httpx.Client":
        import httpx

        with self._lock:
            if self._client is None:
                key = os.environ.get(self.api_key_env) if self.api_key_env else None
                register_secret(key)  # never printed, whatever a server echoes
                headers = {"Authorization": f"Bearer {key}"} if key else {}  # json=: Content-Type
                if not key and self.api_key_env and "api.openai.com" in self.base_url:
                    warnings.warn(
                        f"${self.api_key_env} is not set: requests to {self.shown_url} will be "
                        "refused"
                    )
                n = self.max_in_flight
                limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
                self._client = httpx.Client(headers=headers, timeout=self.timeout, limits=limits)
            return self._client

    def count_tokens(self, text: str) -> int:
        return max(1, math.ceil(len(text) / self.chars_per_token))  # English: ≈ 4 chars

    def max_prompt_tokens(self, messages: Messages) -> int:
        """An upper bound of a server's prompt tokens: one per UTF-8 byte, plus a template's."""
        content = sum(len(str(m.get("content", "")).encode("utf-8")) for m in messages)
        return content + TEMPLATE_TOKENS_MAX * (len(messages) + 1)

    def complete(self, messages: Messages, params: Mapping[str, Any], usage: Usage) -> CachedAnswer:
        """Send one chat request, retrying transient failures, or raise LLMRequestError."""
        payload = {**params, "model": self.model, "messages": messages}
        cancelled, no_retries = self._cancelled, self._no_retries  # close() makes new ones
        last: Optional[_Retryable] = None
        for attempt in range(self.max_tries):
            if last is not None:
                delay = self._delay(attempt, last.retry_after)
                end = time.monotonic() + delay  # Ctrl+C and close() end the wait
                while time.monotonic() < end and not (cancelled.is_set() or no_retries.is_set()):
                    cancelled.wait(min(0.05, max(0.0, end - time.monotonic())))
                if cancelled.is_set():
                    break
                if no_retries.is_set():
                    raise LLMRequestError(
                        last.kind,
                        f"{self.shown_url}: not retried after Ctrl+C ({last.kind}: "
                        f"{mask_secrets(str(last))})",
                    )
            try:
                return self._cut(self._attempt(payload, messages, cancelled), params, usage)
            except LLMRequestError as err:
                usage.add(failure=err.kind)
                raise
            except _Retryable as err:
                usage.add(failure=err.kind)
                last = err
                too_long = err.retry_after is not None and err.retry_after > self.max_backoff
                if too_long and attempt + 1 < self.max_tries:  # a shorter wait: refused again
                    raise LLMRequestError(
                        err.kind,
                        f"{self.shown_url}: the server asks to retry after "
                        f"{err.retry_after:.0f} s ({err.kind}), longer than max_backoff "
                        f"({self.max_backoff:g} s); not waiting: re-run later",
                    ) from None
        if last is None or cancelled.is_set():
            raise LLMRequestError("cancelled", f"{self.shown_url}: request abandoned (closed)")
        raise LLMRequestError(
            last.kind,
            f"{self.shown_url}: request failed after {self.max_tries} attempts ({last.kind}: "
            f"{mask_secrets(str(last))})",
        )

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        with self._lock:
            if retry_after is not None:  # a little jitter: clients do not return in lockstep
                return min(retry_after, self.max_backoff) + self._rng.uniform(0, 0.1 * self.backoff)
            ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            return self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter"

    def _attempt(
        self, payload: Dict[str, Any], messages: Messages, cancelled: threading.Event
    ) -> CachedAnswer:
        """One attempt, the body read within ``timeout`` in all (httpx bounds each read only)."""
        import httpx

        url = f"{self.base_url}/chat/completions"
        if cancelled.is_set():
            raise LLMRequestError("cancelled", f"{self.shown_url}: request abandoned (closed)")
        deadline = time.monotonic() + self.timeout
        try:
            with self._http().stream("POST", url, json=payload) as response:
                chunks = []
                for chunk in response.iter_bytes():  # decoded (gzip...) as they arrive
                    chunks.append(chunk)
                    if cancelled.is_set():
                        raise _Retryable("cancelled", "request abandoned (closed)")
                    if time.monotonic() > deadline:
                        raise _Retryable(
                            "timeout",
                            f"the answer was not complete within {self.timeout}s in all "
                            "(the server sends it too slowly)",
                        )
                body = b"".join(chunks).decode("utf-8", errors="replace")
        except httpx.TimeoutException as err:
            raise _Retryable("timeout", f"no answer within {self.timeout}s ({type(err).__name__})")
        except httpx.RemoteProtocolError as err:
            # httpx says "incomplete message body" when Content-Length was not met.
            kind = "truncated_body" if "message body" in str(err) else "dropped_connection"
            raise _Retryable(kind, str(err) or type(err).__name__)
        except (httpx.TransportError, httpx.DecodingError, OSError) as err:
            raise _Retryable("connection", str(err) or type(err).__name__)
        status = response.status_code
        if status in RETRY_STATUS:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(f"http_{status}", f"HTTP {status}: {body[:200]}", retry_after)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if status >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            if isinstance(error, dict):
                error = error.get("message", error)
            raise LLMRequestError(
                f"http_{status}",
                f"{mask_secrets(url)}: HTTP {status}: "
                f"{mask_secrets(str(error) if error else body[:300])} (not retried)",
            )
        try:
            text = data["choices"][0]["message"]["content"]  # type: ignore[index]
        except (KeyError, IndexError, TypeError) as err:
            raise _Retryable(
                "invalid_body", f"unexpected response body ({type(err).__name__}): {body[:200]!r}"
            )
        if isinstance(text, list):  # content parts: [{"type": "text", "text": ...}]
            text = "".join(part.get("text", "") for part in text if isinstance(part, dict))
        if text is not None and not isinstance(text, str):
            raise _Retryable(
                "invalid_body",
                f"answer content is a {type(text).__name__}, not text: {body[:200]!r}",
            )
        if not text or not text.strip():
            # A blank answer is a failed request, not "no entities": cached, it
            # would never be asked again.
            raise _Retryable(
                "empty", f"the answer has no content ({'null' if text is None else 'blank'})"
            )
        info = data.get("usage") or {}  # type: ignore[union-attr]
        prompt_tokens, completion_tokens = info.get("prompt_tokens"), info.get("completion_tokens")
        if not isinstance(prompt_tokens, int):
            prompt_tokens = sum(self.count_tokens(m.get("content", "")) for m in messages)
        if not isinstance(completion_tokens, int):
            completion_tokens = self.count_tokens(text)
        return CachedAnswer(text, prompt_tokens, completion_tokens)

    def _cut(self, answer: CachedAnswer, params: Mapping[str, Any], usage: Usage) -> CachedAnswer:
        """Cut an answer longer than ``max_tokens`` (``oversized_answer``; billed as is)."""
        limit = params.get("max_tokens")
        if type(limit) is not int or limit <= 0:
            return answer
        text, used = answer.response, answer.completion_tokens
        max_chars = limit * MAX_CHARS_PER_TOKEN
        if used > limit:
            max_chars = min(max_chars, max(1, len(text) * limit // used))
        if used <= limit and len(text) <= max_chars:
            return answer
        usage.add(failure="oversized_answer")
        return CachedAnswer(text[:max_chars], answer.prompt_tokens, used)

    def stop_retries(self) -> None:
        """Ctrl+C: let the attempts in flight finish, start no retry (until close)."""
        self._no_retries.set()

    def cancel(self) -> None:
        """A second Ctrl+C: abandon requests in flight at their next chunk (until close)."""
        self._cancelled.set()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            # Abandoned requests keep their events; later requests get new ones.
            self._cancelled, self._no_retries = threading.Event(), threading.Event()
