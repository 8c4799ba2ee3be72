"""``hybrid-ner propose IN.spacy OUT.spacy``: LLM entity proposals in ``doc.spans["llm"]``;
answers received are in the prompt cache, so the same command resumes after any stop."""

import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import typer
from spacy.tokens import Doc
from wasabi import msg

from ..atomic import same_file, write_json
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError, Interrupted, PartialResult, RequestsFailed
from ..llm.cache import PromptCache
from ..llm.chat_model import ChatModel
from ..llm.config import (
    DEFAULT_API_KEY_ENV,
    FLAG_PATHS,
    LABELS,
    Proposer,
    build_proposer,
    configure,
)
from ..llm.labels import choose_labels
from ..llm.task import PARSE_STATS_KEY, EntityProposalTask
from ..llm.usage import BudgetExceeded, LLMRequestError
from ..overrides import parse_cli_overrides
from ..progress import Progress
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range

#: Numeric options and their lower bounds (exit 1 naming the option; NaN refused too).
_LOWER_BOUNDS = dict.fromkeys(["--k", "--max-requests", "--max-tokens", "--max-cost"], 0)
_LOWER_BOUNDS.update({"--price-in": 0, "--price-out": 0, "--limit": 0})
_LOWER_BOUNDS.update({"--concurrency": 1, "--threads": 1, "--batch-size": 1})


