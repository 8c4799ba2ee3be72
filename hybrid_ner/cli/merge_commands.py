"""CLI commands of the merge step: ``merge`` and ``stats``.

The ``merge`` command's options are names for paths of a ``[merge]`` block
(``hybrid_ner.Merger.v1``, :data:`MERGE_FLAG_PATHS`); dotted overrides
(``--merge.accept.prior 0.3``) are applied on top, and the block is resolved
by spaCy's registry, so the command builds exactly the Merger a config with
the same values would. Options and output paths are checked before the input
is read; outputs are replaced only when complete (hybrid_ner.atomic).
"""

import inspect
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

import spacy
import typer
from confection import Config
from spacy.tokens import Doc
from spacy.util import registry
from wasabi import msg

from ..atomic import write_json
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError, OptionError
from ..layers import HUMAN_KEY, LLM_ADDED_KEY, LLM_KEY
from ..merge.acceptance import (
    DEFAULT_ACCEPT,
    DEFAULT_MIN_PRECISION,
    DEFAULT_MIN_SUPPORT,
    accept_policy_choices,
    accept_policy_name,
)
from ..merge.calibration.mixing import CalibratedMixing, FittedEvidence
from ..merge.merger import (
    DEFAULT_OVERLAP,
    DEFAULT_SEED,
    DEFAULT_UNCOVERED,
    OVERLAP_RULES,
    UNCOVERED,
    Merger,
)
from ..merge.mixing import DEFAULT_BALANCE, LabelMixing
from ..merge.reliability import human_spans, is_human_annotated
from ..merge.stats import SUMMARY_HEADER, summarize_merge, summary_table, summary_to_json
from ..overrides import apply_overrides, check_no_conflicts, parse_cli_overrides
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range

#: The options of ``merge``: each sets one path of the ``[merge]`` block
#: (``hybrid_ner.Merger.v1``), through the same mechanism as a dotted override
#: (``--merge.overlap first`` is ``--overlap first``; ``--merge.accept.prior 0.3``
#: has no option of its own). --labels applies to --accept labels;
#: --min-precision and --min-support to --accept reliable.
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


def _choices(names: Iterable[str]) -> str:
    """ "a, b or c"."""
    names = list(names)
    return " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


# Options shared by both commands.
LLM_KEY_OPT = typer.Option(LLM_KEY, "--llm-key", help="Span group holding the LLM proposals")
BALANCE = typer.Option(
    DEFAULT_BALANCE, help="Label mixing: class-imbalance correction exponent (0 = reliability only)"
)


def typed_options(ctx: typer.Context) -> List[str]:
    """The options given on the command line (not left at their default)."""
    typed = []
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            typed.append(f"--{name.replace('_', '-')}")
    return typed


def build_merger(
    accept: str,
    labels: str,
    min_precision: float,
    min_support: int,
    overlap: str,
    uncovered: str,
    seed: int,
    llm_key: str,
    overrides: Optional[Mapping[str, Any]] = None,
    given: Optional[Iterable[str]] = None,
) -> Merger:
    """The Merger the command-line options and dotted overrides describe: the
    options fill the ``[merge]`` block (:data:`MERGE_FLAG_PATHS`; ``accept``
    names ``hybrid_ner.accept_<accept>.v1``), the overrides are applied on
    top, and the block is resolved as in a training config.

    overrides (Optional[Mapping[str, Any]]): Dotted path → value.
    given (Optional[Iterable[str]]): The options the user typed (the others
        are defaults, which an override may replace); None for all.
    RETURNS (Merger): The resolved ``hybrid_ner.Merger.v1``.
    RAISES (HybridNerError): For bad options, an override that names no
        setting or repeats a typed option, or a setting the registered
        functions refuse.
    """
    check_range("--min-precision", min_precision, 0, 1)
    check_range("--min-support", min_support, 0)
    if not accept or accept_policy_name(accept) not in registry.misc:
        raise HybridNerError(
            f"Unknown --accept {accept!r}: use {_choices(accept_policy_choices())}"
        )
    if overlap not in OVERLAP_RULES:
        raise HybridNerError(
            f"Unknown --overlap {overlap!r}: use one of {', '.join(OVERLAP_RULES)}"
        )
    if uncovered not in UNCOVERED:
        raise HybridNerError(f"Unknown --uncovered {uncovered!r}: use {_choices(UNCOVERED)}")
    flags: Dict[str, Any] = {
        "--accept": {"@misc": accept_policy_name(accept)},
        "--overlap": overlap,
        "--uncovered": uncovered,
        "--seed": seed,
        "--llm-key": llm_key,
    }
    if accept == "labels":
        wanted = [label.strip() for label in labels.split(",") if label.strip()]
        if not wanted:
            raise HybridNerError("--accept labels needs --labels, e.g. --labels PER,LOC")
        flags["--labels"] = wanted
    elif accept == "reliable":
        flags.update({"--min-precision": min_precision, "--min-support": min_support})
    overrides = dict(overrides or {})
    typed = set(MERGE_FLAG_PATHS) if given is None else set(given)
    check_no_conflicts(
        {MERGE_FLAG_PATHS[f]: None for f in typed if f in MERGE_FLAG_PATHS},
        overrides,
        MERGE_FLAG_PATHS,
    )
    config = Config({"merge": {"@misc": "hybrid_ner.Merger.v1"}})
    values = {MERGE_FLAG_PATHS[flag]: value for flag, value in flags.items()}
    apply_overrides(config, {**values, **overrides}, "the merge settings")
    unknown = sorted(key for key in config if key != "merge")
    if unknown:
        raise OptionError(
            f"--{unknown[0]}...: merge takes overrides of the [merge] block only "
            "(e.g. --merge.accept.prior 0.3)"
        )
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
    _check_accept(merger.accept)
    return merger


