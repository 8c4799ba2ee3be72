"""``hybrid-ner propose IN.spacy OUT.spacy``: LLM entity proposals.

Writes the proposals to ``doc.spans["llm"]`` and leaves the human entities
in ``doc.ents`` as they are. Without backend options it runs the embedded
local LLM; ``--base-url`` and ``--model`` send the prompts to any
OpenAI-compatible server instead.
"""
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

import srsly
import typer
from confection import Config
from spacy.language import Language
from spacy.tokens import Doc
from tqdm import tqdm
from wasabi import msg

from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError
from ._app import app

QUERY_FORMATS = {"single": "hybrid_ner.SingleQueryPrompt.v1", "per-type": "hybrid_ner.PerTypePrompt.v1"}


@app.command("propose")
def propose_cli(
    input_path: Path = typer.Argument(..., help="DocBin with the human annotation in doc.ents"),
    output_path: Path = typer.Argument(..., help="Output DocBin: same Docs, proposals in doc.spans['llm']"),
    config_path: Optional[Path] = typer.Option(None, "--config", "-c", help="Proposal config (default: built-in, embedded LLM)"),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1"),
    model_name: Optional[str] = typer.Option(None, "--model", help="Model name for --base-url"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the API key"),
    concurrency: Optional[int] = typer.Option(None, help="Requests in flight (OpenAI-compatible backends)"),
    threads: Optional[int] = typer.Option(None, help="CPU threads of the embedded LLM (default: all cores)"),
    examples: Optional[Path] = typer.Option(None, help="DocBin of gold sentences to retrieve few-shot examples from"),
    k: Optional[int] = typer.Option(None, help="Few-shot examples per sentence"),
    query: Optional[str] = typer.Option(None, help="single (one query, all types) or per-type (GPT-NER)"),
    cache: Optional[Path] = typer.Option(None, help="Prompt cache file (SQLite)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count prompts, tokens and cost; send nothing"),
    max_requests: Optional[int] = typer.Option(None, help="Budget: requests sent in this run"),
    max_tokens: Optional[int] = typer.Option(None, help="Budget: prompt + completion tokens in this run"),
    max_cost: Optional[float] = typer.Option(None, help="Budget: money, from --price-in/--price-out"),
    price_in: Optional[float] = typer.Option(None, help="Price per 1,000 prompt tokens"),
    price_out: Optional[float] = typer.Option(None, help="Price per 1,000 completion tokens"),
    limit: Optional[int] = typer.Option(None, help="Only the first N sentences (0: all)"),
    batch_size: int = typer.Option(64, help="Sentences per batch handed to the model"),
    usage_out: Optional[Path] = typer.Option(None, help="Write the usage report (JSON) here"),
) -> None:
    """Propose entities with an LLM, next to (never over) the human labels."""
    config = _configure(
        config_path, base_url, model_name, api_key_env, concurrency, threads, examples, k, query, cache,
        max_requests, max_tokens, max_cost, price_in, price_out,
    )
    from ..llm.config import build_pipeline

    nlp = build_pipeline(config)
    docs = read_docbin(input_path, nlp.vocab)
    if limit:  # None or 0: all
        docs = docs[:limit]
    if not docs:
        raise HybridNerError(f"{input_path}: no Docs to annotate")
    component = nlp.get_pipe("llm")
    model = getattr(component, "_model", None)
    task = component.task
    retriever = getattr(task, "examples", None)
    if retriever is not None and retriever.k > 0 and retriever.pool_source is None:
        msg.warn("No example pool (--examples or the config's examples.pool): zero-shot prompts")
    from ..llm.model import ChatModel

    ours = isinstance(model, ChatModel)
    if dry_run:
        _dry_run(task, model, docs, ours)
        return
    n_queries = len(task.queries()) if hasattr(task, "queries") else 1
    done = _run(nlp, model if ours else None, docs, n_queries, batch_size, output_path, usage_out)
    _summarise(done, getattr(task, "spans_key", "llm"), output_path)


def _configure(
    config_path: Optional[Path], base_url: Optional[str], model_name: Optional[str], api_key_env: str,
    concurrency: Optional[int], threads: Optional[int], examples: Optional[Path], k: Optional[int], query: Optional[str],
    cache: Optional[Path], max_requests: Optional[int], max_tokens: Optional[int], max_cost: Optional[float],
    price_in: Optional[float], price_out: Optional[float],
) -> Config:
    """The proposal config: file or built-in default, with the options applied."""
    from ..llm.config import load_config, set_value, use_openai_compatible

    config = load_config(config_path)
    if (base_url is None) != (model_name is None):
        raise HybridNerError("--base-url and --model go together")
    if base_url is not None:
        config = use_openai_compatible(config, base_url, model_name, api_key_env or None)
    root = "components.llm"
    if query is not None:
        if query not in QUERY_FORMATS:
            raise HybridNerError(f"Unknown --query {query!r}: use single or per-type")
        set_value(config, f"{root}.task.prompt", {"@llm_misc": QUERY_FORMATS[query]})
    backend = config["components"]["llm"]["model"].get("@llm_models")
    if concurrency is not None:
        if backend != "hybrid_ner.OpenAICompatible.v1":
            msg.warn("--concurrency applies to OpenAI-compatible backends; the embedded LLM runs one request at a time")
        else:
            set_value(config, f"{root}.model.concurrency", concurrency)
    if threads is not None:
        if backend != "hybrid_ner.LlamaCpp.v1":
            raise HybridNerError("--threads applies to the embedded LLM (hybrid_ner.LlamaCpp.v1) only")
        set_value(config, f"{root}.model.n_threads", threads)
    if examples is not None:
        set_value(config, f"{root}.task.examples.pool", str(examples))
    if k is not None:
        set_value(config, f"{root}.task.examples.k", k)
    if cache is not None:
        set_value(config, f"{root}.model.cache", {"@llm_misc": "hybrid_ner.PromptCache.v1", "path": str(cache)})
    budget = {"max_requests": max_requests, "max_tokens": max_tokens, "max_cost": max_cost,
              "price_per_1k_input": price_in, "price_per_1k_output": price_out}
    if any(value is not None for value in budget.values()):
        current = dict(config["components"]["llm"]["model"].get("budget") or {"@llm_misc": "hybrid_ner.Budget.v1"})
        current.update({key: value for key, value in budget.items() if value is not None})
        set_value(config, f"{root}.model.budget", current)
    return config


def _dry_run(task: Any, model: Any, docs: List[Doc], ours: bool) -> None:
    if not ours:
        raise HybridNerError("--dry-run needs a hybrid_ner model (hybrid_ner.LlamaCpp.v1 or OpenAICompatible.v1)")
    from ..llm.estimate import estimate_run

    estimate = estimate_run(task, model, docs)
    msg.divider("Dry run: nothing was sent")
    msg.table(
        [
            ("sentences", estimate.docs), ("prompts", estimate.prompts),
            ("cached or repeated (free)", estimate.cached), ("to send", estimate.to_send),
            ("prompt tokens", estimate.prompt_tokens),
            ("completion tokens (expected / max)", f"{estimate.completion_tokens_expected} / {estimate.completion_tokens_max}"),
            ("cost (expected / max)", f"{estimate.cost_expected:.4f} / {estimate.cost_max:.4f}"),
        ]
    )


def _run(nlp: Language, model: Any, docs: List[Doc], n_queries: int, batch_size: int, output_path: Path,
         usage_out: Optional[Path]) -> List[Doc]:
    """Run the pipeline with a progress bar; on a budget stop or a request that
    failed for good, save the finished Docs and report, then raise."""
    done: List[Doc] = []
    bar = tqdm(total=len(docs) * n_queries, unit="prompt", desc="propose", disable=None)
    if model is not None:
        model.progress = bar.update
    failure: Optional[HybridNerError] = None
    try:
        for doc in nlp.pipe(docs, batch_size=batch_size):
            done.append(doc)
    except HybridNerError as err:  # budget reached or a request failed for good
        failure = err
    finally:
        bar.close()
        if model is not None:
            model.progress = None
            # Name the model in the report: later steps (grid, report) show which LLM proposed.
            backend = getattr(model, "backend", None)
            report = {**model.usage.report(), "model": getattr(backend, "model_id", None) or getattr(backend, "model", None)}
            _print_usage(report)
            if usage_out is not None:
                usage_out.parent.mkdir(parents=True, exist_ok=True)
                srsly.write_json(usage_out, report)
            model.close()
    write_docbin(output_path, done)
    if failure is not None:
        raise HybridNerError(
            f"{failure} Wrote the {len(done)} of {len(docs)} sentences finished to {output_path}; "
            "re-run the same command to resume (answers are cached)."
        )
    return done


def _print_usage(report: Dict[str, Any]) -> None:
    rows = [(key, value) for key, value in report.items() if key != "failures"]
    rows.append(("failed attempts", ", ".join(f"{k} {v}" for k, v in sorted(report["failures"].items())) or "0"))
    msg.table(rows, header=("usage", ""), divider=True)


def _summarise(docs: List[Doc], spans_key: str, output_path: Path) -> None:
    from ..llm.task import PARSE_STATS_KEY

    labels = Counter(span.label_ for doc in docs for span in doc.spans.get(spans_key, []))
    dropped: Counter = Counter()
    items = 0
    for doc in docs:
        stats = doc.user_data.get(PARSE_STATS_KEY) or {}
        dropped.update(stats.get("dropped", {}))
        items += stats.get("items", 0)
    per_label = ", ".join(f"{label} {n}" for label, n in sorted(labels.items())) or "none"
    msg.good(f"Wrote {len(docs)} sentences to {output_path}: {sum(labels.values())} proposals ({per_label})")
    if dropped:
        reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())
        msg.info(f"Dropped {sum(dropped.values())} of {items} answer items: {reasons}")