@app.command("propose", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def propose_cli(
    ctx: typer.Context,
    input_path: Path = typer.Argument(..., help="DocBin with the human annotation in doc.ents"),
    output_path: Path = typer.Argument(..., help="Output DocBin, proposals in doc.spans['llm']"),
    config_path: Optional[Path] = typer.Option(None, "--config", "-c", help="Proposal config"),
    labels: Optional[str] = typer.Option(None, help="Comma-separated labels (default: IN's)"),
    label_definitions: Optional[Path] = typer.Option(None, help="JSON/YAML: label -> definition"),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible API root (.../v1)"),
    model_name: Optional[str] = typer.Option(None, "--model", help="Model name for --base-url"),
    api_key_env: Optional[str] = typer.Option(
        None, help=f"API key variable (with --base-url: {DEFAULT_API_KEY_ENV}; '' for none)"
    ),
    concurrency: Optional[int] = typer.Option(None, help="Requests in flight (--base-url)"),
    threads: Optional[int] = typer.Option(None, help="CPU threads of the embedded LLM"),
    examples: Optional[Path] = typer.Option(None, help="DocBin of gold few-shot examples"),
    k: Optional[int] = typer.Option(None, help="Few-shot examples per sentence"),
    query: Optional[str] = typer.Option(None, help="single (all types) or per-type (GPT-NER)"),
    cache: Optional[Path] = typer.Option(None, help="Prompt cache file (SQLite)"),
    recorded: Optional[str] = typer.Option(None, help="Recorded answers to replay; '' for none"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show prompts, tokens, cost; send none"),
    max_requests: Optional[int] = typer.Option(None, help="Budget: requests sent in this run"),
    max_tokens: Optional[int] = typer.Option(None, help="Budget: tokens in this run"),
    max_cost: Optional[float] = typer.Option(None, help="Budget: money (needs --price-in/out)"),
    price_in: Optional[float] = typer.Option(None, help="Price per 1,000 prompt tokens"),
    price_out: Optional[float] = typer.Option(None, help="Price per 1,000 completion tokens"),
    limit: Optional[int] = typer.Option(None, help="Only the first N sentences (0: all)"),
    batch_size: int = typer.Option(64, help="Sentences per batch handed to the model"),
    usage_out: Optional[Path] = typer.Option(None, help="Write the usage report (JSON) here"),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Write OUT with no proposal"),
    overwrite_input: bool = OVERWRITE_INPUT,
    ray_address: Optional[str] = typer.Option(
        None, "--ray", help="Send the requests on a Ray cluster: local, auto or ray://HOST:PORT"
    ),
) -> None:
    """Propose entities with an LLM, next to (never over) the human labels.

    Labels: --labels, else those of IN and the example pool, else the config's.
    Any other option is a config override, as in `spacy train` (docs/cli.md).
    Exit codes: 0 done; 3 budget reached, OUT holds the finished sentences;
    4 requests failed for good, 130 Ctrl+C (OUT unchanged, re-run to resume);
    1 bad input or nothing proposed (--allow-empty writes OUT anyway).
    """
    params = locals()
    overrides = parse_cli_overrides(ctx)  # an unknown --option without a dot: exit 2
    # The convenience options, by the config path each names (FLAG_PATHS).
    flags = {flag: params.get(flag[2:].replace("-", "_")) for flag in FLAG_PATHS}
    flags["--model"] = model_name
    numbers = {**flags, "--limit": limit, "--batch-size": batch_size}
    for option, low in _LOWER_BOUNDS.items():
        check_range(option, numbers[option], low)
    proposer = build_proposer(configure(config_path, flags, overrides))
    task, model = proposer.task, proposer.model
    model = model if isinstance(model, ChatModel) else None
    budget = model.budget if model is not None else None
    if budget is not None and budget.max_cost is not None:
        prices = (budget.price_per_1k_input, budget.price_per_1k_output)
        for o in (o for o, price in zip(("--price-in", "--price-out"), prices) if not price):
            msg.warn(f"{o} is 0: --max-cost {budget.max_cost} counts only the other side's tokens")
    retriever = getattr(task, "examples", None)
    pool = getattr(retriever, "pool_source", None)
    if not dry_run:  # a dry run writes nothing (and only reads the cache)
        cache_file = model.cache.path if model is not None and model.cache is not None else None
        inputs = [input_path, Path(pool) if isinstance(pool, str) else None, config_path]
        inputs += [Path(recorded) if recorded else None, label_definitions]
        outputs = {"OUT": output_path, "--usage-out": usage_out, "--cache": cache_file}
        check_outputs(outputs, inputs, overwrite_input)
    docs = read_docbin(input_path, proposer.nlp.vocab)
    if isinstance(task, EntityProposalTask):  # from all of IN, also with --limit
        explicit = "--labels" if labels is not None else None
        if explicit is None and LABELS in overrides:
            explicit = f"--{LABELS}"
        choose_labels(task, docs, explicit)
    docs = docs[:limit] if limit else docs
    if not docs:
        raise HybridNerError(f"{input_path}: no Docs to annotate")
    if model is not None and model.cache is not None:
        if dry_run and not model.cache.path.exists():  # look up recorded answers in memory
            msg.info(f"Prompt cache {model.cache.path}: none yet (a dry run creates none)")
            model.cache = PromptCache(":memory:", recorded=model.cache.recorded)
        else:  # a corrupt or locked file stops the run before any work
            msg.info(f"Prompt cache {model.cache.path}: {len(model.cache)} answers")
    if retriever is not None and retriever.k > 0 and pool is None:
        msg.warn("No example pool (--examples or the config's examples.pool): zero-shot prompts")
    try:
        if dry_run:
            return _dry_run(task, model, docs)
        # Over the input itself, a partial result would replace the whole corpus: never.
        write_partial = not same_file(output_path, input_path)
        if ray_address:  # the cluster fills the prompt cache; the local run then replays it
            from ..llm.distributed import fill_cache

            fill_cache(ray_address, task, model, docs)
        done = run(proposer, docs, batch_size, output_path, usage_out, write_partial, allow_empty)
    finally:  # prompts with fewer few-shot examples than asked for
        if short := (getattr(task, "short_of_examples", None) or {}):
            none = sum(1 for n in short.values() if n == 0)
            msg.warn(
                f"{len(short)} of {len(docs)} sentences got fewer than the {task.examples.k} "
                f"few-shot examples asked for ({none} got none): the example pool has too few "
                "usable sentences outside each sentence's own document; give a larger "
                "--examples pool or a smaller --k"
            )
    summarise(
        done, getattr(task, "spans_key", "llm"), output_path, list(getattr(task, "labels", []))
    )


def _dry_run(task: Any, model: Optional[ChatModel], docs: List[Doc]) -> None:
    """Show the first prompt and the counts and cost of the run; send nothing."""
    if model is None:
        raise HybridNerError(
            "--dry-run needs a hybrid_ner model (hybrid_ner.LlamaCpp.v1 or OpenAICompatible.v1)"
        )
    prompts = [list(doc_prompts) for doc_prompts, _ in task.generate_prompts(docs)]
    n = len(prompts[0])
    msg.divider(f"Prompt of the first sentence{f' (query 1 of {n})' if n > 1 else ''}")
    print(prompts[0][0])
    expected = [task.prompt.expected_answer(doc.text, len(task.labels)) for doc in docs]
    e = model.estimate(prompts, expected)
    msg.divider("Dry run: nothing was sent")
    tokens = f"{e.completion_tokens_expected} / {e.completion_tokens_max}"
    rows = [("sentences", e.docs), ("prompts", e.prompts)]
    rows += [("cached (free; usage report: cache_hits)", e.cached)]
    rows += [("repeated in this run (free; usage report: repeated)", e.repeated)]
    rows += [("to send", e.to_send), ("prompt tokens", e.prompt_tokens)]
    rows += [("completion tokens (expected / max)", tokens)]
    msg.table([*rows, ("cost (expected / max)", f"{e.cost_expected:.4f} / {e.cost_max:.4f}")])


def run(
    proposer: Proposer,
    docs: List[Doc],
    batch_size: int,
    output_path: Path,
    usage_out: Optional[Path],
    write_partial: bool = True,
    allow_empty: bool = True,
) -> List[Doc]:
    """Run the pipeline; write OUT and the usage report atomically. A budget stop writes the
    finished sentences (unless OUT is the input): PartialResult."""
    model = proposer.model if isinstance(proposer.model, ChatModel) else None
    spans_key = getattr(proposer.task, "spans_key", "llm")
    n_queries = len(proposer.task.queries()) if hasattr(proposer.task, "queries") else 1
    done: List[Doc] = []
    start = time.monotonic()
    counters = None
    if model is not None:  # cache hits, failed attempts, tokens/s

        def counters() -> Dict[str, Any]:
            u, seconds = model.usage, max(time.monotonic() - start, 1e-9)
            failed, speed = sum(u.failures.values()), u.completion_tokens / seconds
            return {"cache hits": u.cache_hits, "failed attempts": failed, "tokens/s": speed}

    bar = Progress(len(docs) * n_queries, "propose", "prompt", counters=counters)
    if model is not None:
        model.progress = bar.update
    stop: Optional[BaseException] = None
    try:
        for doc in proposer.component.pipe(docs, batch_size=batch_size):
            done.append(doc)
    except (HybridNerError, KeyboardInterrupt) as err:  # budget, a failed request, Ctrl+C
        stop = err
    finally:
        bar.close()
        if model is not None:
            model.progress = None
            model.close()  # the report then counts the answers that arrived while it waited
    report: Optional[Dict[str, Any]] = None
    if model is not None:  # the model named: later steps show which LLM proposed
        report = {**model.usage.report(), "model": model.backend.model_id}
        report.update({"sentences": len(docs), "sentences_done": len(done)})
        rows = [(key, value) for key, value in report.items() if key != "failures"]
        failures = ", ".join(f"{k} {v}" for k, v in sorted(report["failures"].items()))
        msg.table([*rows, ("failed attempts", failures or "0")], header=("usage", ""), divider=True)
    kept = _kept(model, report)
    finished = f"{len(done)} of {len(docs)} sentences finished"
    unchanged, resume = f"{output_path} left unchanged", "re-run the same command to resume"
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
    elif isinstance(stop, KeyboardInterrupt):
        raise Interrupted(
            _line(f"Interrupted (Ctrl+C): {finished}", unchanged, kept, resume)
        ) from None
    elif isinstance(stop, BudgetExceeded):
        if not done or not write_partial:
            why = "no sentence finished" if not done else "it is the input"
            raise PartialResult(
                _line(str(stop), f"{finished}; {unchanged} ({why})", kept)
            ) from None
    else:
        error = RequestsFailed if isinstance(stop, LLMRequestError) else HybridNerError
        message = _line(str(stop), f"{finished}; {unchanged}", kept, f"fix the cause and {resume}")
        raise error(message) from None
    write_docbin(output_path, done)  # OUT first: it is what the run was for
    if usage_out is not None and report is not None:
        write_json(usage_out, report)
    if stop is not None:
        partial = f"{output_path} is PARTIAL: it holds only the {finished}"
        raise PartialResult(_line(str(stop), partial, kept)) from None
    return done


def _line(*parts: str) -> str:
    """One message line from sentences that may end in a full stop."""
    return "; ".join(part.strip().rstrip(".") for part in parts)


def _parse_totals(docs: List[Doc]) -> Tuple[int, int, Counter]:
    """Answers, entity items and drops by reason, from the parse statistics."""
    items = answers = 0
    dropped: Counter = Counter()
    for doc in docs:
        stats = doc.user_data.get(PARSE_STATS_KEY) or {}
        dropped.update(stats.get("dropped", {}))
        items += stats.get("items", 0)
        answers += len(stats.get("queries", []))
    return answers, items, dropped


def _empty_cause(docs: List[Doc]) -> str:
    """The likely cause of a run without proposals."""
    _, items, dropped = _parse_totals(docs)
    if not items and dropped.get("garbage"):
        return "no answer could be read (check the model and --query)"
    if not items:
        return (
            "every answer was 'none' (zero-shot prompts or a weak model? check the examples "
            "with --dry-run)"
        )
    reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())
    return f"all {items} entity items were dropped ({reasons})"


def _kept(model: Optional[ChatModel], report: Optional[Dict[str, Any]]) -> str:
    """Where the answers received (and paid for) in this run are."""
    n, not_cached = (report or {}).get("requests", 0), (report or {}).get("not_cached", 0)
    abandoned, cache = (model.abandoned, model.cache) if model is not None else (0, None)
    gone = f"; {abandoned} request(s) in flight were abandoned" if abandoned else ""
    if not n:
        where = "" if cache is None else f" (prompt cache {cache.path})"
        return f"no answer was received in this run{where}{gone}"
    if cache is None:
        return f"the {n} answers received were not cached (no prompt cache configured){gone}"
    if not_cached:
        return (
            f"{n} answers were received (and paid for): {n - not_cached} are kept in the prompt "
            f"cache {cache.path}, {not_cached} could not be stored{gone}"
        )
    return f"the {n} answers received are kept in the prompt cache {cache.path}{gone}"


def summarise(
    docs: List[Doc], spans_key: str, output_path: Path, asked: Optional[List[str]] = None
) -> None:
    """What was written, and what the parser could not use."""
    labels = Counter(span.label_ for doc in docs for span in doc.spans.get(spans_key, []))
    answers, items, dropped = _parse_totals(docs)
    per_label = ", ".join(f"{label} {n}" for label, n in sorted(labels.items())) or "none"
    n = sum(labels.values())
    msg.good(f"Wrote {len(docs)} sentences to {output_path}: {n} proposals ({per_label})")
    if dropped:  # "garbage" lines are no items: no "of N" here
        reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())
        msg.info(
            f"{answers} answers, {items} entity items; dropped {sum(dropped.values())}: {reasons}"
        )
    never = [label for label in asked or [] if not labels.get(label)]
    if labels and never:
        msg.warn(
            f"No proposal for {', '.join(never)} in {len(docs)} sentences: the annotator "
            "never names these labels (check their definitions, examples and the model)"
        )
    if answers and not items and dropped.get("garbage"):
        msg.warn(
            f"No answer held a usable entity item ({dropped['garbage']} unreadable lines): "
            "check the model and the prompt format (--query)"
        )
