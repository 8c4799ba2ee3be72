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
"""
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from confection import Config
from spacy.language import Language
from spacy.tokens import Doc
from tqdm import tqdm
from wasabi import msg

from ..atomic import same_file, write_json
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError, Interrupted, OptionError, PartialResult, RequestsFailed
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range

QUERY_FORMATS = {"single": "hybrid_ner.SingleQueryPrompt.v1", "per-type": "hybrid_ner.PerTypePrompt.v1"}
PROMPT_CACHE = "hybrid_ner.PromptCache.v1"


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
    recorded: Optional[str] = typer.Option(None, help="Recorded answers (.jsonl.gz from `hybrid-ner record-answers`) to replay as cache hits; '' for none"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count prompts, tokens and cost; send nothing"),
    max_requests: Optional[int] = typer.Option(None, help="Budget: requests sent in this run"),
    max_tokens: Optional[int] = typer.Option(None, help="Budget: prompt + completion tokens in this run"),
    max_cost: Optional[float] = typer.Option(None, help="Budget: money, from --price-in/--price-out (both needed)"),
    price_in: Optional[float] = typer.Option(None, help="Price per 1,000 prompt tokens"),
    price_out: Optional[float] = typer.Option(None, help="Price per 1,000 completion tokens"),
    limit: Optional[int] = typer.Option(None, help="Only the first N sentences (0: all)"),
    batch_size: int = typer.Option(64, help="Sentences per batch handed to the model"),
    usage_out: Optional[Path] = typer.Option(None, help="Write the usage report (JSON) here"),
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Propose entities with an LLM, next to (never over) the human labels.

    Exit codes: 0 all sentences done; 3 budget reached, OUT holds the
    finished sentences; 4 requests failed for good and 130 Ctrl+C, OUT left
    unchanged (answers so far are in the prompt cache: re-run to resume);
    1 bad input, option or output path, nothing sent.
    """
    _check_options(concurrency, threads, k, max_requests, max_tokens, max_cost, price_in, price_out, limit, batch_size)
    config = _configure(
        config_path, base_url, model_name, api_key_env, concurrency, threads, examples, k, query, cache,
        max_requests, max_tokens, max_cost, price_in, price_out,
    )
    recorded_path = _use_recorded(config, recorded)
    _check_cost_limit(config)
    cache_path = _cache_path(config)
    inputs = [input_path, examples, config_path, recorded_path]
    if not dry_run:  # a dry run writes nothing (and only reads the cache)
        check_outputs({"OUT": output_path, "--usage-out": usage_out, "--cache": cache_path}, inputs, overwrite_input)
    from ..llm.config import build_pipeline

    nlp = build_pipeline(config)
    component = nlp.get_pipe("llm")
    model = getattr(component, "_model", None)
    task = component.task
    from ..llm.model import ChatModel

    ours = isinstance(model, ChatModel)
    if ours and model.cache is not None:
        # Opens the cache now: a corrupt or locked file stops the run before any work.
        try:
            n_cached = len(model.cache)
        except sqlite3.DatabaseError as err:
            raise HybridNerError(f"{model.cache.path}: the prompt cache is unreadable ({err}); move it away") from None
        msg.info(f"Prompt cache {model.cache.path}: {n_cached} answers")
    docs = read_docbin(input_path, nlp.vocab)
    if limit:  # None or 0: all
        docs = docs[:limit]
    if not docs:
        raise HybridNerError(f"{input_path}: no Docs to annotate")
    retriever = getattr(task, "examples", None)
    if retriever is not None and retriever.k > 0 and retriever.pool_source is None:
        msg.warn("No example pool (--examples or the config's examples.pool): zero-shot prompts")
    if dry_run:
        _dry_run(task, model, docs, ours)
        return
    n_queries = len(task.queries()) if hasattr(task, "queries") else 1
    # Over the input itself, a partial result would replace the whole corpus: never.
    write_partial = not same_file(output_path, input_path)
    done = _run(nlp, model if ours else None, docs, n_queries, batch_size, output_path, usage_out, write_partial)
    _summarise(done, getattr(task, "spans_key", "llm"), output_path)


def _check_options(
    concurrency: Optional[int], threads: Optional[int], k: Optional[int], max_requests: Optional[int],
    max_tokens: Optional[int], max_cost: Optional[float], price_in: Optional[float], price_out: Optional[float],
    limit: Optional[int], batch_size: int,
) -> None:
    """Range-check the numeric options: 0 or a negative number would otherwise
    silently mean "nothing" (--batch-size 0) or "all but the last" (--limit -5)."""
    check_range("--concurrency", concurrency, 1)
    check_range("--threads", threads, 1)
    check_range("--k", k, 0)
    check_range("--max-requests", max_requests, 0)
    check_range("--max-tokens", max_tokens, 0)
    check_range("--max-cost", max_cost, 0)
    check_range("--price-in", price_in, 0)
    check_range("--price-out", price_out, 0)
    check_range("--limit", limit, 0)
    check_range("--batch-size", batch_size, 1)


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
    if not isinstance(_model_block(config, config_path), dict):
        raise HybridNerError(f"{config_path}: [components.llm.model] is not a block")
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
        set_value(config, f"{root}.model.cache", {"@llm_misc": PROMPT_CACHE, "path": str(cache)})
    budget = {"max_requests": max_requests, "max_tokens": max_tokens, "max_cost": max_cost,
              "price_per_1k_input": price_in, "price_per_1k_output": price_out}
    if any(value is not None for value in budget.values()):
        current = dict(config["components"]["llm"]["model"].get("budget") or {"@llm_misc": "hybrid_ner.Budget.v1"})
        current.update({key: value for key, value in budget.items() if value is not None})
        set_value(config, f"{root}.model.budget", current)
    return config


