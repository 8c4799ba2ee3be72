"""The loopback OpenAI-compatible server of scripts/bench_llm_client.py."""

import asyncio
import json
import threading
import time
from typing import Callable, Dict, Optional


class LoopbackServer:
    """A minimal OpenAI-compatible server on 127.0.0.1 for benchmarks.

    One asyncio event loop in a background thread; HTTP/1.1 keep-alive; each
    ``POST .../chat/completions`` is answered after ``latency`` seconds with
    ``answer(prompt)``. Counts requests and the most served at once.

    answer (Callable[[str], str]): Maps the user prompt to the answer text.
    latency (float): Seconds each request is held open.
    """

    def __init__(self, answer: Callable[[str], str], latency: float) -> None:
        self.answer = answer
        self.latency = latency
        self.requests = 0
        self.max_concurrent = 0
        self.first_request: Optional[float] = None
        self.last_answer: Optional[float] = None
        self._active = 0
        self._loop = asyncio.new_event_loop()
        self._server: Optional[asyncio.base_events.Server] = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._connections: Dict[asyncio.Task, asyncio.StreamWriter] = {}
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "LoopbackServer":
        self._thread.start()
        # A deep backlog: 64 clients connect at once.
        start = asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            # Closing the connections ends their loops normally (a cancelled
            # handler task makes asyncio log an error).
            for writer in list(self._connections.values()):
                writer.close()
            await asyncio.gather(*self._connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def reset_counts(self) -> None:
        self.requests = self.max_concurrent = 0
        self.first_request = self.last_answer = None

    @property
    def request_phase(self) -> float:
        """Seconds from the first request to the last answer."""
        assert self.first_request is not None and self.last_answer is not None
        return self.last_answer - self.first_request

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                fields = (line.partition(":") for line in lines[1:] if line)
                headers = {name.strip().lower(): value.strip() for name, _, value in fields}
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                    payload = await self._complete(json.loads(body))
                    status = "200 OK"
                elif method == "GET" and path.rstrip("/").endswith("/models"):
                    payload, status = {"data": [{"id": "x", "object": "model"}]}, "200 OK"
                else:
                    payload, status = {"error": {"message": "not found"}}, "404 Not Found"
                data = json.dumps(payload).encode()
                head = (
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                writer.write(head.encode() + data)
                await writer.drain()
        finally:
            self._connections.pop(task, None)
            writer.close()

    async def _complete(self, request: Dict) -> Dict:
        self.requests += 1  # one event loop: no lock needed
        if self.first_request is None:
            self.first_request = time.perf_counter()
        self._active += 1
        self.max_concurrent = max(self.max_concurrent, self._active)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self._active -= 1
            self.last_answer = time.perf_counter()
        prompt = request["messages"][-1]["content"]
        text = self.answer(prompt)
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "model": request.get("model"),
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
