"""A loopback OpenAI-compatible server whose every answer is scripted whole:
status, headers and body, so a test can send what real servers get wrong
(``content: null``, a blank answer, megabytes, Retry-After in 2099).

Listens on 127.0.0.1 only, on a free port; records every request.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional, Tuple


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when more requests
    # arrive at once; the client then retries a second later.
    request_queue_size = 128


Reply = Tuple[int, Dict[str, str], bytes]


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
    """OpenAI-compatible chat completions answered by ``script(payload)``.

    script (Callable[[Dict], Reply]): The reply to each request.
    latency (float): Seconds to wait before each reply.
    trickle (float): Seconds between the bytes of each body (0: all at once):
        a server that keeps every read under the client's timeout.
    """

    def __init__(
        self,
        script: Callable[[Dict], Reply] = lambda payload: chat("PER: Ada Lovelace"),
        latency: float = 0.0,
        trickle: float = 0.0,
    ) -> None:
        self.script = script
        self.latency = latency
        self.trickle = trickle
        self.headers: List[Dict[str, str]] = []
        self.requests: List[Dict] = []
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FaultServer":
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler_for(server: FaultServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            payload = json.loads(
                self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
            )
            with server._lock:
                server.requests.append(payload)
                server.headers.append(dict(self.headers.items()))
            if server.latency:
                time.sleep(server.latency)
            status, headers, body = server.script(payload)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not server.trickle:
                self.wfile.write(body)
                return
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(server.trickle)
            except OSError:  # the client gave up
                pass

    return Handler
