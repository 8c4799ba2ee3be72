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

import inspect
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

import spacy
import typer
from confection import Config
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab
from wasabi import msg

from ..atomic import same_file, write_json
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError, Interrupted, OptionError, PartialResult, RequestsFailed
from ..progress import Progress
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range

QUERY_FORMATS = {
    "single": "hybrid_ner.SingleQueryPrompt.v1",
    "per-type": "hybrid_ner.PerTypePrompt.v1",
}
#: The API key variable with --base-url when --api-key-env is not given.
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
LABELS_PATH = "components.llm.task.labels"
#: The convenience options of ``propose``: each sets one config path, through
#: the same mechanism as a dotted override (``--components.llm.task.examples.k 8``
#: is ``--k 8``). Giving both for one path is an error.
FLAG_PATHS: Dict[str, str] = {
    "--labels": LABELS_PATH,
    "--label-definitions": "components.llm.task.label_definitions",
    "--query": "components.llm.task.prompt",
    "--examples": "components.llm.task.examples.pool",
    "--k": "components.llm.task.examples.k",
    "--base-url": "components.llm.model.base_url",
    "--model": "components.llm.model.model",
    "--api-key-env": "components.llm.model.api_key_env",
    "--concurrency": "components.llm.model.concurrency",
    "--threads": "components.llm.model.n_threads",
    "--cache": "components.llm.model.cache.path",
    "--recorded": "components.llm.model.cache.recorded",
    "--max-requests": "components.llm.model.budget.max_requests",
    "--max-tokens": "components.llm.model.budget.max_tokens",
    "--max-cost": "components.llm.model.budget.max_cost",
    "--price-in": "components.llm.model.budget.price_per_1k_input",
    "--price-out": "components.llm.model.budget.price_per_1k_output",
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
        help="Comma-separated labels to propose (default: the labels of IN's human annotation and the example pool)",
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
        help="Environment variable holding the API key (with --base-url: OPENAI_API_KEY; '' for none)",
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
        help="Recorded answers (.jsonl.gz from `hybrid-ner record-answers`) to replay as cache hits; '' for none",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Show the labels, one rendered prompt, and count prompts, tokens and cost; send nothing",
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
    1 bad input, option or output path, nothing sent.
    """
    from ..overrides import parse_cli_overrides

    overrides = parse_cli_overrides(ctx)  # an unknown --option without a dot: exit 2
    _check_options(
        concurrency,
        threads,
        k,
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
        "--query": query,
        "--cache": cache,
        "--recorded": recorded,
        "--max-requests": max_requests,
        "--max-tokens": max_tokens,
        "--max-cost": max_cost,
        "--price-in": price_in,
        "--price-out": price_out,
    }
    config = _configure(config_path, flags, overrides)
    recorded_path = Path(recorded) if recorded else None
    _check_cost_limit(config)
    cache_path = _cache_path(config)
    pool_path = _pool_path(config)
    inputs = [input_path, examples or pool_path, config_path, recorded_path, label_definitions]
    if not dry_run:  # a dry run writes nothing (and only reads the cache)
        check_outputs(
            {"OUT": output_path, "--usage-out": usage_out, "--cache": cache_path},
            inputs,
            overwrite_input,
        )
    from ..llm.config import build_pipeline

    # The input is read before the pipeline is built: its labels may be the label set.
    vocab = blank_vocab(config)
    docs = read_docbin(input_path, vocab)
    explicit = "--labels" if labels is not None else _override_name(overrides, LABELS_PATH)
    _choose_labels(config, docs, explicit)  # from all of IN, also with --limit
    if limit:  # None or 0: all
        docs = docs[:limit]
    if not docs:
        raise HybridNerError(f"{input_path}: no Docs to annotate")
    nlp = build_pipeline(config, vocab)
    component = nlp.get_pipe("llm")
    model = _chat_model(component)
    task = component.task
    from ..llm.model import ChatModel

    ours = isinstance(model, ChatModel)
    if ours and model.cache is not None:
        # Opens the cache now: a corrupt or locked file stops the run before any work.
        try:
            n_cached = len(model.cache)
        except sqlite3.DatabaseError as err:
            raise HybridNerError(
                f"{model.cache.path}: the prompt cache is unreadable ({err}); move it away"
            ) from None
        msg.info(f"Prompt cache {model.cache.path}: {n_cached} answers")
    retriever = getattr(task, "examples", None)
    if retriever is not None and retriever.k > 0 and retriever.pool_source is None:
        msg.warn("No example pool (--examples or the config's examples.pool): zero-shot prompts")
    if dry_run:
        _dry_run(task, model, docs, ours)
        return
    n_queries = len(task.queries()) if hasattr(task, "queries") else 1
    # Over the input itself, a partial result would replace the whole corpus: never.
    write_partial = not same_file(output_path, input_path)
    done = _run(
        nlp,
        model if ours else None,
        docs,
        n_queries,
        batch_size,
        output_path,
        usage_out,
        write_partial,
    )
    _summarise(done, getattr(task, "spans_key", "llm"), output_path)


def _check_options(
    concurrency: Optional[int],
    threads: Optional[int],
    k: Optional[int],
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
    check_range("--max-requests", max_requests, 0)
    check_range("--max-tokens", max_tokens, 0)
    check_range("--max-cost", max_cost, 0)
    check_range("--price-in", price_in, 0)
    check_range("--price-out", price_out, 0)
    check_range("--limit", limit, 0)
    check_range("--batch-size", batch_size, 1)


def flag_overrides(config: Config, flags: Mapping[str, Any]) -> Dict[str, Any]:
    """The dotted config overrides the convenience options stand for
    (``FLAG_PATHS``), with their values as the config wants them.

    config (Config): The config before the overrides (for checks that
        depend on the backend).
    flags (Mapping[str, Any]): Option name → value; None for not given.
    RETURNS (Dict[str, Any]): Dotted path → value.
    RAISES (HybridNerError): For an option that does not fit the config.
    """
    from ..llm.config import LLAMA_CPP, OPENAI_COMPATIBLE, PROMPT_CACHE
    from ..llm.labels import parse_labels, read_label_definitions

    given = {flag: value for flag, value in flags.items() if value is not None}
    backend = _model_block(config).get("@llm_models")
    if "--base-url" in given:
        backend = OPENAI_COMPATIBLE
        given.setdefault("--api-key-env", DEFAULT_API_KEY_ENV)
    if "--concurrency" in given and backend != OPENAI_COMPATIBLE:
        msg.warn(
            "--concurrency applies to OpenAI-compatible backends; the embedded LLM runs one request at a time"
        )
        del given["--concurrency"]
    if "--api-key-env" in given and backend != OPENAI_COMPATIBLE:
        msg.warn("--api-key-env applies to OpenAI-compatible backends (--base-url); ignored")
        del given["--api-key-env"]
    if "--threads" in given and backend != LLAMA_CPP:
        raise HybridNerError(f"--threads applies to the embedded LLM ({LLAMA_CPP}) only")
    values: Dict[str, Any] = {}
    for flag, value in given.items():
        if flag == "--labels":
            value = parse_labels(value)
        elif flag == "--label-definitions":
            value = read_label_definitions(value)
        elif flag == "--query":
            if value not in QUERY_FORMATS:
                raise HybridNerError(f"Unknown --query {value!r}: use single or per-type")
            current = config["components"]["llm"]["task"].get("prompt")
            if isinstance(current, dict) and current.get("@llm_misc") == QUERY_FORMATS[value]:
                continue  # the config's own settings of that format stay
            value = {"@llm_misc": QUERY_FORMATS[value]}
        elif flag == "--recorded":
            value = _recorded(config, value, given.get("--cache"))
            if value is None and not _has_prompt_cache(config):
                continue  # nothing to clear
        elif flag == "--cache":
            value = str(value)
            if not _has_prompt_cache(config):
                values["components.llm.model.cache"] = {
                    "@llm_misc": PROMPT_CACHE
                }  # replaces another cache
        elif flag == "--api-key-env":
            value = value or None
        elif flag == "--examples":
            value = str(value)
        values[FLAG_PATHS[flag]] = value
    return values


def _recorded(config: Config, recorded: str, cache: Optional[Path]) -> Optional[str]:
    """The value of the cache's ``recorded`` for ``--recorded``: "" clears
    it; a recording must exist and needs the prompt cache (a path)."""
    if not recorded:
        return None
    path = Path(recorded)
    if not path.is_file():
        raise HybridNerError(f"{path}: recorded answers not found")
    if cache is None and not (
        _has_prompt_cache(config) and _model_block(config)["cache"].get("path")
    ):
        raise HybridNerError(
            "--recorded replays answers through the prompt cache: the config has none (give --cache)"
        )
    return str(path)


def _has_prompt_cache(config: Config) -> bool:
    from ..llm.config import PROMPT_CACHE

    block = _model_block(config).get("cache")
    return isinstance(block, dict) and block.get("@llm_misc") == PROMPT_CACHE


def _configure(
    config_path: Optional[Path], flags: Mapping[str, Any], overrides: Mapping[str, Any]
) -> Config:
    """The proposal config: file or built-in default, with the convenience
    options and the dotted overrides applied (one mechanism: the options are
    names for config paths). ``--base-url`` first switches the model block
    to the OpenAI-compatible backend (keeping generation, cache and budget).
    RAISES (HybridNerError): For options that do not fit, or a path given twice."""
    from ..llm.config import OPENAI_COMPATIBLE, apply_overrides, load_config, use_backend
    from ..overrides import check_no_conflicts

    config = load_config(config_path, interpolate=False)
    if (flags.get("--base-url") is None) != (flags.get("--model") is None):
        raise HybridNerError("--base-url and --model go together")
    if not isinstance(_model_block(config, config_path), dict):
        raise HybridNerError(f"{config_path}: [components.llm.model] is not a block")
    values = flag_overrides(config, flags)
    check_no_conflicts(values, overrides, FLAG_PATHS)
    if flags.get("--base-url") is not None:
        use_backend(config, OPENAI_COMPATIBLE)
    apply_overrides(config, {**values, **overrides}, str(config_path or "the default config"))
    try:
        return config.interpolate()
    except Exception as err:
        raise HybridNerError(
            f"{config_path or 'default config'}: invalid config ({' '.join(str(err).split())})"
        ) from None


def _override_name(overrides: Mapping[str, Any], path: str) -> Optional[str]:
    return f"--{path}" if path in overrides else None


def _choose_labels(config: Config, docs: List[Doc], explicit: Optional[str]) -> List[str]:
    """Settle the label set (in the config) and say where it came from.

    Given (``--labels`` or its config path): kept, and the example pool
    must not use other labels. Else the labels of IN's human annotation and
    of the example pool; if neither has any, the config's. Labels without a
    definition are named; for the single-query format, labels without an
    example entity for the answer-format example get one from the data.
    RETURNS (List[str]): The labels.
    """
    from ..llm.labels import check_example_labels, example_mentions, label_counts, order_labels
    from ..llm.prompts import DEFAULT_DEFINITIONS, DEFAULT_EXAMPLE_MENTIONS
    from ..llm.task import create_entity_proposal_task

    task = config["components"]["llm"]["task"]
    # A config without labels means the registered task's default labels.
    default = inspect.signature(create_entity_proposal_task).parameters["labels"].default
    configured = [str(label) for label in (task["labels"] if "labels" in task else default)]
    pool_path = _pool_path(config)
    pool = _pool_docs(pool_path) if pool_path is not None and _pool_k(config) > 0 else []
    input_counts, pool_counts = label_counts(docs), label_counts(pool)
    if explicit is not None:
        labels, source = configured, explicit
        check_example_labels(pool_counts, labels, str(pool_path))
    elif input_counts or pool_counts:
        labels = order_labels(set(input_counts) | set(pool_counts), configured)
        source = " and ".join(
            name
            for name, counts in (
                ("the human annotation of the input", input_counts),
                (f"the example pool {pool_path}", pool_counts),
            )
            if counts
        )
    else:
        labels, source = configured, "the config (no entity in the input or the example pool)"
    task["labels"] = labels
    msg.info(f"Labels: {', '.join(labels)} (from {source})")
    left_out = [label for label in configured if label not in labels]
    if explicit is None and left_out:
        msg.info(
            f"Not asked for: {', '.join(left_out)} (in the config, not in the data); give --labels to ask for them"
        )
    definitions = {**DEFAULT_DEFINITIONS, **(task.get("label_definitions") or {})}
    undefined = [label for label in labels if not definitions.get(label)]
    if undefined:
        msg.info(
            f'No definition for {", ".join(undefined)}: the prompt says "entities of type <label>" '
            "(give --label-definitions FILE)"
        )
    unused = sorted(set(task.get("label_definitions") or {}) - set(labels))
    if unused:
        msg.warn(
            f"Label definitions for labels not in the label set are not used: {', '.join(unused)}"
        )
    prompt = task.get("prompt") or {
        "@llm_misc": QUERY_FORMATS["single"]
    }  # the task's default format
    if isinstance(prompt, dict) and prompt.get("@llm_misc") == QUERY_FORMATS["single"]:
        mentions = dict(prompt.get("example_mentions") or DEFAULT_EXAMPLE_MENTIONS)
        if sum(1 for label in labels if mentions.get(label)) < min(2, len(labels)):
            found = example_mentions(
                [*pool, *docs], [label for label in labels if not mentions.get(label)]
            )
            task["prompt"] = {**prompt, "example_mentions": {**mentions, **found}}
    return labels


def _pool_path(config: Config) -> Optional[Path]:
    examples = config["components"]["llm"]["task"].get("examples")
    pool = examples.get("pool") if isinstance(examples, dict) else None
    return Path(str(pool)) if pool else None


def _pool_k(config: Config) -> int:
    from ..llm.fewshot import create_similar_examples

    examples = config["components"]["llm"]["task"].get("examples")
    if not isinstance(examples, dict):
        return 0
    # The registered function's default k when the config does not say.
    return int(
        examples.get("k", inspect.signature(create_similar_examples).parameters["k"].default)
    )


def _pool_docs(path: Path) -> List[Doc]:
    """The pool's sentences the retriever may show (fully annotated ones)."""
    from spacy.vocab import Vocab

    from ..llm.fewshot import usable_as_example

    if not path.is_file():
        raise HybridNerError(f"{path}: example pool not found")
    return [doc for doc in read_docbin(path, Vocab()) if usable_as_example(doc)]


def blank_vocab(config: Config) -> Vocab:
    """The vocab of the config's language, for the Docs and the pipeline."""
    lang = str(config.get("nlp", {}).get("lang") or "en")
    try:
        return spacy.blank(lang).vocab
    except ImportError:
        raise HybridNerError(f"[nlp] lang = {lang!r}: not a language spaCy knows") from None


def _chat_model(component: Any) -> Any:
    """The model of spacy-llm's component (spacy-llm 0.7.4 has no public
    accessor; the hybrid_ner model is needed for the cache, usage and the
    progress)."""
    return getattr(component, "_model", None)


def _model_block(config: Config, config_path: Optional[Path] = None) -> Any:
    try:
        return config["components"]["llm"]["model"]
    except (KeyError, TypeError):
        raise HybridNerError(
            f"{config_path or 'config'}: no [components.llm.model] block"
        ) from None


def _check_cost_limit(config: Config) -> None:
    """Refuse a limit that cannot be kept: without prices every request costs
    0, so all of them would be sent; without generation.max_tokens one answer
    has no bound, so a request's worst case cannot be reserved."""
    block = config["components"]["llm"]["model"]
    budget = block.get("budget") or {}
    max_cost = budget.get("max_cost")
    generation = block.get("generation")  # None: the model's default, which has max_tokens
    if (
        (max_cost is not None or budget.get("max_tokens") is not None)
        and isinstance(generation, dict)
        and not generation.get("max_tokens")
    ):
        raise OptionError(
            "--max-tokens and --max-cost need generation.max_tokens in the config: "
            "without it an answer has no bound and the limit could be exceeded"
        )
    if max_cost is None:
        return
    prices = {
        "--price-in": budget.get("price_per_1k_input") or 0,
        "--price-out": budget.get("price_per_1k_output") or 0,
    }
    if not any(prices.values()):
        raise OptionError(
            f"--max-cost {max_cost} needs --price-in and --price-out (per 1,000 tokens): "
            "without prices every request costs 0 and no cost limit applies"
        )
    for option, price in prices.items():
        if not price:
            msg.warn(f"{option} is 0: --max-cost {max_cost} counts only the other side's tokens")


def _cache_path(config: Config) -> Optional[Path]:
    """The prompt cache file of the config, if it uses hybrid_ner's cache."""
    block = config["components"]["llm"]["model"].get("cache")
    if _has_prompt_cache(config) and block.get("path"):
        return Path(str(block["path"]))
    return None


def _dry_run(task: Any, model: Any, docs: List[Doc], ours: bool) -> None:
    """Show one fully rendered prompt (the first sentence's first query) and
    the counts and cost of the run; send nothing."""
    if not ours:
        raise HybridNerError(
            "--dry-run needs a hybrid_ner model (hybrid_ner.LlamaCpp.v1 or OpenAICompatible.v1)"
        )
    from ..llm.estimate import estimate_run

    prompts = [list(doc_prompts) for doc_prompts, _ in task.generate_prompts(docs[:1])][0]
    msg.divider(
        f"Prompt of the first sentence{f' (query 1 of {len(prompts)})' if len(prompts) > 1 else ''}"
    )
    print(prompts[0])
    estimate = estimate_run(task, model, docs)
    msg.divider("Dry run: nothing was sent")
    msg.table(
        [
            ("sentences", estimate.docs),
            ("prompts", estimate.prompts),
            ("cached or repeated (free)", estimate.cached),
            ("to send", estimate.to_send),
            ("prompt tokens", estimate.prompt_tokens),
            (
                "completion tokens (expected / max)",
                f"{estimate.completion_tokens_expected} / {estimate.completion_tokens_max}",
            ),
            ("cost (expected / max)", f"{estimate.cost_expected:.4f} / {estimate.cost_max:.4f}"),
        ]
    )


def _run(
    nlp: Language,
    model: Any,
    docs: List[Doc],
    n_queries: int,
    batch_size: int,
    output_path: Path,
    usage_out: Optional[Path],
    write_partial: bool = True,
) -> List[Doc]:
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
    bar = Progress(len(docs) * n_queries, "propose", "prompt", counters=_counters(model))
    if model is not None:
        model.progress = bar.update
    stop: Optional[BaseException] = None
    report: Optional[Dict[str, Any]] = None
    try:
        if (
            model is not None
        ):  # issue 15.2: all prompts queued up front, no pool drain between batches
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
            report = {
                **model.usage.report(),
                "model": getattr(backend, "model_id", None) or getattr(backend, "model", None),
            }
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
    """Where the answers received in this run are."""
    n = (report or {}).get("requests", 0)
    cache = getattr(model, "cache", None)
    if not n:
        return "no answer was received in this run" + (
            "" if cache is None else f" (prompt cache {cache.path})"
        )
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
    rows.append(
        (
            "failed attempts",
            ", ".join(f"{k} {v}" for k, v in sorted(report["failures"].items())) or "0",
        )
    )
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
    msg.good(
        f"Wrote {len(docs)} sentences to {output_path}: {sum(labels.values())} proposals ({per_label})"
    )
    if dropped:
        # "garbage" lines are not items (they had no LABEL: mention shape), so no "of N" here.
        reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())
        msg.info(
            f"{answers} answers, {items} entity items; dropped {sum(dropped.values())}: {reasons}"
        )
    if answers and not items and dropped.get("garbage"):
        msg.warn(
            f"No answer held a usable entity item ({dropped['garbage']} unreadable lines): "
            "check the model and the prompt format (--query)"
        )
