"""Proposal configs (a spaCy config with one spacy-llm ``llm`` component) and building them."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import spacy
from confection import Config
from spacy.language import Language
from spacy.util import registry
from spacy.vocab import Vocab
from spacy_llm.pipeline.llm import DEFAULT_CACHE_CONFIG, LLMWrapper, make_llm
from wasabi import msg

from .. import overrides as overrides_module
from ..errors import HybridNerError
from . import component as registered
from .cache import DEFAULT_CACHE_PATH
from .chat_model import DEFAULT_GENERATION
from .labels import parse_labels, read_label_definitions
from .openai_client import OpenAICompatibleClient

COMPONENT = "llm"
ROOT = f"components.{COMPONENT}"
LABELS = f"{ROOT}.task.labels"
PROMPT = f"{ROOT}.task.prompt"
EXAMPLES = f"{ROOT}.task.examples"
MODEL = f"{ROOT}.model"
CACHE = f"{MODEL}.cache"
BUDGET_BLOCK = f"{MODEL}.budget"

#: The built-in proposal config: the default proposal component in an English pipeline.
DEFAULT_CONFIG = Config(
    {
        "nlp": {"lang": "en", "pipeline": [COMPONENT]},
        "components": {COMPONENT: {"factory": "llm", **registered.DEFAULT_PROPOSER_CONFIG}},
    }
).to_str()
#: Blocks an override may set a key in when the config lacks them (the registered defaults).
DEFAULT_BLOCKS: Dict[str, Dict[str, Any]] = {
    f"{ROOT}.cache": DEFAULT_CACHE_CONFIG,
    f"{EXAMPLES}.embedder": {"@llm_misc": registered.SENTENCE_EMBEDDER},
    f"{MODEL}.weights": {"@llm_misc": registered.WHEEL_WEIGHTS},
    f"{MODEL}.generation": DEFAULT_GENERATION,
    CACHE: {"@llm_misc": registered.PROMPT_CACHE},
    BUDGET_BLOCK: {"@llm_misc": registered.BUDGET},
}
QUERY_FORMATS = {"single": registered.SINGLE_QUERY, "per-type": registered.PER_TYPE}
#: The API key variable with --base-url when --api-key-env is not given.
DEFAULT_API_KEY_ENV = OpenAICompatibleClient.DEFAULT_API_KEY_ENV
#: The convenience options of ``propose``: each names one config path and is
#: applied as a dotted override; giving both for one path is an error (docs/cli.md).
FLAG_PATHS: Dict[str, str] = {
    "--labels": LABELS,
    "--label-definitions": f"{ROOT}.task.label_definitions",
    "--query": PROMPT,
    "--examples": f"{EXAMPLES}.pool",
    "--k": f"{EXAMPLES}.k",
    "--base-url": f"{MODEL}.base_url",
    "--model": f"{MODEL}.model",
    "--api-key-env": f"{MODEL}.api_key_env",
    "--concurrency": f"{MODEL}.concurrency",
    "--threads": f"{MODEL}.n_threads",
    "--cache": f"{CACHE}.path",
    "--recorded": f"{CACHE}.recorded",
    "--max-requests": f"{BUDGET_BLOCK}.max_requests",
    "--max-tokens": f"{BUDGET_BLOCK}.max_tokens",
    "--max-cost": f"{BUDGET_BLOCK}.max_cost",
    "--price-in": f"{BUDGET_BLOCK}.price_per_1k_input",
    "--price-out": f"{BUDGET_BLOCK}.price_per_1k_output",
}


def _invalid(where: str, err: BaseException) -> HybridNerError:
    return HybridNerError(f"{where}: invalid config ({' '.join(str(err).split())})")


def _read(path: Optional[Union[str, Path]]) -> Config:
    """The proposal config of a file (None: the built-in default), not interpolated."""
    if path is not None and not Path(path).is_file():
        raise HybridNerError(f"{path}: config file not found")
    try:
        if path is None:
            return Config().from_str(DEFAULT_CONFIG, interpolate=False)
        return Config().from_disk(path, interpolate=False)
    except Exception as err:
        raise _invalid(str(path or "default config"), err) from None


def _interpolate(config: Config, overrides: Mapping[str, Any], where: str) -> Config:
    """Apply dotted overrides, then interpolate variables, as ``spacy train`` does."""
    overrides_module.apply_overrides(config, overrides, where, DEFAULT_BLOCKS)
    try:
        return config.interpolate()
    except Exception as err:
        raise _invalid(where, err) from None


def load_config(
    path: Optional[Union[str, Path]] = None, overrides: Optional[Mapping[str, Any]] = None
) -> Config:
    """The interpolated proposal config of a file (None: the built-in default)."""
    return _interpolate(_read(path), overrides or {}, str(path or "default config"))


def _block(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def configure(
    config_path: Optional[Path], flags: Mapping[str, Any], overrides: Mapping[str, Any]
) -> Config:
    """The config of ``propose``: its options (flag → value or None) and dotted overrides
    applied as one set; ``--base-url`` switches to the OpenAI-compatible backend."""
    where = str(config_path or "the default config")
    config = _read(config_path)
    model = _block(config, MODEL)
    if not isinstance(model, dict):
        raise HybridNerError(f"{config_path or 'config'}: no [components.llm.model] block")
    given = {flag: value for flag, value in flags.items() if value is not None}
    if ("--base-url" in given) != ("--model" in given):
        raise HybridNerError("--base-url and --model go together")
    backend = model.get("@llm_models")
    if "--base-url" in given:
        if backend != registered.OPENAI_COMPATIBLE:
            backend = registered.OPENAI_COMPATIBLE
            kept = ("generation", "cache", "budget", "system_prompt")
            model = {"@llm_models": backend, **{k: model[k] for k in kept if k in model}}
            config["components"][COMPONENT]["model"] = model
        given.setdefault("--api-key-env", DEFAULT_API_KEY_ENV)
    for flag in ("--concurrency", "--api-key-env"):
        if flag in given and backend != registered.OPENAI_COMPATIBLE:
            msg.warn(f"{flag} applies to OpenAI-compatible backends (--base-url); ignored")
            del given[flag]
    if "--threads" in given and backend != registered.LLAMA_CPP:
        raise HybridNerError(f"--threads applies to the embedded LLM ({registered.LLAMA_CPP}) only")
    cache = _block(config, CACHE)
    has_cache = isinstance(cache, dict) and cache.get("@llm_misc") == registered.PROMPT_CACHE
    values: Dict[str, Any] = {}
    for flag, value in given.items():
        value = str(value) if isinstance(value, Path) else value
        if flag == "--labels":
            value = parse_labels(value)
        elif flag == "--label-definitions":
            value = read_label_definitions(value)
        elif flag == "--query":
            if value not in QUERY_FORMATS:
                raise HybridNerError(f"Unknown --query {value!r}: use single or per-type")
            current = _block(config, PROMPT)
            if isinstance(current, dict) and current.get("@llm_misc") == QUERY_FORMATS[value]:
                continue  # the config's own settings of that format stay
            value = {"@llm_misc": QUERY_FORMATS[value]}
        elif flag == "--recorded" and not value:  # "" clears it
            if not has_cache:
                continue
            value = None
        elif flag == "--recorded":
            if not Path(value).is_file():
                raise HybridNerError(f"{value}: recorded answers not found")
            cache_path = cache.get("path", DEFAULT_CACHE_PATH) if has_cache else None
            if "--cache" not in given and not cache_path:
                raise HybridNerError(
                    "--recorded replays answers through the prompt cache: "
                    "the config has none (give --cache)"
                )
        elif flag == "--cache" and not has_cache:  # replaces another cache
            values[CACHE] = {"@llm_misc": registered.PROMPT_CACHE}
        elif flag == "--api-key-env":
            value = value or None
        values[FLAG_PATHS[flag]] = value
    overrides_module.check_no_conflicts(values, overrides, FLAG_PATHS)
    return _interpolate(config, {**values, **overrides}, where)


@dataclass
class Proposer:
    """A built proposal pipeline: a blank ``nlp``, spacy-llm's component, task and model."""

    nlp: Language
    component: LLMWrapper
    task: Any
    model: Any


