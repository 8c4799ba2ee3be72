"""Benchmark `hybrid-ner propose --ray local` against a loopback OpenAI-compatible
server that answers after LATENCY seconds (issue 24's target).

Marginal throughput: (a run on 1,664 CoNLL-2003 training sentences minus a run on
the first 64) ÷ 1,600 requests, against the server's limit (in flight ÷ latency);
the 1,664-sentence Ray run's OUT must equal a local run's byte for byte. With
--http-processor, also the peak in flight of ray.data.llm's HTTP stage.

    python scripts/bench_ray_propose.py [--conll PATH/train.iob] [--http-processor]
"""

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

from fake_openai_server import FaultServer, query_sentence

CONLL = Path(os.environ.get("HYBRID_NER_CONLL_DIR", "../shared/data/conll2003")) / "train.iob"


def first_name(prompt: str) -> str:
    """A deterministic answer: the first capitalised word of the sentence is a PER."""
    words = re.findall(r"\b[A-Z][a-z]+\b", query_sentence(prompt))
    return f"PER: {words[0]}" if words else "None"


def propose(
    server: FaultServer, corpus: Path, out: Path, n: int, in_flight: int, *extra: str
) -> float:
    """Seconds of one `hybrid-ner propose` run (in this process)."""
    from hybrid_ner.cli import main

    args = ["propose", str(corpus), str(out), "--base-url", server.base_url, "--model", "bench"]
    args += ["--api-key-env", "", "--cache", f"{out}.sqlite", "--limit", str(n)]
    args += ["--concurrency", str(in_flight), "--allow-empty", *extra]
    start = time.perf_counter()
    try:
        main(args)
    except SystemExit as exit_:
        assert not exit_.code, f"propose exited {exit_.code}"
    return time.perf_counter() - start


def http_processor_peak(latency: float, n: int = 16) -> None:
    """Peak in flight and seconds of ray.data.llm's HttpRequestProcessorConfig on n requests."""
    import ray
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    server = FaultServer(latency=latency, answer=first_name).start()
    config = HttpRequestProcessorConfig(url=f"{server.base_url}/chat/completions", batch_size=n)
    processor = build_processor(
        config,
        preprocess=lambda row: {"payload": {"model": "bench", "messages": row["messages"]}},
        postprocess=lambda row: {"answer": str(row["http_response"])},
    )
    rows = [{"messages": [{"role": "user", "content": f"Input: Ada {i}"}]} for i in range(n)]
    start = time.perf_counter()
    processor(ray.data.from_items(rows)).materialize()
    print(
        f"ray.data.llm HTTP stage: {n} requests in {time.perf_counter() - start:.1f} s, "
        f"peak in flight {server.max_concurrent} (latency {latency} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conll", type=Path, default=CONLL)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--large", type=int, default=1664)
    parser.add_argument("--http-processor", action="store_true")
    args = parser.parse_args()
    import ray

    from hybrid_ner.cli import main as cli

    work = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    corpus = work / "train.spacy"
    try:
        cli(["convert", str(args.conll), str(corpus)])
    except SystemExit as exit_:
        assert not exit_.code
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False)  # `--ray local` joins it
    print(f"Ray local cluster started in {time.perf_counter() - start:.1f} s")
    server = FaultServer(latency=args.latency, answer=first_name).start()
    run = (server, corpus)
    local = propose(*run, work / "local.spacy", args.large, args.in_flight)
    n_local = len(server.requests)
    # Warm-up: the first Ray Data run of a process pays one-time costs (imports).
    warm = propose(*run, work / "warm.spacy", 8, args.in_flight, "--ray", "local")
    sent = [len(server.requests)]
    small = propose(*run, work / "small.spacy", args.small, args.in_flight, "--ray", "local")
    sent.append(len(server.requests))
    large = propose(*run, work / "large.spacy", args.large, args.in_flight, "--ray", "local")
    sent.append(len(server.requests))
    # Requests, not sentences: a repeated sentence is sent once.
    n_small, n_large = sent[1] - sent[0], sent[2] - sent[1]
    print(f"requests: local {n_local}, ray {args.small}: {n_small}, ray {args.large}: {n_large}")
    limit = args.in_flight / args.latency
    rate = (n_large - n_small) / (large - small)
    same = (work / "large.spacy").read_bytes() == (work / "local.spacy").read_bytes()
    print(f"local {args.large}: {local:.1f} s ({n_local / local:.1f} req/s)")
    print(
        f"ray {args.small}: {small:.1f} s; ray {args.large}: {large:.1f} s; "
        f"peak in flight {server.max_concurrent}; requests {len(server.requests)}"
    )
    print(
        f"marginal {args.large - args.small} sentences ({n_large - n_small} requests): "
        f"{rate:.1f} req/s of a limit of "
        f"{limit:.0f} req/s: ratio {rate / limit:.2f} (target >= 0.80)"
    )
    print(f"warm-up ray 8: {warm:.1f} s")
    print(f"OUT of the Ray run byte-identical to the local run's: {same}")
    if args.http_processor:
        http_processor_peak(args.latency)
    server.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
