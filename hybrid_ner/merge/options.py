"""The merge settings a command line describes, resolved like a training config.

The ``merge`` command's options are names for paths of a ``[merge]`` block
(``hybrid_ner.Merger.v1``); dotted overrides (``--merge.accept.prior 0.3``)
are applied on top, and the block is resolved by spaCy's registry, so the
command builds exactly the Merger a config with the same values would.
"""

from typing import Any, Dict, Iterable, Mapping, Optional

from confection import Config
from spacy.util import registry

from ..errors import HybridNerError, OptionError
from .acceptance import accept_policy_choices, accept_policy_name
from .merger import OVERLAP_RULES, UNCOVERED, Merger

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


def merge_flag_values(
    accept: str,
    labels: str,
    min_precision: float,
    min_support: int,
    overlap: str,
    uncovered: str,
    seed: int,
    llm_key: str,
) -> Dict[str, Any]:
    """The config values (by dotted path, ``MERGE_FLAG_PATHS``) the options
    describe; their ranges are the command's to check. ``accept`` names a
    registered policy: ``hybrid_ner.accept_<accept>.v1``.

    RETURNS (Dict[str, Any]): Dotted path → value.
    RAISES (HybridNerError): For an unknown or incomplete choice.
    """
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
    return {MERGE_FLAG_PATHS[flag]: value for flag, value in flags.items()}


def resolve_merger(
    values: Mapping[str, Any],
    overrides: Optional[Mapping[str, Any]] = None,
    given: Optional[Iterable[str]] = None,
) -> Merger:
    """The Merger the option values and dotted overrides describe: the values
    fill the ``[merge]`` block, the overrides are applied on top, and the
    block is resolved as in a training config.

    values (Mapping[str, Any]): From :func:`merge_flag_values`.
    overrides (Optional[Mapping[str, Any]]): Dotted path → value.
    given (Optional[Iterable[str]]): The options the user typed (the others
        are defaults, which an override may replace); None for all.
    RETURNS (Merger): The resolved ``hybrid_ner.Merger.v1``.
    RAISES (HybridNerError): For an override that names no setting or
        repeats a typed option, or a setting the registered functions refuse.
    """
    from ..overrides import apply_overrides, check_no_conflicts

    overrides = dict(overrides or {})
    typed = set(MERGE_FLAG_PATHS) if given is None else set(given)
    check_no_conflicts(
        {MERGE_FLAG_PATHS[f]: None for f in typed if f in MERGE_FLAG_PATHS},
        overrides,
        MERGE_FLAG_PATHS,
    )
    config = Config({"merge": {"@misc": "hybrid_ner.Merger.v1"}})
    apply_overrides(config, {**values, **overrides}, "the merge settings")
    unknown = sorted(key for key in config if key != "merge")
    if unknown:
        raise OptionError(
            f"--{unknown[0]}...: merge takes overrides of the [merge] block only "
            "(e.g. --merge.accept.prior 0.3)"
        )
    try:
        return registry.resolve(config, validate=True)["merge"]
    except Exception as err:  # confection's validation errors span lines
        raise HybridNerError(f"Invalid merge settings: {' '.join(str(err).split())}") from None