def _model_block(config: Config, config_path: Optional[Path]) -> Any:
    try:
        return config["components"]["llm"]["model"]
    except (KeyError, TypeError):
        raise HybridNerError(f"{config_path or 'config'}: no [components.llm.model] block") from None


def _check_cost_limit(config: Config) -> None:
    """Refuse a limit that cannot be kept: without prices every request costs
    0, so all of them would be sent; without generation.max_tokens one answer
    has no bound, so a request's worst case cannot be reserved."""
    block = config["components"]["llm"]["model"]
    budget = block.get("budget") or {}
    max_cost = budget.get("max_cost")
    generation = block.get("generation")  # None: the model's default, which has max_tokens
    if (max_cost is not None or budget.get("max_tokens") is not None) and isinstance(generation, dict) \
            and not generation.get("max_tokens"):
        raise OptionError(
            "--max-tokens and --max-cost need generation.max_tokens in the config: "
            "without it an answer has no bound and the limit could be exceeded"
        )
    if max_cost is None:
        return
    prices = {"--price-in": budget.get("price_per_1k_input") or 0, "--price-out": budget.get("price_per_1k_output") or 0}
    if not any(prices.values()):
        raise OptionError(
            f"--max-cost {max_cost} needs --price-in and --price-out (per 1,000 tokens): "
            "without prices every request costs 0 and no cost limit applies"
        )
    for option, price in prices.items():
        if not price:
            msg.warn(f"{option} is 0: --max-cost {max_cost} counts only the other side's tokens")


def _use_recorded(config: Config, recorded: Optional[str]) -> Optional[Path]:
    """Point the prompt cache at recorded answers (``--recorded``); "" clears
    them. RETURNS the recording's path, or None."""
    if recorded is None:
        return None
    from ..llm.config import set_value

    block = config["components"]["llm"]["model"].get("cache")
    if not recorded:
        if isinstance(block, dict) and block.get("@llm_misc") == PROMPT_CACHE:
            set_value(config, "components.llm.model.cache", {**block, "recorded": None})
        return None
    path = Path(recorded)
    if not path.is_file():
        raise HybridNerError(f"{path}: recorded answers not found")
    if not (isinstance(block, dict) and block.get("@llm_misc") == PROMPT_CACHE and block.get("path")):
        raise HybridNerError("--recorded replays answers through the prompt cache: the config has none (give --cache)")
    set_value(config, "components.llm.model.cache", {**block, "recorded": str(path)})
    return path


