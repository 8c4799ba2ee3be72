"""CLI commands ``merge`` and ``stats``; the ``merge`` options name paths of a
``[merge]`` block (``hybrid_ner.Merger.v1``), dotted overrides apply on top."""

import inspect
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional

import spacy
import typer
from confection import Config
from spacy.util import registry
from wasabi import msg

from ..atomic import write_json
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError, OptionError
from ..layers import HUMAN_KEY, LLM_ADDED_KEY, LLM_KEY, LLM_REJECTED_KEY
from ..merge.acceptance import DEFAULT_MIN_PRECISION, DEFAULT_MIN_SUPPORT
from ..merge.calibration.mixing import CalibratedMixing
from ..merge.merger import (
    DEFAULT_OVERLAP,
    DEFAULT_SEED,
    DEFAULT_UNCOVERED,
    REASONS,
    Merger,
    OverlapRule,
    Uncovered,
)
from ..merge.mixing import DEFAULT_BALANCE, LabelMixing
from ..merge.reliability import human_spans, is_human_annotated
from ..merge.stats import summarize_merge
from ..overrides import apply_overrides, check_no_conflicts, parse_cli_overrides
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range

#: The ``merge`` options and the ``[merge]`` paths they set.
MERGE_FLAG_PATHS: Dict[str, str] = {
    "--accept": "merge.accept",
    "--labels": "merge.accept.labels",
    "--min-precision": "merge.accept.min_precision",
    "--min-support": "merge.accept.min_support",
    "--overlap": "merge.overlap",
    "--uncovered": "merge.uncovered",
    "--seed": "merge.seed",
    "--llm-key": "merge.llm_key",
}

LLM_KEY_OPT = typer.Option(LLM_KEY, "--llm-key", help="Span group holding the LLM proposals")
BALANCE = typer.Option(DEFAULT_BALANCE, help="Label mixing: class-imbalance exponent")
SUMMARY_HEADER = ("label", "human", "proposed", "added", "rejected", *REASONS)
SUMMARY_HEADER += ("precision vs human", "λ", "human %", "LLM %", "merged %")
FIGURES = ("precision_vs_human", "mixing_lambda")


def build_merger(
    options: Mapping[str, Any],
    overrides: Optional[Mapping[str, Any]] = None,
    given: Optional[Iterable[str]] = None,
) -> Merger:
    """The Merger of the ``merge`` options (by name) and dotted overrides, which may
    replace only the options not typed (``given``; None: all typed)."""
    check_range("--min-precision", options["min_precision"], 0, 1)
    check_range("--min-support", options["min_support"], 0)
    policy = f"hybrid_ner.accept_{options['accept']}.v1"
    if policy not in registry.misc:
        raise OptionError(
            f"Unknown --accept {options['accept']!r}: use all, labels, reliable or a {policy}"
        )
    extra = {"labels": ["--labels"], "reliable": ["--min-precision", "--min-support"]}
    flags = ["--overlap", "--uncovered", "--seed", "--llm-key", *extra.get(options["accept"], [])]
    values = {flag: options[flag[2:].replace("-", "_")] for flag in flags}
    values["--accept"] = {"@misc": policy}
    if "--labels" in values:
        values["--labels"] = [lab.strip() for lab in values["--labels"].split(",") if lab.strip()]
        if not values["--labels"]:
            raise OptionError("--accept labels needs --labels, e.g. --labels PER,LOC")
    overrides = dict(overrides or {})
    given = MERGE_FLAG_PATHS if given is None else given
    typed = dict.fromkeys(MERGE_FLAG_PATHS[flag] for flag in given if flag in MERGE_FLAG_PATHS)
    check_no_conflicts(typed, overrides, MERGE_FLAG_PATHS)
    config = Config({"merge": {"@misc": "hybrid_ner.Merger.v1"}})
    paths = {MERGE_FLAG_PATHS[flag]: value for flag, value in values.items()}
    apply_overrides(config, {**paths, **overrides}, "the merge settings")
    try:
        merger = registry.resolve(config, validate=True)["merge"]
    except Exception as err:  # confection's validation errors span lines: one line
        detail = " ".join(str(err).split())[:300] or type(err).__name__
        raise HybridNerError(f"Invalid merge settings ({type(err).__name__}: {detail})") from None
    if not isinstance(merger, Merger):
        raise HybridNerError(
            f"Invalid merge settings: [merge] builds a {type(merger).__name__}, not a Merger "
            "(@misc = hybrid_ner.Merger.v1)"
        )
    try:  # a registered function of another kind would fail mid-merge
        inspect.signature(merger.accept).bind("LABEL", None)
    except (TypeError, ValueError):
        raise HybridNerError(
            f"--merge.accept: a {type(merger.accept).__name__} is not an acceptance policy "
            "(called as accept(label, stats)); use e.g. "
            '\'{"@misc": "hybrid_ner.accept_reliable.v1"}\' or --accept all|labels|reliable'
        ) from None
    return merger


