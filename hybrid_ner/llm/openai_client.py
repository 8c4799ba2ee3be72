"""OpenAI-compatible chat-completions client: OpenAI, vLLM, Ollama, llama.cpp
server, LM Studio and anything else that speaks ``POST {base_url}/chat/completions``.

Thread-safe: the model wrapper runs up to ``max_in_flight`` requests at
once. Constructing it sends nothing (no model-list check as spacy-llm's
OpenAI model does), so configs load offline and tests stay local.
Timeouts, connection errors, dropped connections, truncated or invalid
bodies, 429 and 5xx are retried with exponential back-off and full jitter,
honouring ``Retry-After`` (a wait longer than ``max_backoff`` fails at once
instead of being shortened). A null or blank answer is retried too (kind
``empty``) and never returned as an answer, so it is never cached. An answer
longer than the request's ``max_tokens`` (a server that ignores it) is cut to
what ``max_tokens`` allows and counted as ``oversized_answer``. Other errors
fail at once with the server's message.
"""

import email.utils
import os
import random
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from ..errors import OptionError, mask_secrets, register_secret
from .chat_model import Completion, Messages, estimate_tokens
from .usage import LLMRequestError, Usage

if TYPE_CHECKING:  # httpx is imported where a request is made: configs load without it
    import httpx

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# No real tokenizer makes tokens this long: beyond it an answer is over max_tokens
# even when the server reports no (or false) token counts.
MAX_CHARS_PER_TOKEN = 32
#: Tokens a chat template may add per message (role markers) and per request
#: (a default system prompt): the budget's bound (``max_prompt_tokens``).
TEMPLATE_TOKENS_MAX = 64


