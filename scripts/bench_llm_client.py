"""Benchmark the OpenAI-compatible client at its limit, through the CLI.

Default (``cli``): a loopback OpenAI-compatible server (asyncio, 127.0.0.1)
answers every request after a fixed latency (default 200 ms) with the gold
entities of the sentence, and ``hybrid-ner propose`` runs in a subprocess
against it (``--k 0``, a fresh prompt cache per run). With the marginal-time
method the process start and model build cancel out: two runs with N1 and
N2 sentences, and

    limit = (N2 - N1) / in_flight * latency,  fraction = limit / (t(N2) - t(N1))

is printed for each ``--concurrency`` (default 32 and 64), from the fastest
runs (noise on a shared machine only adds time) and from the medians. What
grows with the sentences but is no request (parsing, writing the output
DocBin) is in t; so the same fraction is also printed for the request phase
alone (the server's first request to its last answer), with the CPU seconds
the CLI spent on the marginal sentences. The server keeps every request open
for exactly ``latency`` without blocking the others (one event loop, no
thread per request), so it is not the bottleneck; it reports the most
requests it saw at once.

``compare``: the earlier in-process comparison of this client with spacy-llm's
built-in (sequential) OpenAI model against tests/llm/llm_test_server.py: both
must give identical proposals; prints docs/s and the speed-up.

    python scripts/bench_llm_client.py [cli] [--concurrency 32 64] [--n1 128 --n2 640] \
        [--latency 0.2] [--repeat 2]
    python scripts/bench_llm_client.py compare [-n 160] [--concurrency 16]
"""

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.llm.llm_test_server import query_sentence  # noqa: E402

WIKIGOLD = ROOT / "corpus" / "wikigold" / "wikigold.conll.txt"


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