@app.command("merge", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def merge_cli(
    ctx: typer.Context,
    input_path: Path = typer.Argument(..., help="DocBin with doc.ents and doc.spans['llm']"),
    output_path: Path = typer.Argument(..., help="Output DocBin: merged doc.ents, provenance"),
    accept: str = typer.Option("all", help="Label acceptance: all, labels or reliable"),
    labels: str = typer.Option("", help="Comma-separated labels accepted with --accept labels"),
    min_precision: float = typer.Option(DEFAULT_MIN_PRECISION, help="--accept reliable: per label"),
    min_support: int = typer.Option(DEFAULT_MIN_SUPPORT, help="--accept reliable: fewer: accept"),
    overlap: OverlapRule = typer.Option(DEFAULT_OVERLAP, help="Rule for overlapping proposals"),
    uncovered: Uncovered = typer.Option(DEFAULT_UNCOVERED, help="Tokens in no entity"),
    seed: int = typer.Option(DEFAULT_SEED, help="Seed of --overlap random"),
    llm_key: str = LLM_KEY_OPT,
    soft_targets: bool = typer.Option(False, "--soft-targets", help="Store label-mixing targets"),
    balance: float = BALANCE,
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Merge LLM proposals into the human annotation, the human always winning;
    provenance in doc.spans["human"], ["llm_added"], ["llm_rejected"] (reason in Span.id_).
    Any --merge.* option overrides the merge block (e.g. --merge.accept.label_thresholds).
    """
    overrides = parse_cli_overrides(ctx)  # an unknown --option without a dot: exit 2
    check_range("--balance", balance, 0)
    given = [
        f"--{name.replace('_', '-')}"
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", None) in ("COMMANDLINE", "ENVIRONMENT")
    ]
    merger = build_merger(ctx.params, overrides, given)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    docs = read_docbin(input_path, spacy.blank("en").vocab)
    if docs and not any(merger.llm_key in doc.spans for doc in docs):
        # Nothing to merge: OUT would be the human annotation under a "merged" name.
        raise HybridNerError(
            f"{input_path}: no Doc has proposals in doc.spans[{merger.llm_key!r}]: run "
            "`hybrid-ner propose` on it first (or name the span group with --llm-key)"
        )
    docs = merger.merge_all(docs)
    if soft_targets:
        mixing = LabelMixing(balance=balance)
        mixing.attach_all(docs, mixing.fit(merger.stats))
    write_docbin(output_path, docs)
    added, rejected = (
        sum(len(d.spans[k]) for d in docs) for k in (LLM_ADDED_KEY, LLM_REJECTED_KEY)
    )
    msg.good(
        f"Merged {len(docs)} docs: {added} proposals added, {rejected} rejected → {output_path}"
    )


@app.command("stats")
def stats_cli(
    input_path: Path = typer.Argument(..., help="DocBin with proposals, merged or not"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the figures as JSON"),
    llm_key: str = LLM_KEY_OPT,
    balance: float = BALANCE,
    calibration: Optional[Path] = typer.Option(None, help="Dev set after propose: calibrate"),
) -> None:
    """Per label: counts, rejections by reason, precision vs the human, λ and class
    shares (an unmerged file merged in memory); then the calibration and ω of the targets."""
    check_range("--balance", balance, 0)
    check_outputs({"--json": json_path}, [input_path, calibration])
    docs = read_docbin(input_path, spacy.blank("en").vocab)
    # Calibrate on the Docs as before any merge, as the training reader does.
    before = [doc.copy() if HUMAN_KEY in doc.spans else doc for doc in docs]
    for doc in (doc for doc in before if HUMAN_KEY in doc.spans):
        doc.set_ents(human_spans(doc), default="outside" if is_human_annotated(doc) else "missing")
    fitted = CalibratedMixing(calibration=calibration).fit(before, llm_key)
    merger = Merger(llm_key=llm_key)
    if any(LLM_ADDED_KEY in doc.spans for doc in docs):
        merger.fit(docs)
    else:
        msg.info(f"{input_path} is not merged yet: merging in memory with the default settings")
        merger.merge_all(docs)
    lambdas = LabelMixing(balance=balance).fit(merger.stats)
    summary = summarize_merge(docs, merger.stats, lambdas, llm_key=llm_key)
    rows = [
        [
            label,
            *(s[key] for key in ("human", "proposed", "added", "rejected")),
            *(s["rejected_by_reason"].get(reason, 0) for reason in REASONS),
            *("-" if s[key] is None else f"{s[key]:.2f}" for key in FIGURES),
            *(f"{s[key]:.1%}" for key in ("share_human", "share_llm", "share_merged")),
        ]
        for label, s in summary.items()
    ]
    msg.table(rows, header=SUMMARY_HEADER, divider=True)
    biased = fitted.calibration is None or fitted.calibration.biased
    (msg.warn if biased else msg.info)(fitted.describe())
    if json_path is not None:
        data = {"input": str(input_path), "docs": len(docs), "labels": summary}
        write_json(json_path, {**data, "calibration": fitted.summary()})
        msg.good(f"Wrote {json_path}")