def build_proposer(config: Config, vocab: Optional[Vocab] = None) -> Proposer:
    """Resolve the interpolated proposal config once, sharing ``vocab`` if given."""
    component = config.get("components", {}).get(COMPONENT)
    if not isinstance(component, dict):
        raise HybridNerError(f"The proposal config needs a [components.{COMPONENT}] block")
    lang = str(config.get("nlp", {}).get("lang") or "en")
    try:
        nlp = spacy.blank(lang, vocab=vocab or True)
    except ImportError:
        raise HybridNerError(f"[nlp] lang = {lang!r}: not a language spaCy knows") from None
    factory = component.get("factory", "llm")
    try:
        defaults = dict(Language.get_factory_meta(factory).default_config or {})
    except ValueError:
        raise HybridNerError(f"[components.{COMPONENT}] factory {factory!r} is unknown") from None
    settings = {**defaults, **{k: v for k, v in component.items() if k != "factory"}}
    try:
        built = registry.resolve(
            {k: settings[k] for k in ("task", "model", "cache")}, validate=True
        )
        save_io, validate = bool(settings.get("save_io")), settings.get("validate_types", True)
        wrapper = make_llm(
            nlp, COMPONENT, built["task"], built["model"], built["cache"], save_io, bool(validate)
        )
    except HybridNerError:
        raise
    except Exception as err:  # confection's validation errors are long but precise
        raise HybridNerError(f"Invalid proposal config: {' '.join(str(err).split())}") from None
    return Proposer(nlp, wrapper, built["task"], built["model"])
