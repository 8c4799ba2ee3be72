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
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_client_compare import compare_benchmark  # noqa: E402
from loopback_server import LoopbackServer  # noqa: E402

from tests.llm.llm_test_server import query_sentence  # noqa: E402

WIKIGOLD = ROOT / "corpus" / "wikigold" / "wikigold.conll.txt"


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