def hybrid_ner(*args: object, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI as a user would: a new Python process."""
    return subprocess.run(
        [sys.executable, "-m", "hybrid_ner", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        **kwargs,
    )


def gold_answerer(docbin: Path) -> Callable[[str], str]:
    import spacy

    from hybrid_ner.corpus import read_docbin

    docs = read_docbin(docbin, spacy.blank("en").vocab)
    gold = {
        doc.text: "\n".join(f"{e.label_}: {e.text}" for e in doc.ents) or "None" for doc in docs
    }
    return lambda prompt: gold.get(query_sentence(prompt), "None")


def timed_propose(
    docbin: Path,
    server: LoopbackServer,
    workdir: Path,
    n: int,
    concurrency: int,
    batch_size: int,
    tag: str,
) -> Tuple[float, float, float, int, int]:
    """Seconds (wall clock, CPU, and from the first request to the last
    answer) of one ``hybrid-ner propose`` run on the first n sentences, with
    the requests and the most in flight that the server saw."""
    server.reset_counts()
    cache = workdir / f"cache-{tag}.sqlite"  # fresh: every prompt is sent
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = hybrid_ner(
        "propose",
        docbin,
        workdir / f"out-{tag}.spacy",
        "--base-url",
        server.base_url,
        "--model",
        "x",
        "--api-key-env",
        "",
        "--concurrency",
        concurrency,
        "--k",
        0,
        "--limit",
        n,
        "--batch-size",
        batch_size,
        "--cache",
        cache,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(
            f"hybrid-ner propose failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu, server.request_phase, server.requests, server.max_concurrent


def cli_benchmark(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        workdir = Path(tmp)
        docbin = workdir / "wikigold.spacy"
        converted = hybrid_ner("convert", args.conll, docbin)
        if converted.returncode != 0:
            raise SystemExit(f"hybrid-ner convert failed:\n{converted.stdout}\n{converted.stderr}")
        print(
            f"{os.cpu_count()} CPUs, load average "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
            f"server latency {args.latency * 1000:.0f} ms; marginal {args.n2 - args.n1} sentences "
            f"({args.n1} -> {args.n2}), batch size {args.batch_size}, best of {args.repeat}"
        )
        with LoopbackServer(gold_answerer(docbin), args.latency) as server:
            for concurrency in args.concurrency:
                runs: Dict[int, List[float]] = {args.n1: [], args.n2: []}
                cpus: Dict[int, List[float]] = {args.n1: [], args.n2: []}
                phases: Dict[int, List[float]] = {args.n1: [], args.n2: []}
                seen = {}
                for rep in range(args.repeat):
                    for n in (args.n1, args.n2):
                        seconds, cpu, phase, requests, peak = timed_propose(
                            docbin,
                            server,
                            workdir,
                            n,
                            concurrency,
                            args.batch_size,
                            f"{concurrency}-{n}-{rep}",
                        )
                        runs[n].append(seconds)
                        cpus[n].append(cpu)
                        phases[n].append(phase)
                        seen[n] = (requests, peak)
                        if args.verbose:
                            print(
                                f"  {concurrency} in flight, {n} sentences: {seconds:.2f} s "
                                f"({cpu:.2f} s CPU, "
                                f"first request to last answer {phase:.2f} s), "
                                f"{requests} requests, at most {peak} at once"
                            )
                # The minimum: the machine is shared, noise only ever adds time.
                t1, t2 = min(runs[args.n1]), min(runs[args.n2])
                marginal = t2 - t1
                limit = (args.n2 - args.n1) / concurrency * args.latency
                # CPU the CLI spent on the marginal sentences: on a loaded machine
                # the wall clock also counts the time it waited for a core.
                cpu = statistics.median(cpus[args.n2]) - statistics.median(cpus[args.n1])
                # The request phase alone (the server's first request to its last
                # answer): the client without the CLI's start-up and output writing.
                phase = min(phases[args.n2]) - min(phases[args.n1])
                median = statistics.median(runs[args.n2]) - statistics.median(runs[args.n1])
                print(
                    f"{concurrency:3d} in flight: {args.n1} sentences {t1:6.2f} s, {args.n2} "
                    f"sentences {t2:6.2f} s; "
                    f"marginal {marginal:5.2f} s, limit {limit:4.2f} s: {limit / marginal:5.1%} of "
                    "the limit "
                    f"through the CLI (medians: {median:5.2f} s, {limit / median:5.1%})"
                )
                print(
                    f"{'':17}request phase marginal {phase:5.2f} s: {limit / phase:5.1%} of the "
                    "limit; "
                    f"marginal CPU of the CLI {cpu:4.2f} s; server: {seen[args.n2][0]} requests, "
                    f"at most {seen[args.n2][1]} at once"
                )
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def compare_benchmark(args: argparse.Namespace) -> None:
    import requests
    import spacy
    from spacy.tokens import Doc
    from spacy_llm.models.rest.openai.model import OpenAI
    from spacy_llm.registry import registry

    from hybrid_ner.corpus import read_docbin
    from hybrid_ner.layers import LLM_KEY
    from hybrid_ner.llm.config import build_pipeline, load_config, set_value, use_openai_compatible
    from tests.llm.llm_test_server import ScriptedOpenAIServer

    class LocalSpacyLlmOpenAI(OpenAI):
        """spacy-llm's OpenAI model; only the auth check is pointed at the local
        server (the original GETs api.openai.com/v1/models and fails offline)."""

        def _verify_auth(self) -> None:
            models_url = self._endpoint.rsplit("/chat/completions", 1)[0] + "/models"
            requests.get(models_url, timeout=self._max_request_time).raise_for_status()

    @registry.llm_models("bench.SpacyLlmOpenAILocal.v1")
    def spacy_llm_openai_local(base_url: str, name: str) -> LocalSpacyLlmOpenAI:
        return LocalSpacyLlmOpenAI(
            name=name,
            endpoint=f"{base_url}/chat/completions",
            config={"temperature": 0.0},
            strict=True,
            max_tries=5,
            interval=1.0,
            max_request_time=30,
            context_length=4096,
        )

    def run(nlp, docs: List[Doc]):
        start = time.perf_counter()
        out = list(nlp.pipe([doc.copy() for doc in docs], batch_size=64))
        return time.perf_counter() - start, [
            [(s.start, s.end, s.label_) for s in d.spans[LLM_KEY]] for d in out
        ]

    docs = read_docbin(args.docs, spacy.blank("en").vocab)[: args.n]
    gold = {
        doc.text: "\n".join(f"{e.label_}: {e.text}" for e in doc.ents) or "None" for doc in docs
    }
    concurrency = args.concurrency[0]
    with ScriptedOpenAIServer(
        answer=lambda p: gold.get(query_sentence(p), "None"), latency=args.latency
    ) as server:
        config = use_openai_compatible(load_config(), server.base_url, server.model, None)
        set_value(config, "components.llm.task.examples.k", 0)
        set_value(config, "components.llm.model.concurrency", concurrency)
        set_value(config, "components.llm.model.cache", None)
        ours_time, ours = run(build_pipeline(config), docs)
        n_ours = len(server.requests)
        set_value(
            config,
            "components.llm.model",
            {
                "@llm_models": "bench.SpacyLlmOpenAILocal.v1",
                "base_url": server.base_url,
                "name": server.model,
            },
        )
        base_time, base = run(build_pipeline(config), docs)
        n_base = len(server.requests) - n_ours  # (the auth GET is not counted)
    if ours != base:
        raise SystemExit("Parsed outputs differ between the two clients")
    n_props = sum(len(d) for d in ours)
    print(
        f"{len(docs)} sentences, {n_props} proposals (identical for both clients), "
        f"server latency {args.latency * 1000:.0f} ms"
    )
    print(
        f"spacy-llm OpenAI (sequential): {base_time:7.2f} s  {len(docs) / base_time:7.1f} docs/s  "
        f"({n_base} requests)"
    )
    print(
        f"hybrid_ner client ({concurrency} in flight): {ours_time:7.2f} s  "
        f"{len(docs) / ours_time:7.1f} docs/s  ({n_ours} requests)"
    )
    print(f"speed-up: {base_time / ours_time:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("cli", "compare"), default="cli")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per request (s)")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=None,
        help="requests in flight (cli: 32 64; compare: 16)",
    )
    parser.add_argument(
        "--conll", default=str(WIKIGOLD), help="cli: CoNLL file converted with hybrid-ner convert"
    )
    parser.add_argument("--n1", type=int, default=128, help="cli: sentences of the short run")
    parser.add_argument("--n2", type=int, default=640, help="cli: sentences of the long run")
    parser.add_argument("--batch-size", type=int, default=64, help="cli: propose --batch-size")
    parser.add_argument(
        "--repeat", type=int, default=2, help="cli: runs per size (the fastest counts)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="cli: print every run")
    parser.add_argument(
        "--docs", default=str(ROOT / "corpus" / "wikigold" / "dev.spacy"), help="compare: DocBin"
    )
    parser.add_argument("-n", type=int, default=160, help="compare: sentences")
    args = parser.parse_args()
    if args.mode == "cli":
        args.concurrency = args.concurrency or [32, 64]
        cli_benchmark(args)
    else:
        args.concurrency = args.concurrency or [16]
        compare_benchmark(args)


if __name__ == "__main__":
    main()
