"""``hybrid-ner propose IN.spacy OUT.spacy``: LLM entity proposals.

Writes the proposals to ``doc.spans["llm"]`` and leaves the human entities
in ``doc.ents`` as they are. Without backend options it runs the embedded
local LLM; ``--base-url`` and ``--model`` send the prompts to any
OpenAI-compatible server instead.

Never lose, never lie: options, the cost limit and every output path (OUT,
``--usage-out``, the prompt cache) are checked before anything is read or
sent; OUT is replaced atomically and only when every sentence is done
(exit 0) or, at a budget stop, with the finished sentences (exit 3). A
request that failed for good (exit 4) or Ctrl+C (exit 130) leaves OUT as it
was; the answers received are in the prompt cache, so the same command
resumes.

The command parses its options and delegates: the config to
:mod:`.propose_config` (one mechanism for options and overrides), the label
set to :mod:`.propose_labels`, the run to :mod:`.propose_run`.
"""

import sqlite3
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import typer
from wasabi import msg

from ..atomic import same_file
from ..corpus import read_docbin
from ..errors import HybridNerError
from ..llm.cache import PromptCache
from ..llm.chat_model import ChatModel
from ..llm.config import COMPONENT, build_pipeline, chat_model
from ..overrides import parse_cli_overrides
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range
from .propose_config import (  # noqa: F401 (also imported from here)
    DEFAULT_API_KEY_ENV,
    FLAG_PATHS,
    LABELS_PATH,
    QUERY_FORMATS,
    blank_vocab,
    cache_path,
    check_cost_limit,
    configure,
    flag_overrides,
    pool_path,
)
from .propose_labels import choose_labels
from .propose_run import dry_run as run_dry
from .propose_run import prefix_schedule, run, summarise
from .propose_run import warn_short_of_examples as run_warnings

# Former private names, kept for scripts and tests.
_configure = configure
_prefix_schedule = prefix_schedule


