"""Running ``hybrid-ner propose``: the dry run (counts and cost, nothing
sent), the run itself with its progress bar, the all-or-nothing writes of
OUT and the usage report, and the summary of what was proposed."""

import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from wasabi import msg

from ..atomic import write_json
from ..corpus import write_docbin
from ..errors import HybridNerError, Interrupted, PartialResult, RequestsFailed
from ..progress import Progress


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


def dry_run(task: Any, model: Any, docs: List[Doc], ours: bool) -> None:
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


def run(
    nlp: Language,
    model: Any,
    docs: List[Doc],
    n_queries: int,
    batch_size: int,
    output_path: Path,
    usage_out: Optional[Path],
    write_partial: bool = True,
    allow_empty: bool = True,
    spans_key: str = "llm",
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

    done: List[Doc] = []
    schedule = prefix_schedule(nlp, model, docs)
    bar = Progress(len(docs) * n_queries, "propose", "prompt", counters=_counters(model))
    if model is not None:
        model.progress = bar.update
    stop: Optional[BaseException] = None
    report: Optional[Dict[str, Any]] = None
    try:
        if model is not None:  # all prompts queued up front, no pool drain between batches
            model.prefetch_docs(nlp.get_pipe("llm").task, [docs[i] for i in schedule])
        for doc in nlp.pipe([docs[i] for i in schedule], batch_size=batch_size):
            done.append(doc)
    except (HybridNerError, KeyboardInterrupt) as err:  # budget, a request failed for good, Ctrl+C
        stop = err
    finally:
        bar.close()
        if model is not None:
            model.progress = None
            try:
                model.close()  # the requests in flight finish (and are cached) first
            except KeyboardInterrupt as err:  # Ctrl+C while they finished: abandoned
                stop = stop or err
            # After close: the report counts the answers that arrived while it waited.
            # Name the model in the report: later steps (grid, report) show which LLM proposed.
            backend = getattr(model, "backend", None)
            report = {
                **model.usage.report(),
                "model": getattr(backend, "model_id", None) or getattr(backend, "model", None),
            }
    # Back to the input order (the schedule may have reordered the Docs).
    position = {id(doc): i for i, doc in enumerate(docs)}
    done.sort(key=lambda doc: position.get(id(doc), len(docs)))
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
    from ..llm.task import PARSE_STATS_KEY

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


def prefix_schedule(nlp: Language, model: Any, docs: List[Doc]) -> List[int]:
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


def summarise(
    docs: List[Doc], spans_key: str, output_path: Path, asked: Optional[List[str]] = None
) -> None:
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