def _cache_path(config: Config) -> Optional[Path]:
    """The prompt cache file of the config, if it uses hybrid_ner's cache."""
    block = config["components"]["llm"]["model"].get("cache")
    if isinstance(block, dict) and block.get("@llm_misc") == PROMPT_CACHE and block.get("path"):
        return Path(str(block["path"]))
    return None


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
         usage_out: Optional[Path], write_partial: bool = True) -> List[Doc]:
    """Run the pipeline with a progress bar and write OUT and the usage report
    (atomically) when every sentence is done.

    At a budget stop the finished sentences are written (unless OUT is the
    input, or none finished) and :class:`PartialResult` is raised (exit 3).
    A request that failed for good raises :class:`RequestsFailed` (exit 4),
    Ctrl+C :class:`Interrupted` (exit 130); both leave OUT and the usage
    report untouched and say where the answers received are: the cache.
    """
    from ..llm.usage import BudgetExceeded, LLMRequestError

    done: List[Doc] = []
    schedule = _prefix_schedule(nlp, model, docs)
    bar = tqdm(total=len(docs) * n_queries, unit="prompt", desc="propose", disable=None)
    if model is not None:
        model.progress = bar.update
    stop: Optional[BaseException] = None
    report: Optional[Dict[str, Any]] = None
    try:
        if model is not None:  # issue 15.2: all prompts queued up front, no pool drain between batches
            model.prefetch_docs(nlp.get_pipe("llm").task, [docs[i] for i in schedule])
        for doc in nlp.pipe([docs[i] for i in schedule], batch_size=batch_size):
            done.append(doc)
    except (HybridNerError, KeyboardInterrupt) as err:  # budget, a request failed for good, Ctrl+C
        stop = err
    finally:
        bar.close()
        if model is not None:
            model.progress = None
            # Name the model in the report: later steps (grid, report) show which LLM proposed.
            backend = getattr(model, "backend", None)
            report = {**model.usage.report(), "model": getattr(backend, "model_id", None) or getattr(backend, "model", None)}
            model.close()
    # Back to the input order (the schedule may have reordered the Docs).
    position = {id(doc): i for i, doc in enumerate(docs)}
    done.sort(key=lambda doc: position.get(id(doc), len(docs)))
    if report is not None:
        report.update({"sentences": len(docs), "sentences_done": len(done)})
        _print_usage(report)
    if stop is None:
        _write(output_path, done, usage_out, report)
        return done
    finished = f"{len(done)} of {len(docs)} sentences finished"
    kept = _kept(model, report)
    if isinstance(stop, KeyboardInterrupt):
        raise Interrupted(_line(
            f"Interrupted (Ctrl+C): {finished}", f"{output_path} left unchanged", kept, "re-run the same command to resume"
        )) from None
    if isinstance(stop, BudgetExceeded):
        if not done or not write_partial:
            why = "no sentence finished" if not done else "it is the input"
            raise PartialResult(_line(str(stop), f"{finished}; {output_path} left unchanged ({why})", kept)) from None
        _write(output_path, done, usage_out, report)
        raise PartialResult(_line(str(stop), f"{output_path} is PARTIAL: it holds only the {finished}", kept)) from None
    error = RequestsFailed if isinstance(stop, LLMRequestError) else HybridNerError
    raise error(_line(
        str(stop), f"{finished}; {output_path} left unchanged", kept, "fix the cause and re-run the same command to resume"
    )) from None


def _line(*parts: str) -> str:
    """One message line from sentences that may end in a full stop."""
    return "; ".join(part.strip().rstrip(".") for part in parts)


def _write(output_path: Path, docs: List[Doc], usage_out: Optional[Path], report: Optional[Dict[str, Any]]) -> None:
    """OUT first (it is what the run was for), then the usage report; both atomic."""
    write_docbin(output_path, docs)
    if usage_out is not None and report is not None:
        write_json(usage_out, report)


def _kept(model: Any, report: Optional[Dict[str, Any]]) -> str:
    """Where the answers received in this run are."""
    n = (report or {}).get("requests", 0)
    cache = getattr(model, "cache", None)
    if not n:
        return "no answer was received in this run" + ("" if cache is None else f" (prompt cache {cache.path})")
    if cache is None:
        return f"the {n} answers received were not cached (no prompt cache configured)"
    return f"the {n} answers received are kept in the prompt cache {cache.path}"


def _prefix_schedule(nlp: Language, model: Any, docs: List[Doc]) -> List[int]:
    """The order to send the Docs in. A serial local model (llama.cpp) reuses
    the evaluated prefix of the previous prompt, so its prompts go in sorted
    order across the whole run, not only within a batch: neighbours then share
    the instructions and their first examples. Servers keep the input order."""
    backend = getattr(model, "backend", None)
    if backend is None or getattr(backend, "max_in_flight", 0) != 1:
        return list(range(len(docs)))
    task = nlp.get_pipe("llm").task
    prompts = [list(doc_prompts) for doc_prompts, _ in task.generate_prompts(docs)]
    return sorted(range(len(docs)), key=lambda i: (prompts[i], i))


def _print_usage(report: Dict[str, Any]) -> None:
    rows = [(key, value) for key, value in report.items() if key != "failures"]
    rows.append(("failed attempts", ", ".join(f"{k} {v}" for k, v in sorted(report["failures"].items())) or "0"))
    msg.table(rows, header=("usage", ""), divider=True)


def _summarise(docs: List[Doc], spans_key: str, output_path: Path) -> None:
    """What was written, and what the parser could not use (never "N of 0")."""
    from ..llm.task import PARSE_STATS_KEY

    labels = Counter(span.label_ for doc in docs for span in doc.spans.get(spans_key, []))
    dropped: Counter = Counter()
    items = answers = 0
    for doc in docs:
        stats = doc.user_data.get(PARSE_STATS_KEY) or {}
        dropped.update(stats.get("dropped", {}))
        items += stats.get("items", 0)
        answers += len(stats.get("queries", []))
    per_label = ", ".join(f"{label} {n}" for label, n in sorted(labels.items())) or "none"
    msg.good(f"Wrote {len(docs)} sentences to {output_path}: {sum(labels.values())} proposals ({per_label})")
    if dropped:
        # "garbage" lines are not items (they had no LABEL: mention shape), so no "of N" here.
        reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())
        msg.info(f"{answers} answers, {items} entity items; dropped {sum(dropped.values())}: {reasons}")
    if answers and not items and dropped.get("garbage"):
        msg.warn(
            f"No answer held a usable entity item ({dropped['garbage']} unreadable lines): "
            "check the model and the prompt format (--query)"
        )
