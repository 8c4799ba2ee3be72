"""A local OpenAI-compatible chat-completions server for tests and benchmarks.

Listens on 127.0.0.1 only (a free port), answers each request with a
scripted function of the prompt after a fixed latency, and injects faults
from a queue, one per request: ``slow:S`` (answer after S seconds),
``429:R`` (Too Many Requests, Retry-After R), ``500``, ``503``, ``400``,
``drop`` (close the connection without an answer), ``truncate`` (promise
more bytes than sent), ``garbage`` (200 with a body that is not JSON).
It records every request and the highest number served at once.
"""

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Deque, Dict, List, Optional


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when more requests
    # arrive at once; the client then retries a second later.
    request_queue_size = 128


_QUERY = re.compile(r"Input: (.*)\nOutput:\s*$", re.S)


def query_sentence(prompt: str) -> str:
    """The sentence a proposal prompt asks about (its last ``Input:``)."""
    match = _QUERY.search(prompt)
    return match.group(1).rsplit("Input: ", 1)[-1] if match else prompt


class ScriptedOpenAIServer:
    """OpenAI-compatible server with scripted answers and injected faults.

    answer (Callable[[str], str]): Maps the user prompt to the answer text.
    latency (float): Seconds to wait before each answer.
    model (str): The model id listed by ``/v1/models``.
    """

    def __init__(
        self,
        answer: Callable[[str], str] = lambda prompt: "None",
        latency: float = 0.0,
        model: str = "scripted",
    ) -> None:
        self.answer = answer
        self.latency = latency
        self.model = model
        self.faults: Deque[str] = deque()
        self.requests: List[Dict] = []
        self.max_concurrent = 0
        self._active = 0
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "ScriptedOpenAIServer":
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "ScriptedOpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _next_fault(self) -> str:
        with self._lock:
            return self.faults.popleft() if self.faults else ""

    def _enter(self, payload: Dict) -> None:
        with self._lock:
            self.requests.append(payload)
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1


def _handler_for(server: ScriptedOpenAIServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send(
            self,
            status: int,
            body: bytes,
            headers: Optional[Dict[str, str]] = None,
            length: Optional[int] = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(
                    200, json.dumps({"data": [{"id": server.model, "object": "model"}]}).encode()
                )
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            server._enter(payload)
            try:
                self._answer(payload)
            finally:
                server._leave()

        def _answer(self, payload: Dict) -> None:
            fault = server._next_fault()
            kind, _, arg = fault.partition(":")
            if kind == "slow":
                time.sleep(float(arg))
            elif kind == "429":
                self._send(
                    429, b'{"error": {"message": "rate limited"}}', {"Retry-After": arg or "1"}
                )
                return
            elif kind in ("500", "503"):
                self._send(int(kind), b'{"error": {"message": "server error"}}')
                return
            elif kind == "400":
                self._send(400, b'{"error": {"message": "bad request: unknown parameter"}}')
                return
            elif kind == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if server.latency:
                time.sleep(server.latency)
            prompt = payload["messages"][-1]["content"]
            text = server.answer(prompt)
            body = json.dumps(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": payload.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": len(prompt) // 4,
                        "completion_tokens": max(1, len(text) // 4),
                    },
                }
            ).encode()
            if kind == "truncate":
                self.close_connection = True
                self._send(200, body[: len(body) // 2], length=len(body))
                self.connection.close()
            elif kind == "garbage":
                self._send(200, b"<html>proxy error</html>")
            else:
                self._send(200, body)

    return Handler
