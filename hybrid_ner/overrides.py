"""Dotted config overrides, as ``spacy train`` takes them
(``--components.llm.model.n_ctx 8192``), applied to a config dict.

Every command reads them from the options typer does not know with
:func:`parse_cli_overrides` (``spacy train``'s rules), and their convenience
options are names for config paths applied the same way
(``hybrid_ner.llm.config.FLAG_PATHS``,
``hybrid_ner.cli.merge_commands.MERGE_FLAG_PATHS``).
"""

import copy
import os
import shlex
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional

import srsly
from spacy.util import ENV_VARS

from .errors import OptionError


def apply_overrides(
    config: MutableMapping[str, Any],
    overrides: Mapping[str, Any],
    where: str = "the config",
    default_blocks: Optional[Mapping[str, Dict[str, Any]]] = None,
) -> MutableMapping[str, Any]:
    """Set dotted paths in a config (in place), like spaCy's overrides: the
    section must exist; a dict value replaces a whole block (e.g.
    ``{"@llm_misc": "hybrid_ner.PerTypePrompt.v1"}``). Shorter paths are set
    first, so a block can be replaced and then refined.

    config (MutableMapping[str, Any]): The config (a confection Config or dict).
    overrides (Mapping[str, Any]): Dotted path → value.
    where (str): The config's name, for messages.
    default_blocks (Optional[Mapping[str, Dict[str, Any]]]): Sections created
        (from these templates) when a path needs them and the config lacks them.
    RETURNS (MutableMapping[str, Any]): The same config.
    RAISES (OptionError): If a path is not dotted or names no section.
    """
    default_blocks = default_blocks or {}
    for dotted in sorted(overrides, key=lambda key: key.count(".")):
        *parents, last = dotted.split(".")
        if not parents or not all(parents) or not last:
            raise OptionError(
                f"--{dotted}: not a config path (use --section.key value, e.g. "
                "--components.llm.model.n_ctx 8192)"
            )
        node: Any = config
        for depth, part in enumerate(parents):
            section = ".".join(parents[: depth + 1])
            child = node.get(part)
            if not isinstance(child, dict):
                if section not in default_blocks:
                    raise OptionError(
                        f"--{dotted}: {where} has no [{section}] section to set {last!r} in"
                    )
                child = copy.deepcopy(default_blocks[section])
                node[part] = child
            node = child
        node[last] = copy.deepcopy(overrides[dotted])
    return config


def check_no_conflicts(
    values: Mapping[str, Any], overrides: Mapping[str, Any], flag_paths: Mapping[str, str]
) -> None:
    """Refuse a config path set both by a convenience option and by a
    dotted override. RAISES (OptionError): Naming both."""
    for path in overrides:
        if path in values:
            flag = next((name for name, flag_path in flag_paths.items() if flag_path == path), path)
            raise OptionError(f"--{path} and {flag} set the same config value; give one")


def parse_cli_overrides(ctx: Any) -> Dict[str, Any]:
    """The dotted overrides among a command's extra options (typer's
    ``ctx.args``), read by ``spacy train``'s rules: ``--a.b=v``, ``--a.b v``
    or ``--a.b`` (true); values as JSON where they parse (srsly, as in a
    config), else strings. Overrides in ``SPACY_CONFIG_OVERRIDES`` apply on
    top, as in ``spacy train``.

    ctx (typer.Context): The command's context (``allow_extra_args``).
    RETURNS (Dict[str, Any]): Dotted path → value.
    RAISES (click.UsageError): For an option without a dot or a stray
        argument: a usage error (exit 2), like any unknown option.
    """
    cli = _parse(list(ctx.args), ctx.fail)
    env = _parse(shlex.split(os.environ.get(ENV_VARS.CONFIG_OVERRIDES, "")), ctx.fail)
    return {**cli, **env}


def _parse(args: List[str], fail: Callable[[str], Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, equals, value = arg[2:].partition("=")
        if not arg.startswith("--") or "." not in name:
            fail(
                f"No such option: {arg.split('=', 1)[0]}"
                if arg.startswith("-")
                else f"Got unexpected extra argument ({arg})"
            )
        if equals:  # spaCy reads "--a.b-c=v" as a.b_c
            name = name.replace("-", "_")
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
            i += 1
        else:
            value = "true"
        try:
            result[name] = srsly.json_loads(value)
        except ValueError:  # an unquoted string, as on a command line
            result[name] = value
        i += 1
    return result