class _Retryable(Exception):
    def __init__(self, kind: str, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class OpenAICompatibleClient:
    """Chat completions over HTTP with retries.

    base_url (str): API root including the version, e.g.
        ``https://api.openai.com/v1`` or ``http://127.0.0.1:8080/v1``.
    model (str): Model name sent with each request.
    api_key_env (Optional[str]): Environment variable holding the API key
        (read at the first request); None or unset sends no key.
    max_in_flight (int): Concurrent requests.
    timeout (float): Seconds per request attempt.
    max_tries (int): Attempts per request, the first included.
    backoff (float): First retry delay in seconds; doubles per retry.
    max_backoff (float): Cap on one delay (and on honoured Retry-After).
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
            raise ValueError(
                "max_in_flight and max_tries must be >= 1, timeout > 0 and backoff >= 0"
            )
        self.base_url = check_base_url(base_url).rstrip("/")
        #: The URL as messages show it: credentials in it are masked.
        self.shown_url = mask_secrets(self.base_url)
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
        self._cancelled = threading.Event()
        self._no_retries = threading.Event()

    def _http(self) -> "httpx.Client":
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Content-Type": "application/json"}
                key = os.environ.get(self.api_key_env) if self.api_key_env else None
                register_secret(key)  # never printed, whatever a server echoes
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                elif self.api_key_env and "api.openai.com" in self.base_url:
                    warnings.warn(
                        f"${self.api_key_env} is not set: requests to {self.shown_url} will be "
                        "refused"
                    )
                limits = httpx.Limits(
                    max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight
                )
                self._client = httpx.Client(headers=headers, timeout=self.timeout, limits=limits)
            return self._client

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text, self.chars_per_token)

    def max_prompt_tokens(self, messages: Messages) -> int:
        """An upper bound of the prompt tokens a server can count for these
        messages, for budget reservations: one per UTF-8 byte of content
        (no byte-level BPE or SentencePiece tokenizer makes more) plus
        ``TEMPLATE_TOKENS_MAX`` per message and once for the request (chat
        templates, a default system prompt)."""
        content = sum(len(str(m.get("content", "")).encode("utf-8")) for m in messages)
        return content + TEMPLATE_TOKENS_MAX * (len(messages) + 1)

    def complete(self, messages: Messages, params: Mapping[str, Any], usage: Usage) -> Completion:
        """Send one chat request, retrying transient failures.

        RAISES (LLMRequestError): After ``max_tries`` failed attempts, or at
            once for errors a retry cannot fix (400, 401, 403, 404, 422...).
        """
        payload = {**params, "model": self.model, "messages": messages}
        cancelled = self._cancelled  # this request's: close() starts a new one for later ones
        no_retries = self._no_retries
        last: Optional[_Retryable] = None
        for attempt in range(self.max_tries):
            if attempt:
                # Interruptible: Ctrl+C (no retries) and close() end the wait.
                delay = self._delay(attempt, last.retry_after if last else None)
                _wait_unless(delay, cancelled, no_retries)
                if cancelled.is_set():
                    break
                if no_retries.is_set():
                    assert last is not None
                    raise LLMRequestError(
                        last.kind,
                        f"{self.shown_url}: not retried after Ctrl+C ({last.kind}: "
                        f"{mask_secrets(str(last))})",
                    )
            try:
                completion = self._attempt(payload, messages, cancelled)
                return self._enforce_max_tokens(completion, params, usage)
            except LLMRequestError as err:
                usage.record_failure(err.kind)  # counted in the usage report like retried ones
                raise
            except _Retryable as err:
                usage.record_failure(err.kind)
                last = err
                if (
                    err.retry_after is not None
                    and err.retry_after > self.max_backoff
                    and attempt + 1 < self.max_tries
                ):
                    # Waiting less than asked would only be refused again; waiting longer
                    # than max_backoff was not agreed to: say so and stop.
                    raise LLMRequestError(
                        err.kind,
                        f"{self.shown_url}: the server asks to retry after {err.retry_after:.0f} s "
                        f"({err.kind}), "
                        f"longer than max_backoff ({self.max_backoff:g} s); not waiting: re-run "
                        "later",
                    ) from None
        if last is None or cancelled.is_set():
            raise LLMRequestError("cancelled", f"{self.shown_url}: request abandoned (closed)")
        raise LLMRequestError(
            last.kind,
            f"{self.shown_url}: request failed after {self.max_tries} attempts ({last.kind}: "
            f"{mask_secrets(str(last))})",
        )

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            # The server said when; a little jitter keeps clients from returning in lockstep.
            with self._lock:
                return min(retry_after, self.max_backoff) + self._rng.uniform(0, 0.1 * self.backoff)
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        with self._lock:
            return self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter"

    def _post(
        self, url: str, payload: Dict[str, Any], cancelled: threading.Event
    ) -> "httpx.Response":
        """POST and read the whole answer within ``timeout`` seconds in all:
        httpx's timeout bounds each read, so a server trickling a byte at a
        time would otherwise stretch one attempt without end. The body is
        read in the chunks the server sends; past the deadline (or after
        :meth:`close`) the attempt is abandoned as a timeout."""
        import httpx

        deadline = time.monotonic() + self.timeout
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
            content = b"".join(chunks)
        # A plain response with the (decoded) body read, as ``post`` returns it.
        headers = {
            key: value
            for key, value in response.headers.items()
            if key.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        }
        return httpx.Response(
            response.status_code, headers=headers, content=content, request=response.request
        )

    def _attempt(
        self, payload: Dict[str, Any], messages: Messages, cancelled: threading.Event
    ) -> Completion:
        import httpx

        url = f"{self.base_url}/chat/completions"
        if cancelled.is_set():
            raise LLMRequestError("cancelled", f"{self.shown_url}: request abandoned (closed)")
        try:
            response = self._post(url, payload, cancelled)
        except httpx.TimeoutException as err:
            raise _Retryable("timeout", f"no answer within {self.timeout}s ({type(err).__name__})")
        except httpx.RemoteProtocolError as err:
            # httpx says "incomplete message body" when Content-Length was not met.
            kind = "truncated_body" if "message body" in str(err) else "dropped_connection"
            raise _Retryable(kind, str(err) or type(err).__name__)
        except (httpx.TransportError, httpx.DecodingError, OSError) as err:
            raise _Retryable("connection", str(err) or type(err).__name__)
        if response.status_code in RETRY_STATUS:
            kind = "http_429" if response.status_code == 429 else f"http_{response.status_code}"
            raise _Retryable(
                kind,
                f"HTTP {response.status_code}: {response.text[:200]}",
                parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            raise LLMRequestError(
                f"http_{response.status_code}",
                f"{mask_secrets(url)}: HTTP {response.status_code}: "
                f"{mask_secrets(_error_message(response))} (not retried)",
            )
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise _Retryable(
                "invalid_body",
                f"unexpected response body ({type(err).__name__}): {response.text[:200]!r}",
            )
        if isinstance(text, list):  # content parts: [{"type": "text", "text": ...}]
            text = "".join(part.get("text", "") for part in text if isinstance(part, dict))
        if text is not None and not isinstance(text, str):
            raise _Retryable(
                "invalid_body",
                f"answer content is a {type(text).__name__}, not text: {response.text[:200]!r}",
            )
        if not text or not text.strip():
            # A blank answer is a failed request (filtered, tool call, server glitch), not
            # "no entities": cached as an answer, it would never be asked again.
            raise _Retryable(
                "empty", f"the answer has no content ({'null' if text is None else 'blank'})"
            )
        usage_info = data.get("usage") or {}
        prompt_tokens = usage_info.get("prompt_tokens")
        completion_tokens = usage_info.get("completion_tokens")
        if not isinstance(prompt_tokens, int):
            prompt_tokens = sum(self.count_tokens(m.get("content", "")) for m in messages)
        if not isinstance(completion_tokens, int):
            completion_tokens = self.count_tokens(text)
        return Completion(
            text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )

    def _enforce_max_tokens(
        self, completion: Completion, params: Mapping[str, Any], usage: Usage
    ) -> Completion:
        """Cut an answer longer than ``max_tokens`` (the server ignored it) to
        what ``max_tokens`` allows, and count it as ``oversized_answer``. The
        token counts stay as reported: they are what is billed."""
        limit = params.get("max_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            return completion
        text, used = completion.text, completion.completion_tokens
        max_chars = limit * MAX_CHARS_PER_TOKEN
        if used > limit:
            max_chars = min(max_chars, max(1, len(text) * limit // used))
        if used <= limit and len(text) <= max_chars:
            return completion
        usage.record_failure("oversized_answer")
        return Completion(
            text=text[:max_chars], prompt_tokens=completion.prompt_tokens, completion_tokens=used
        )

    def stop_retries(self) -> None:
        """Let the attempts in flight finish, but start no retry (Ctrl+C:
        the run ends after them); until :meth:`close`."""
        self._no_retries.set()

    def cancel(self) -> None:
        """Abandon the requests in flight (a second Ctrl+C): each ends at its
        next chunk or retry wait; until :meth:`close`, nothing new is sent."""
        self._cancelled.set()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._cancelled.is_set():  # abandoned requests keep theirs; new ones get a new one
                self._cancelled = threading.Event()
            if self._no_retries.is_set():
                self._no_retries = threading.Event()
        self._no_retries = threading.Event()


def _wait_unless(seconds: float, *events: threading.Event) -> None:
    """Sleep ``seconds``, or less if one of the events is set meanwhile."""
    deadline = time.monotonic() + seconds
    while not any(event.is_set() for event in events):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        events[0].wait(min(remaining, 0.05))


def check_base_url(base_url: str) -> str:
    """The API root, if it is an http(s) URL with a host; else a one-line
    error before anything is sent (a typo such as ``htp://`` or a missing
    scheme would otherwise be retried with back-off as a connection error).

    RAISES (OptionError): Naming the URL (credentials masked).
    """
    shown = mask_secrets(str(base_url))
    import httpx

    example = "e.g. http://127.0.0.1:8080/v1"
    if not isinstance(base_url, str) or not base_url.strip():
        raise OptionError(f"--base-url is empty: give the API root, {example}")
    try:
        url = httpx.URL(base_url.strip())
        host = url.host
    except Exception as err:  # httpx.InvalidURL, ValueError, ...
        reason = mask_secrets(str(err))
        raise OptionError(
            f"--base-url {shown!r} is not a valid URL ({reason}); {example}"
        ) from None
    if url.scheme not in ("http", "https"):
        raise OptionError(
            f"--base-url {shown!r} must start with http:// or https:// "
            f"(got {url.scheme + '://' if url.scheme else 'no scheme'}); {example}"
        )
    if not host:
        raise OptionError(f"--base-url {shown!r} has no host; {example}")
    return base_url.strip()


def _error_message(response: "httpx.Response") -> str:
    try:
        error = response.json().get("error")
        if isinstance(error, dict):
            return str(error.get("message", error))
        if error:
            return str(error)
    except (ValueError, AttributeError):
        pass
    return response.text[:300]
