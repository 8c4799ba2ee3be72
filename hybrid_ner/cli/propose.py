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

The config is resolved once (:func:`hybrid_ner.llm.config.configure` and
:func:`~hybrid_ner.llm.config.build_proposer`); the command then works with
the built task, model, cache and example pool.
"""

import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import typer
from spacy.tokens import Doc
from wasabi import msg

from ..atomic import same_file, write_json
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError, Interrupted, PartialResult, RequestsFailed
from ..llm.cache import PromptCache
from ..llm.chat_model import ChatModel
from ..llm.config import DEFAULT_API_KEY_ENV, LABELS, Proposer, build_proposer, configure
from ..llm.labels import choose_labels
from ..llm.task import PARSE_STATS_KEY, EntityProposalTask
from ..overrides import parse_cli_overrides
from ..progress import Progress
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range

#: Lower bounds of the numeric options: 0 or a negative number would otherwise
#: silently mean "nothing" (--batch-size 0) or "all but the last" (--limit -5).
#: (Checked here, not by typer's ranges: a bad value is exit 1 with the
#: option's name, like every other bad option, and NaN is refused too.)
_LOWER_BOUNDS = {
    "--concurrency": 1,
    "--threads": 1,
    "--k": 0,
    "--max-requests": 0,
    "--max-tokens": 0,
    "--max-cost": 0,
    "--price-in": 0,
    "--price-out": 0,
    "--limit": 0,
    "--batch-size": 1,
}


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
    ray_address: Optional[str] = typer.Option(
        None, "--ray", help="Send the requests on a Ray cluster: local, auto or ray://HOST:PORT"
    ),
) -> None:
    """Propose entities with an LLM, next to (never over) the human labels.

    Labels: --labels, else those of IN's human annotation and the example
    pool, else the config's (one line says which and from where). Any other
    option is a config override, as in `spacy train`
    (e.g. --components.llm.model.n_ctx 8192); the convenience options are
    names for config paths (FLAG_PATHS in hybrid_ner/llm/config.py; docs/cli.md).

    Exit codes: 0 all sentences done; 3 budget reached, OUT holds the
    finished sentences; 4 requests failed for good and 130 Ctrl+C, OUT left
    unchanged (answers so far are in the prompt cache: re-run to resume);
    1 bad input, option or output path, nothing sent; also 1 when the LLM
    proposed nothing at all (OUT not written, answers cached; --allow-empty
    writes it).
    """
    overrides = parse_cli_overrides(ctx)  # an unknown --option without a dot: exit 2
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
        "--query": query,
        "--cache": cache,
        "--recorded": recorded,
        "--max-requests": max_requests,
        "--max-tokens": max_tokens,
        "--max-cost": max_cost,
        "--price-in": price_in,
        "--price-out": price_out,
    }
    for option, low in _LOWER_BOUNDS.items():
        check_range(option, {**flags, "--limit": limit, "--batch-size": batch_size}[option], low)
    proposer = build_proposer(configure(config_path, flags, overrides))
    task, model = proposer.task, proposer.model
    ours = isinstance(model, ChatModel)
    prompt_cache = model.cache if ours else None
    budget = model.budget if ours else None
    if budget is not None and budget.max_cost is not None:
        prices = {
            "--price-in": budget.price_per_1k_input,
            "--price-out": budget.price_per_1k_output,
        }
        for option in (option for option, price in prices.items() if not price):
            msg.warn(
                f"{option} is 0: --max-cost {budget.max_cost} counts only the other side's tokens"
            )
    pool = getattr(getattr(task, "examples", None), "pool_source", None)
    pool = Path(pool) if isinstance(pool, str) else None
    inputs = [input_path, pool, config_path, Path(recorded) if recorded else None]
    if not dry_run:  # a dry run writes nothing (and only reads the cache)
        cache_file = prompt_cache.path if prompt_cache is not None else None
        outputs = {"OUT": output_path, "--usage-out": usage_out, "--cache": cache_file}
        check_outputs(outputs, [*inputs, label_definitions], overwrite_input)
    docs = read_docbin(input_path, proposer.nlp.vocab)
    if isinstance(task, EntityProposalTask):  # from all of IN, also with --limit
        explicit = "--labels" if labels is not None else None
        if explicit is None and LABELS in overrides:
            explicit = f"--{LABELS}"
        choose_labels(task, docs, explicit)
    if limit:  # None or 0: all
        docs = docs[:limit]
    if not docs:
        raise HybridNerError(f"{input_path}: no Docs to annotate")
    if ours:
        _open_cache(model, dry_run)
    retriever = getattr(task, "examples", None)
    if retriever is not None and retriever.k > 0 and retriever.pool_source is None:
        msg.warn("No example pool (--examples or the config's examples.pool): zero-shot prompts")
    if dry_run:
        _dry_run(task, model if ours else None, docs)
        return
    # Over the input itself, a partial result would replace the whole corpus: never.
    write_partial = not same_file(output_path, input_path)
    if ray_address:  # the cluster fills the prompt cache; the local run then replays it
        from ..llm.distributed import fill_cache

        fill_cache(ray_address, task, model, docs)
    try:
        done = run(proposer, docs, batch_size, output_path, usage_out, write_partial, allow_empty)
    finally:
        warn_short_of_examples(task, len(docs))
    spans_key = getattr(task, "spans_key", "llm")
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


def _dry_run(task: Any, model: Optional[ChatModel], docs: List[Doc]) -> None:
    """Show one fully rendered prompt (the first sentence's first query) and
    the counts and cost of the run; send nothing. Each prompt is rendered once."""
    if model is None:
        raise HybridNerError(
            "--dry-run needs a hybrid_ner model (hybrid_ner.LlamaCpp.v1 or OpenAICompatible.v1)"
        )
    prompts = [list(doc_prompts) for doc_prompts, _ in task.generate_prompts(docs)]
    n = len(prompts[0])
    msg.divider(f"Prompt of the first sentence{f' (query 1 of {n})' if n > 1 else ''}")
    print(prompts[0][0])
    expected = [task.prompt.expected_answer(doc.text, len(task.labels)) for doc in docs]
    estimate = model.estimate(prompts, expected)
    msg.divider("Dry run: nothing was sent")
    msg.table(
        [
            ("sentences", estimate.docs),
            ("prompts", estimate.prompts),
            ("cached (free; usage report: cache_hits)", estimate.cached),
            ("repeated in this run (free; usage report: repeated)", estimate.repeated),
            ("to send", estimate.to_send),
            ("prompt tokens", estimate.prompt_tokens),
            (
                "completion tokens (expected / max)",
                f"{estimate.completion_tokens_expected} / {estimate.completion_tokens_max}",
            ),
            ("cost (expected / max)", f"{estimate.cost_expected:.4f} / {estimate.cost_max:.4f}"),
        ]
    )
    warn_short_of_examples(task, len(docs))


def warn_short_of_examples(task: Any, n_docs: int) -> None:
    """One line when prompts were rendered with fewer few-shot examples than
    asked for (a small pool, or one whose sentences all belong to the
    query's own document)."""
    short = getattr(task, "short_of_examples", None) or {}
    examples = getattr(task, "examples", None)
    if not short or examples is None:
        return
    none = sum(1 for n in short.values() if n == 0)
    msg.warn(
        f"{len(short)} of {n_docs} sentences got fewer than the {examples.k} few-shot examples "
        f"asked for ({none} got none): the example pool has too few usable sentences outside "
        "each sentence's own document; give a larger --examples pool or a smaller --k"
    )


def run(
    proposer: Proposer,
    docs: List[Doc],
    batch_size: int,
    output_path: Path,
    usage_out: Optional[Path],
    write_partial: bool = True,
    allow_empty: bool = True,
) -> List[Doc]:
    """Run the pipeline with a progress bar and write OUT and the usage report
    (atomically) when every sentence is done.

    At a budget stop the finished sentences are written (unless OUT is the
    input, or none finished) and :class:`PartialResult` is raised (exit 3).
    A request that failed for good raises :class:`RequestsFailed` (exit 4),
    Ctrl+C :class:`Interrupted` (exit 130); both leave OUT and the usage
    report untouched and say where the answers received are: the cache.
    Without ``allow_empty``, a complete run with no proposal at all writes
    nothing and raises :class:`HybridNerError` (exit 1): an annotator that
    proposed nothing is a failure to look at, not a result.
    """
    from ..llm.usage import BudgetExceeded, LLMRequestError

    model = proposer.model if isinstance(proposer.model, ChatModel) else None
    task = proposer.task
    spans_key = getattr(task, "spans_key", "llm")
    n_queries = len(task.queries()) if hasattr(task, "queries") else 1
    done: List[Doc] = []
    bar = Progress(len(docs) * n_queries, "propose", "prompt", counters=_counters(model))
    if model is not None:
        model.progress = bar.update
    stop: Optional[BaseException] = None
    report: Optional[Dict[str, Any]] = None
    try:
        for doc in proposer.component.pipe(docs, batch_size=batch_size):
            done.append(doc)
    except (HybridNerError, KeyboardInterrupt) as err:  # budget, a request failed for good, Ctrl+C
        stop = err
    finally:
        bar.close()
        if model is not None:
            model.progress = None
            model.close()
            # After close: the report counts the answers that arrived while it waited.
            # Name the model in the report: later steps (grid, report) show which LLM proposed.
            backend = getattr(model, "backend", None)
            report = {
                **model.usage.report(),
                "model": getattr(backend, "model_id", None) or getattr(backend, "model", None),
            }
    if report is not None:
        report.update({"sentences": len(docs), "sentences_done": len(done)})
        _print_usage(report)
    kept = _kept(model, report)
    if stop is None:
        if not allow_empty and done and not any(doc.spans.get(spans_key) for doc in done):
            raise HybridNerError(
                _line(
                    f"0 proposals for {len(done)} sentences: {output_path} not written",
                    _empty_cause(done),
                    kept,
                    "pass --allow-empty to write it anyway",
                )
            )
        _write(output_path, done, usage_out, report)
        return done
    finished = f"{len(done)} of {len(docs)} sentences finished"
    if isinstance(stop, KeyboardInterrupt):
        raise Interrupted(
            _line(
                f"Interrupted (Ctrl+C): {finished}",
                f"{output_path} left unchanged",
                kept,
                "re-run the same command to resume",
            )
        ) from None
    if isinstance(stop, BudgetExceeded):
        if not done or not write_partial:
            why = "no sentence finished" if not done else "it is the input"
            raise PartialResult(
                _line(str(stop), f"{finished}; {output_path} left unchanged ({why})", kept)
            ) from None
        _write(output_path, done, usage_out, report)
        raise PartialResult(
            _line(str(stop), f"{output_path} is PARTIAL: it holds only the {finished}", kept)
        ) from None
    error = RequestsFailed if isinstance(stop, LLMRequestError) else HybridNerError
    raise error(
        _line(
            str(stop),
            f"{finished}; {output_path} left unchanged",
            kept,
            "fix the cause and re-run the same command to resume",
        )
    ) from None


def _empty_cause(docs: List[Doc]) -> str:
    """The likely cause of a run without proposals, from the parse statistics."""
    stats = [doc.user_data.get(PARSE_STATS_KEY) or {} for doc in docs]
    items = sum(s.get("items", 0) for s in stats)
    dropped: Counter = Counter()
    for s in stats:
        dropped.update(s.get("dropped", {}))
    if not items and dropped.get("garbage"):
        return "no answer could be read (check the model and --query)"
    if not items:
        return (
            "every answer was 'none' (zero-shot prompts or a weak model? check the examples "
            "with --dry-run)"
        )
    reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())
    return f"all {items} entity items were dropped ({reasons})"


def _counters(model: Any) -> Optional[Callable[[], Dict[str, Any]]]:
    """The figures shown with propose's progress: cache hits, failed
    attempts (retried or not) and completion tokens per second."""
    if model is None:
        return None
    start = time.monotonic()

    def counters() -> Dict[str, Any]:
        usage = model.usage
        elapsed = max(time.monotonic() - start, 1e-9)
        return {
            "cache hits": usage.cache_hits,
            "failed attempts": sum(usage.failures.values()),
            "tokens/s": usage.completion_tokens / elapsed,
        }

    return counters


def _line(*parts: str) -> str:
    """One message line from sentences that may end in a full stop."""
    return "; ".join(part.strip().rstrip(".") for part in parts)


def _write(
    output_path: Path, docs: List[Doc], usage_out: Optional[Path], report: Optional[Dict[str, Any]]
) -> None:
    """OUT first (it is what the run was for), then the usage report; both atomic."""
    write_docbin(output_path, docs)
    if usage_out is not None and report is not None:
        write_json(usage_out, report)


def _kept(model: Any, report: Optional[Dict[str, Any]]) -> str:
    """Where the answers received (and paid for) in this run are."""
    n = (report or {}).get("requests", 0)
    not_cached = (report or {}).get("not_cached", 0)
    abandoned = getattr(model, "abandoned", 0) or 0
    cache = getattr(model, "cache", None)
    gone = f"; {abandoned} request(s) in flight were abandoned" if abandoned else ""
    if not n:
        return (
            "no answer was received in this run"
            + ("" if cache is None else f" (prompt cache {cache.path})")
            + gone
        )
    if cache is None:
        return f"the {n} answers received were not cached (no prompt cache configured){gone}"
    if not_cached:
        return (
            f"{n} answers were received (and paid for): {n - not_cached} are kept in the prompt "
            f"cache {cache.path}, {not_cached} could not be stored{gone}"
        )
    return f"the {n} answers received are kept in the prompt cache {cache.path}{gone}"


def _print_usage(report: Dict[str, Any]) -> None:
    rows = [(key, value) for key, value in report.items() if key != "failures"]
    rows.append(
        (
            "failed attempts",
            ", ".join(f"{k} {v}" for k, v in sorted(report["failures"].items())) or "0",
        )
    )
    msg.table(rows, header=("usage", ""), divider=True)


def summarise(
    docs: List[Doc], spans_key: str, output_path: Path, asked: Optional[List[str]] = None
) -> None:
    """What was written, and what the parser could not use (never "N of 0")."""
    labels = Counter(span.label_ for doc in docs for span in doc.spans.get(spans_key, []))
    dropped: Counter = Counter()
    items = answers = 0
    for doc in docs:
        stats = doc.user_data.get(PARSE_STATS_KEY) or {}
        dropped.update(stats.get("dropped", {}))
        items += stats.get("items", 0)
        answers += len(stats.get("queries", []))
    per_label = ", ".join(f"{label} {n}" for label, n in sorted(labels.items())) or "none"
    msg.good(
        f"Wrote {len(docs)} sentences to {output_path}: "
        f"{sum(labels.values())} proposals ({per_label})"
    )
    if dropped:
        # "garbage" lines are not items (they had no LABEL: mention shape), so no "of N" here.
        reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())
        msg.info(
            f"{answers} answers, {items} entity items; dropped {sum(dropped.values())}: {reasons}"
        )
    if labels:
        labels_asked = [str(label) for label in asked or []]
        never = [label for label in labels_asked if not labels.get(label)]
        if never:
            msg.warn(
                f"No proposal for {', '.join(never)} in {len(docs)} sentences: the annotator "
                "never names these labels (check their definitions, examples and the model)"
            )
    if answers and not items and dropped.get("garbage"):
        msg.warn(
            f"No answer held a usable entity item ({dropped['garbage']} unreadable lines): "
            "check the model and the prompt format (--query)"
        )
