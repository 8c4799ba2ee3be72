"""The one fake OpenAI-compatible chat-completions server of the tests and benchmarks.

Listens on 127.0.0.1 only, on a free port; records every request (payload and
headers) and the most served at once. Each request is answered by
``script(payload)`` (status, headers, body: what real servers get wrong,
``content: null``, a blank answer, megabytes, Retry-After in 2099), after
``latency`` seconds, optionally trickled a byte at a time. ``answer(prompt)``
is the short form for a 200 with that text. Faults queued in ``faults`` take
one request each, before the script: ``slow:S`` (answer after S seconds),
``429:R`` (Too Many Requests, Retry-After R), ``500``, ``503``, ``400``,
``drop`` (close the connection without an answer), ``truncate`` (promise
more bytes than sent), ``garbage`` (200 with a body that is not JSON); ``""``
is no fault.
"""

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from confection import Config

from hybrid_ner.llm.config import load_config

Reply = Tuple[int, Dict[str, str], bytes]

_QUERY = re.compile(r"Input: (.*)\nOutput:\s*$", re.S)


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when more requests
    # arrive at once; the client then retries a second later.
    request_queue_size = 128
    daemon_threads = True


def query_sentence(prompt: str) -> str:
    """The sentence a proposal prompt asks about (its last ``Input:``)."""
    match = _QUERY.search(prompt)
    return match.group(1).rsplit("Input: ", 1)[-1] if match else prompt


def chat(
    content: Optional[str], completion_tokens: Optional[int] = None, prompt_tokens: int = 50
) -> Reply:
    """A 200 chat completion with this content (None gives ``"content": null``)."""
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens
        if completion_tokens is not None
        else max(1, len(content or "") // 4),
    }
    body = {
        "id": "x",
        "object": "chat.completion",
        "model": "scripted",
        "usage": usage,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    return 200, {}, json.dumps(body).encode()


def error(
    status: int, message: str = "bad request", headers: Optional[Dict[str, str]] = None
) -> Reply:
    return status, dict(headers or {}), json.dumps({"error": {"message": message}}).encode()


class FaultServer:
    """OpenAI-compatible chat completions answered by a script.

    script (Optional[Callable[[Dict], Reply]]): The reply to each request;
        None: ``chat(answer(prompt))``.
    latency (float): Seconds to wait before each reply.
    trickle (float): Seconds between the bytes of each body (0: all at once):
        a server that keeps every read under the client's timeout.
    answer (Callable[[str], str]): The answer text to the user prompt (when
        ``script`` is None).
    """

    def __init__(
        self,
        script: Optional[Callable[[Dict], Reply]] = None,
        latency: float = 0.0,
        trickle: float = 0.0,
        answer: Callable[[str], str] = lambda prompt: "PER: Ada Lovelace",
    ) -> None:
        self.script = script
        self.latency = latency
        self.trickle = trickle
        self.answer = answer
        self.faults: Deque[str] = deque()
        self.headers: List[Dict[str, str]] = []
        self.requests: List[Dict] = []
        self.max_concurrent = 0
        self._active = 0
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "FaultServer":
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reply(self, payload: Dict) -> Reply:
        if self.script is not None:
            return self.script(payload)
        prompt = payload["messages"][-1]["content"]
        text = self.answer(prompt)
        return chat(text, max(1, len(text) // 4), len(prompt) // 4)


def _handler_for(server: FaultServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send(self, reply: Reply, length: Optional[int] = None) -> None:
            status, headers, body = reply
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not server.trickle:
                self.wfile.write(body)
                self.wfile.flush()
                return
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(server.trickle)
            except OSError:  # the client gave up
                pass

        def do_POST(self) -> None:
            payload = json.loads(
                self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
            )
            with server._lock:
                server.requests.append(payload)
                server.headers.append(dict(self.headers.items()))
                fault = server.faults.popleft() if server.faults else ""
                server._active += 1
                server.max_concurrent = max(server.max_concurrent, server._active)
            try:
                self._answer(payload, fault)
            finally:
                with server._lock:
                    server._active -= 1

        def _answer(self, payload: Dict, fault: str) -> None:
            kind, _, arg = fault.partition(":")
            if kind == "slow":
                time.sleep(float(arg))
            elif kind == "429":
                return self._send(error(429, "rate limited", {"Retry-After": arg or "1"}))
            elif kind in ("500", "503"):
                return self._send(error(int(kind), "server error"))
            elif kind == "400":
                return self._send(error(400, "bad request: unknown parameter"))
            elif kind == "drop":
                self.close_connection = True
                self.connection.close()
                return
            elif kind == "garbage":
                return self._send((200, {}, b"<html>proxy error</html>"))
            if server.latency:
                time.sleep(server.latency)
            reply = server.reply(payload)
            if kind == "truncate":
                self.close_connection = True
                self._send((reply[0], reply[1], reply[2][: len(reply[2]) // 2]), len(reply[2]))
                self.connection.close()
            else:
                self._send(reply)

    return Handler


def openai_config(base_url: str, overrides: Optional[Dict[str, Any]] = None) -> Config:
    """The built-in proposal config with its model pointed at ``base_url``
    (OpenAI-compatible, model "scripted", no API key), dotted overrides applied."""
    model = {
        "@llm_models": "hybrid_ner.OpenAICompatible.v1",
        "base_url": base_url,
        "model": "scripted",
        "api_key_env": None,
        "cache": {"@llm_misc": "hybrid_ner.PromptCache.v1"},
        "budget": {"@llm_misc": "hybrid_ner.Budget.v1"},
    }
    return load_config(None, {"components.llm.model": model, **(overrides or {})})


def propose_options(server: "FaultServer", cache: Path) -> List[Any]:
    """`hybrid-ner propose` options for this server's scripted model, no API key,
    and a prompt cache at ``cache``."""
    return [
        "--base-url",
        server.base_url,
        "--model",
        "scripted",
        "--api-key-env",
        "",
        "--cache",
        cache,
    ]