def _check_accept(accept: Any) -> None:
    """Refuse an acceptance policy that cannot be called as one, ``accept(label,
    stats)``: a registered function of another kind would fail mid-merge."""
    try:
        inspect.signature(accept).bind("LABEL", None)
    except (TypeError, ValueError):
        raise HybridNerError(
            f"--merge.accept: a {type(accept).__name__} is not an acceptance policy "
            "(called as accept(label, stats)); use e.g. "
            '\'{"@misc": "hybrid_ner.accept_reliable.v1"}\' or --accept all|labels|reliable'
        ) from None


def _read(path: Path) -> List[Doc]:
    return read_docbin(path, spacy.blank("en").vocab)


@app.command("merge", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def merge_cli(
    ctx: typer.Context,
    input_path: Path = typer.Argument(
        ..., help="DocBin with human doc.ents and LLM proposals in doc.spans['llm']"
    ),
    output_path: Path = typer.Argument(
        ..., help="Output DocBin: merged doc.ents plus provenance span groups"
    ),
    accept: str = typer.Option(
        DEFAULT_ACCEPT,
        help="Label acceptance: all, labels (see --labels) or reliable (see --min-precision)",
    ),
    labels: str = typer.Option("", help="Comma-separated labels accepted with --accept labels"),
    min_precision: float = typer.Option(
        DEFAULT_MIN_PRECISION,
        help="--accept reliable: minimum LLM precision against the human, per label",
    ),
    min_support: int = typer.Option(
        DEFAULT_MIN_SUPPORT,
        help="--accept reliable: labels with fewer doubly annotated proposals are accepted",
    ),
    overlap: str = typer.Option(
        DEFAULT_OVERLAP, help=f"Rule for overlapping proposals: {', '.join(OVERLAP_RULES)}"
    ),
    uncovered: str = typer.Option(
        DEFAULT_UNCOVERED,
        help="Tokens in no entity: outside (no entity) or missing (ignored by the loss)",
    ),
    seed: int = typer.Option(DEFAULT_SEED, help="Seed of --overlap random"),
    llm_key: str = LLM_KEY_OPT,
    soft_targets: bool = typer.Option(
        False,
        "--soft-targets",
        help="Also store label-mixing targets in doc.user_data['tag_likelihoods']",
    ),
    balance: float = BALANCE,
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Merge LLM proposals into the human annotation, the human always winning.

    Human entities are kept as they are; a proposal is added only where it
    overlaps no human entity and its label is accepted. Provenance stays on
    each Doc: doc.spans["human"], ["llm_added"], ["llm_rejected"] (the reason
    in Span.id_).

    Any other option is an override of the [merge] block
    (hybrid_ner.Merger.v1), as in `spacy train`, e.g. --accept reliable
    --merge.accept.label_thresholds '{"MISC": 0.5}'; the options above are
    names for its paths (MERGE_FLAG_PATHS, docs/cli.md).
    """
    overrides = parse_cli_overrides(ctx)  # an unknown --option without a dot: exit 2
    merger = build_merger(
        accept,
        labels,
        min_precision,
        min_support,
        overlap,
        uncovered,
        seed,
        llm_key,
        overrides,
        typed_options(ctx),
    )
    llm_key = merger.llm_key
    check_range("--balance", balance, 0)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    docs = _read(input_path)
    if docs and not any(llm_key in doc.spans for doc in docs):
        # Nothing to merge: OUT would be the human annotation under a "merged" name.
        raise HybridNerError(
            f"{input_path}: no Doc has proposals in doc.spans[{llm_key!r}]: run "
            "`hybrid-ner propose` on it first (or name the span group with --llm-key)"
        )
    docs = merger.merge_all(docs)
    if soft_targets:
        mixing = LabelMixing(balance=balance)
        lambdas = mixing.fit(merger.stats)
        mixing.attach_all(docs, lambdas)
    write_docbin(output_path, docs)
    summary = summarize_merge(docs, merger.stats, llm_key=llm_key)
    added = sum(s.added for s in summary.values())
    rejected = sum(s.n_rejected for s in summary.values())
    msg.good(
        f"Merged {len(docs)} docs: {added} proposals added, {rejected} rejected → {output_path}"
    )


#: Columns of :func:`calibration_table`.
CALIBRATION_HEADER = (
    "label",
    "precision",
    "recall",
    "proposed",
    "gold",
    "LR proposed",
    "LR silence",
)


def as_before_merge(docs: List[Doc]) -> List[Doc]:
    """The Docs as the training reader fits the calibration on them (it does
    not merge): human ``doc.ents`` + proposals. A merged Doc is copied with its human entities
    (``doc.spans["human"]``) as ``doc.ents``, the rest outside (missing in a
    Doc the human did not annotate), so neither added proposals nor
    ``--uncovered missing`` change the estimate.

    docs (List[Doc]): Docs, merged or not; not changed.
    RETURNS (List[Doc]): The Docs, merged ones replaced by such copies.
    """
    result = []
    for doc in docs:
        if HUMAN_KEY in doc.spans:
            doc = doc.copy()
            annotated = is_human_annotated(doc)
            doc.set_ents(
                human_spans(doc) if annotated else [],
                default="outside" if annotated else "missing",
            )
        result.append(doc)
    return result


def calibration_table(fitted: FittedEvidence) -> List[List[object]]:
    """Rows for printing (see CALIBRATION_HEADER), from ``FittedEvidence.summary()``.

    fitted (FittedEvidence): A fitted calibration.
    RETURNS (List[List[object]]): One row per label, numbers formatted.
    """
    labels = fitted.summary()["labels"]
    return [
        [
            label,
            f"{v['precision']:.3f}",
            f"{v['recall']:.3f}",
            v["proposed"],
            v["gold"],
            f"{v['lr_proposed']:g}",
            f"{v['lr_silence']:g}",
        ]
        for label, v in labels.items()  # type: ignore[union-attr]
    ]


def show_calibration(fitted: FittedEvidence) -> None:
    """Print the calibration the calibrated training targets would use."""
    summary = fitted.summary()
    if fitted.calibration is None:
        msg.warn(fitted.describe())
        return
    if fitted.calibration.biased:
        msg.warn(
            "No --calibration: the calibrated training targets would fall back to a biased "
            "estimate against the human annotation (below; its omissions count as annotator "
            "errors). Give the dev set after `hybrid-ner propose` as --calibration."
        )
    msg.info(
        f"Calibration of doc.spans['{fitted.spans_key}'] from {summary['source']}"
        f"{' (BIASED)' if fitted.calibration.biased else ''}: {summary['tokens']} tokens, "
        f"position match {summary['position_match']:.3f}"
    )
    msg.table(calibration_table(fitted), header=CALIBRATION_HEADER, divider=True)
    msg.info(
        "Estimated omission rate of the human annotation: "
        f"{fitted.omission_rate:.3f} ({fitted.omission_source})"
    )


@app.command("stats")
def stats_cli(
    input_path: Path = typer.Argument(
        ..., help="DocBin with proposals, merged (hybrid-ner merge) or not"
    ),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the figures as JSON"),
    llm_key: str = LLM_KEY_OPT,
    balance: float = BALANCE,
    calibration: Optional[Path] = typer.Option(
        None,
        "--calibration",
        help="DocBin with clean gold doc.ents and the same annotator's proposals "
        "(the dev set after `hybrid-ner propose`): "
        "show the calibration the calibrated training targets would use",
    ),
) -> None:
    """Per label: human, proposed, added, rejected (by reason), the LLM's
    precision against the human, label-mixing λ, and the class distribution
    of human, LLM and merged labels.

    Then the calibration of the calibrated training targets
    (hybrid_ner.calibrated_mixing.v1): per label the annotator's precision,
    recall and likelihood ratios on the --calibration sample, and the
    estimated omission rate of the human annotation; without --calibration
    the biased estimate against the human annotation they would fall back to.

    A file that was not merged yet is merged in memory with the default
    settings; for other settings run `hybrid-ner merge` first.
    """
    check_range("--balance", balance, 0)
    check_outputs({"--json": json_path}, [input_path, calibration])
    if calibration is not None and not calibration.is_file():
        raise HybridNerError(
            f"{calibration}: calibration file not found (run `hybrid-ner propose` on the dev set)"
        )
    docs = _read(input_path)
    # Fitted on the human annotation + proposals, as the training reader does before its merge.
    fitted = CalibratedMixing(calibration=calibration).fit(as_before_merge(docs), llm_key)
    merger = Merger(llm_key=llm_key).fit(docs)
    if not any(LLM_ADDED_KEY in doc.spans for doc in docs):
        msg.info(f"{input_path} is not merged yet: merging in memory with the default settings")
        merger.merge_all(docs, fit=False)
    lambdas = LabelMixing(balance=balance).fit(merger.stats)
    summary = summarize_merge(docs, merger.stats, lambdas, llm_key=llm_key)
    msg.table(summary_table(summary), header=SUMMARY_HEADER, divider=True)
    show_calibration(fitted)
    if json_path is not None:
        write_json(
            json_path,
            {
                "input": str(input_path),
                "docs": len(docs),
                "labels": summary_to_json(summary),
                "calibration": fitted.summary(),
            },
        )
        msg.good(f"Wrote {json_path}")