@app.command("propose", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def propose_cli(
    ctx: typer.Context,
    input_path: Path = typer.Argument(..., help="DocBin with the human annotation in doc.ents"),
    output_path: Path = typer.Argument(
        ..., help="Output DocBin: same Docs, proposals in doc.spans['llm']"
    ),
    config_path: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Proposal config (default: built-in, embedded LLM)"
    ),
    labels: Optional[str] = typer.Option(
        None,
        help=(
            "Comma-separated labels to propose "
            "(default: the labels of IN's human annotation and the example pool)"
        ),
    ),
    label_definitions: Optional[Path] = typer.Option(
        None, help="JSON or YAML file: label -> definition shown in the prompt"
    ),
    base_url: Optional[str] = typer.Option(
        None, help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1"
    ),
    model_name: Optional[str] = typer.Option(None, "--model", help="Model name for --base-url"),
    api_key_env: Optional[str] = typer.Option(
        None,
        help=(
            "Environment variable holding the API key "
            f"(with --base-url: {DEFAULT_API_KEY_ENV}; '' for none)"
        ),
    ),
    concurrency: Optional[int] = typer.Option(
        None, help="Requests in flight (OpenAI-compatible backends)"
    ),
    threads: Optional[int] = typer.Option(
        None, help="CPU threads of the embedded LLM (default: all cores)"
    ),
    examples: Optional[Path] = typer.Option(
        None, help="DocBin of gold sentences to retrieve few-shot examples from"
    ),
    k: Optional[int] = typer.Option(None, help="Few-shot examples per sentence"),
    clusters: Optional[int] = typer.Option(
        None,
        help=(
            "Share examples within this many clusters of similar sentences "
            "(ClusteredExamples: ~2x faster on the embedded LLM, less similar examples); "
            "0: per sentence"
        ),
    ),
    query: Optional[str] = typer.Option(
        None, help="single (one query, all types) or per-type (GPT-NER)"
    ),
    cache: Optional[Path] = typer.Option(None, help="Prompt cache file (SQLite)"),
    recorded: Optional[str] = typer.Option(
        None,
        help=(
            "Recorded answers (.jsonl.gz from `hybrid-ner record-answers`) "
            "to replay as cache hits; '' for none"
        ),
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help=(
            "Show the labels, one rendered prompt, and count prompts, tokens and cost; send nothing"
        ),
    ),
    max_requests: Optional[int] = typer.Option(None, help="Budget: requests sent in this run"),
    max_tokens: Optional[int] = typer.Option(
        None, help="Budget: prompt + completion tokens in this run"
    ),
    max_cost: Optional[float] = typer.Option(
        None, help="Budget: money, from --price-in/--price-out (both needed)"
    ),
    price_in: Optional[float] = typer.Option(None, help="Price per 1,000 prompt tokens"),
    price_out: Optional[float] = typer.Option(None, help="Price per 1,000 completion tokens"),
    limit: Optional[int] = typer.Option(None, help="Only the first N sentences (0: all)"),
    batch_size: int = typer.Option(64, help="Sentences per batch handed to the model"),
    usage_out: Optional[Path] = typer.Option(None, help="Write the usage report (JSON) here"),
    allow_empty: bool = typer.Option(
        False,
        "--allow-empty",
        help="Write OUT even if the LLM proposed nothing at all (else exit 1, nothing written)",
    ),
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Propose entities with an LLM, next to (never over) the human labels.

    Labels: --labels, else those of IN's human annotation and the example
    pool, else the config's (one line says which and from where). Any other
    option is a config override, as in `spacy train`
    (e.g. --components.llm.model.n_ctx 8192); the convenience options are
    names for config paths (see FLAG_PATHS and docs/cli.md).

    Exit codes: 0 all sentences done; 3 budget reached, OUT holds the
    finished sentences; 4 requests failed for good and 130 Ctrl+C, OUT left
    unchanged (answers so far are in the prompt cache: re-run to resume);
    1 bad input, option or output path, nothing sent; also 1 when the LLM
    proposed nothing at all (OUT not written, answers cached; --allow-empty
    writes it).
    """
    overrides = parse_cli_overrides(ctx)  # an unknown --option without a dot: exit 2
    _check_options(
        concurrency,
        threads,
        k,
        clusters,
        max_requests,
        max_tokens,
        max_cost,
        price_in,
        price_out,
        limit,
        batch_size,
    )
    flags: Dict[str, Any] = {
        "--labels": labels,
        "--label-definitions": label_definitions,
        "--base-url": base_url,
        "--model": model_name,
        "--api-key-env": api_key_env,
        "--concurrency": concurrency,
        "--threads": threads,
        "--examples": examples,
        "--k": k,
        "--clusters": clusters,
        "--query": query,
        "--cache": cache,
        "--recorded": recorded,
        "--max-requests": max_requests,
        "--max-tokens": max_tokens,
        "--max-cost": max_cost,
        "--price-in": price_in,
        "--price-out": price_out,
    }
    config = configure(config_path, flags, overrides)
    recorded_path = Path(recorded) if recorded else None
    check_cost_limit(config)
    inputs = [input_path, examples or pool_path(config), config_path, recorded_path]
    if not dry_run:  # a dry run writes nothing (and only reads the cache)
        outputs = {"OUT": output_path, "--usage-out": usage_out, "--cache": cache_path(config)}
        check_outputs(outputs, [*inputs, label_definitions], overwrite_input)
    # The input is read before the pipeline is built: its labels may be the label set.
    vocab = blank_vocab(config)
    docs = read_docbin(input_path, vocab)
    explicit = "--labels" if labels is not None else _override_name(overrides, LABELS_PATH)
    choose_labels(config, docs, explicit)  # from all of IN, also with --limit
    if limit:  # None or 0: all
        docs = docs[:limit]
    if not docs:
        raise HybridNerError(f"{input_path}: no Docs to annotate")
    nlp = build_pipeline(config, vocab)
    model = chat_model(nlp)
    task = nlp.get_pipe(COMPONENT).task
    ours = isinstance(model, ChatModel)
    if ours:
        _open_cache(model, dry_run)
    retriever = getattr(task, "examples", None)
    if retriever is not None and retriever.k > 0 and retriever.pool_source is None:
        msg.warn("No example pool (--examples or the config's examples.pool): zero-shot prompts")
    if dry_run:
        run_dry(task, model, docs, ours)
        return
    n_queries = len(task.queries()) if hasattr(task, "queries") else 1
    # Over the input itself, a partial result would replace the whole corpus: never.
    write_partial = not same_file(output_path, input_path)
    spans_key = getattr(task, "spans_key", "llm")
    args = (batch_size, output_path, usage_out, write_partial, allow_empty, spans_key)
    try:
        done = run(nlp, model if ours else None, docs, n_queries, *args)
    finally:
        run_warnings(task, len(docs))
    summarise(done, spans_key, output_path, list(getattr(task, "labels", []) or []))


def _open_cache(model: ChatModel, dry_run: bool = False) -> None:
    """Open the prompt cache now: a corrupt or locked file stops the run
    before any work. A dry run creates no cache: without the file it looks
    up (recorded answers) in a cache in memory."""
    if model.cache is None:
        return
    if dry_run and not model.cache.path.exists():
        path = model.cache.path
        model.cache = PromptCache(":memory:", recorded=model.cache.recorded)
        msg.info(f"Prompt cache {path}: none yet (a dry run creates none)")
        return
    try:
        n_cached = len(model.cache)
    except sqlite3.DatabaseError as err:
        raise HybridNerError(
            f"{model.cache.path}: the prompt cache is unreadable ({err}); "
            "move it away to start a new one"
        ) from None
    msg.info(f"Prompt cache {model.cache.path}: {n_cached} answers")


def _override_name(overrides: Mapping[str, Any], path: str) -> Optional[str]:
    return f"--{path}" if path in overrides else None


def _check_options(
    concurrency: Optional[int],
    threads: Optional[int],
    k: Optional[int],
    clusters: Optional[int],
    max_requests: Optional[int],
    max_tokens: Optional[int],
    max_cost: Optional[float],
    price_in: Optional[float],
    price_out: Optional[float],
    limit: Optional[int],
    batch_size: int,
) -> None:
    """Range-check the numeric options: 0 or a negative number would otherwise
    silently mean "nothing" (--batch-size 0) or "all but the last" (--limit -5)."""
    check_range("--concurrency", concurrency, 1)
    check_range("--threads", threads, 1)
    check_range("--k", k, 0)
    check_range("--clusters", clusters, 0)
    check_range("--max-requests", max_requests, 0)
    check_range("--max-tokens", max_tokens, 0)
    check_range("--max-cost", max_cost, 0)
    check_range("--price-in", price_in, 0)
    check_range("--price-out", price_out, 0)
    check_range("--limit", limit, 0)
    check_range("--batch-size", batch_size, 1)
