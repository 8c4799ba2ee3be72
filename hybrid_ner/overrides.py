"""Dotted config overrides, as ``spacy train`` takes them (``--components.llm.model.n_ctx 8192``),
parsed from a command's extra options and applied to a config dict."""

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
    """Set dotted paths in a config, in place; shorter paths first, so a block can be
    replaced and then refined.

    default_blocks (Optional[Mapping]): Section path → template, for missing sections.
    RAISES (OptionError): If a path is not dotted or names no section.
    """
    for dotted in sorted(overrides, key=lambda key: key.count(".")):
        *parents, last = dotted.split(".")
        if not parents or not all(parents) or not last:
            why = "use --section.key value, e.g. --components.llm.model.n_ctx 8192"
            raise OptionError(f"--{dotted}: not a config path ({why})")
        node: Any = config
        for depth, part in enumerate(parents):
            if not isinstance(node.get(part), dict):
                section = ".".join(parents[: depth + 1])
                if section not in (default_blocks or {}):
                    why = f"{where} has no [{section}] section to set {last!r} in"
                    raise OptionError(f"--{dotted}: {why}")
                node[part] = copy.deepcopy(default_blocks[section])  # type: ignore[index]
            node = node[part]
        node[last] = copy.deepcopy(overrides[dotted])
    return config


def check_no_conflicts(
    values: Mapping[str, Any], overrides: Mapping[str, Any], flag_paths: Mapping[str, str]
) -> None:
    """Refuse a config path set by a convenience option (``flag_paths``: option → path) too."""
    for path in overrides:
        if path in values:
            flag = next((name for name, flag_path in flag_paths.items() if flag_path == path), path)
            raise OptionError(f"--{path} and {flag} set the same config value; give one")


def parse_cli_overrides(ctx: Any) -> Dict[str, Any]:
    """The dotted overrides in ``ctx.args``, then ``SPACY_CONFIG_OVERRIDES``, by ``spacy
    train``'s rules (``--a.b=v``, ``--a.b v``, ``--a.b``); anything else is a usage error."""
    env = shlex.split(os.environ.get(ENV_VARS.CONFIG_OVERRIDES, ""))
    return {**_parse(list(ctx.args), ctx.fail), **_parse(env, ctx.fail)}


def _parse(args: List[str], fail: Callable[[str], Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    while args:
        arg = args.pop(0)
        name, equals, value = arg[2:].partition("=")
        if not arg.startswith("--") or "." not in name:
            if arg.startswith("-"):
                fail(f"No such option: {arg.split('=', 1)[0]}")
            fail(f"Got unexpected extra argument ({arg})")
        if equals:  # spaCy reads "--a.b-c=v" as a.b_c
            name = name.replace("-", "_")
        else:
            value = args.pop(0) if args and not args[0].startswith("--") else "true"
        try:
            result[name] = srsly.json_loads(value)
        except ValueError:  # an unquoted string, as on a command line
            result[name] = value
    return result
