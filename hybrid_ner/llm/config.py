"""Proposal pipelines from config: the built-in default, files, overrides.

A proposal config is an ordinary spaCy config whose pipeline has one
``llm`` component (spacy-llm's factory with ``hybrid_ner`` task and model),
so ``spacy assemble`` and ``spacy.util.load_model_from_config`` work on it.
The default (no config file) is the embedded local LLM, single query,
zero-shot unless an example pool is given.

This module is the one place that reads and edits proposal configs: the
CLI names settings by their dotted paths and goes through
:func:`apply_overrides` (edits) and :func:`setting` (reads, with the
registered functions' defaults where the config leaves a value out).
"""

import copy
import inspect
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from confection import Config
from spacy.language import Language
from spacy.util import load_model_from_config, registry
from spacy.vocab import Vocab
from spacy_llm.pipeline.llm import DEFAULT_CACHE_CONFIG

from .. import overrides as overrides_module
from ..errors import HybridNerError
from .chat_model import DEFAULT_GENERATION
from .component import (  # noqa: F401 (names of the registered functions, used by the CLI)
    BUDGET,
    CLUSTERED_EXAMPLES,
    DEFAULT_PROPOSER_CONFIG,
    LLAMA_CPP,
    OPENAI_COMPATIBLE,
    PER_TYPE,
    PROMPT_CACHE,
    SENTENCE_EMBEDDER,
    SIMILAR_EXAMPLES,
    SINGLE_QUERY,
    WHEEL_WEIGHTS,
)

COMPONENT = "llm"
ROOT = f"components.{COMPONENT}"
#: The settings the CLI reads or sets, by dotted path.
LABELS = f"{ROOT}.task.labels"
LABEL_DEFINITIONS = f"{ROOT}.task.label_definitions"
PROMPT = f"{ROOT}.task.prompt"
EXAMPLES = f"{ROOT}.task.examples"
POOL = f"{EXAMPLES}.pool"
K = f"{EXAMPLES}.k"
CLUSTERS = f"{EXAMPLES}.clusters"
MODEL = f"{ROOT}.model"
CACHE = f"{MODEL}.cache"
CACHE_PATH = f"{CACHE}.path"
BUDGET_BLOCK = f"{MODEL}.budget"

#: The built-in proposal config: the default proposal component
#: (:data:`~hybrid_ner.llm.component.DEFAULT_PROPOSER_CONFIG`) in an English
#: pipeline.
DEFAULT_CONFIG = Config(
    {
        "nlp": {"lang": "en", "pipeline": [COMPONENT]},
        "components": {COMPONENT: {"factory": "llm", **DEFAULT_PROPOSER_CONFIG}},
    }
).to_str()

# Keys of the examples block every retriever takes.
_SHARED_EXAMPLES_KEYS = ("pool", "k", "embedder")
# Keys of the model block that do not depend on the backend.
_SHARED_MODEL_KEYS = ("generation", "cache", "budget", "system_prompt")

#: Blocks an override may set a key in even when the config lacks them: what
#: building the pipeline would fill in (the registered defaults).
DEFAULT_BLOCKS: Dict[str, Dict[str, Any]] = {
    f"{ROOT}.cache": DEFAULT_CACHE_CONFIG,
    f"{ROOT}.task.examples.embedder": {"@llm_misc": SENTENCE_EMBEDDER},
    f"{MODEL}.weights": {"@llm_misc": WHEEL_WEIGHTS},
    f"{MODEL}.generation": DEFAULT_GENERATION,
    CACHE: {"@llm_misc": PROMPT_CACHE},
    BUDGET_BLOCK: {"@llm_misc": BUDGET},
}


def load_config(
    path: Optional[Union[str, Path]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    interpolate: bool = True,
) -> Config:
    """The proposal config from a file, or the built-in default, with
    dotted overrides applied before variables are interpolated (as
    ``spacy train`` does).

    path (Optional[Union[str, Path]]): The config file; None for the default.
    overrides (Optional[Mapping[str, Any]]): Dotted path → value; see
        :func:`apply_overrides`.
    interpolate (bool): Resolve ``${...}`` variables.
    RETURNS (Config): The config.
    RAISES (HybridNerError): If the file is missing or not a valid config,
        or an override names no section of it.
    """
    where = str(path) if path is not None else "default config"
    try:
        if path is None:
            config = Config().from_str(DEFAULT_CONFIG, interpolate=False)
        else:
            path = Path(path)
            if not path.is_file():
                raise HybridNerError(f"{path}: config file not found")
            config = Config().from_disk(path, interpolate=False)
    except HybridNerError:
        raise
    except Exception as err:
        raise HybridNerError(f"{where}: invalid config ({_one_line(err)})") from None
    apply_overrides(config, overrides or {}, where)
    if not interpolate:
        return config
    try:
        return config.interpolate()
    except Exception as err:
        raise HybridNerError(f"{where}: invalid config ({_one_line(err)})") from None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def apply_overrides(config: Config, overrides: Mapping[str, Any], where: str = "config") -> Config:
    """Set dotted paths in the proposal config (in place): see
    :func:`hybrid_ner.overrides.apply_overrides`; the prompt cache and the
    budget blocks (``DEFAULT_BLOCKS``) are created when missing.

    RAISES (OptionError): If a path names no section of the config.
    """
    overrides_module.apply_overrides(config, overrides, where, DEFAULT_BLOCKS)
    return config


def use_backend(config: Config, registered: str) -> Config:
    """Switch the config's model to another registered backend (in place),
    keeping the backend-independent settings (generation, cache, budget,
    system prompt); a model block of that backend is kept as it is."""
    _model_block(config)  # (a clear error if there is none)
    component = config["components"][COMPONENT]
    _use_registered(component, "model", "@llm_models", registered, _SHARED_MODEL_KEYS)
    return config


def use_examples(config: Config, registered: str) -> Config:
    """Switch the config's example retriever to another registered one (in
    place), keeping the pool, k and embedder; a block of that retriever is
    kept as it is."""
    task = config["components"][COMPONENT].setdefault("task", {})
    _use_registered(task, "examples", "@llm_misc", registered, _SHARED_EXAMPLES_KEYS)
    return config


def _use_registered(
    parent: Dict[str, Any], name: str, registry_key: str, registered: str, keep: Sequence[str]
) -> None:
    """Replace the block ``parent[name]`` by one of another registered
    function with the ``keep`` settings of the old one, unless it is one already."""
    block = parent.get(name) or {}
    if block.get(registry_key) != registered:
        new_block: Dict[str, Any] = {registry_key: registered}
        new_block.update({key: block[key] for key in keep if key in block})
        parent[name] = new_block


def use_openai_compatible(
    config: Config, base_url: str, model: str, api_key_env: Optional[str]
) -> Config:
    """Point the config's model at an OpenAI-compatible server, keeping the
    backend-independent settings (generation, cache, budget)."""
    use_backend(config, OPENAI_COMPATIBLE)
    config["components"][COMPONENT]["model"].update(
        {"base_url": base_url, "model": model, "api_key_env": api_key_env}
    )
    return config


def set_value(config: Config, dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in the config, creating sections as needed."""
    node = config
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def setting(config: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """The value at a dotted path of the config; where the config leaves it
    out, the default of the registered function whose block holds it (what
    building the pipeline fills in).

    config (Mapping[str, Any]): The proposal config.
    dotted (str): E.g. ``"components.llm.task.examples.k"``.
    default (Any): The value where neither the config nor a registered
        function says (e.g. a missing block).
    RETURNS (Any): The value.
    """
    *parents, last = dotted.split(".")
    node: Any = config
    for part in parents:
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return default
    if last in node:
        return node[last]
    promise = next((key for key in node if str(key).startswith("@")), None)
    if promise is None:
        return default
    try:
        function = registry.get(promise[1:], node[promise])
    except Exception:  # an unknown function: building the pipeline reports it
        return default
    parameter = inspect.signature(function).parameters.get(last)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return default
    return copy.deepcopy(parameter.default)


def chat_model(nlp: Language) -> Any:
    """The model of the pipeline's proposal component: a
    :class:`~hybrid_ner.llm.chat_model.ChatModel` for the ``hybrid_ner``
    models (cache, usage, progress, prefetch), else spacy-llm's model.

    spacy-llm 0.7.4's ``LLMWrapper`` has no public accessor for its model:
    this is the one place that reads its ``_model``.
    """
    return getattr(nlp.get_pipe(COMPONENT), "_model", None)


def _model_block(config: Config) -> Dict[str, Any]:
    try:
        return config["components"][COMPONENT]["model"]
    except KeyError:
        raise HybridNerError(f"The config has no [components.{COMPONENT}.model] section") from None


def build_pipeline(config: Config, vocab: Union[Vocab, bool] = True) -> Language:
    """Build the proposal pipeline.

    config (Config): The proposal config.
    vocab (Union[Vocab, bool]): A Vocab to share (e.g. that of Docs already
        read), or True for a new one.
    RETURNS (Language): The pipeline.
    RAISES (HybridNerError): For config errors.
    """
    if COMPONENT not in config.get("components", {}):
        raise HybridNerError(f"The proposal config needs a [components.{COMPONENT}] block")
    try:
        return load_model_from_config(config, vocab=vocab, auto_fill=True, validate=True)
    except HybridNerError:
        raise
    except Exception as err:  # confection's validation errors are long but precise
        raise HybridNerError(f"Invalid proposal config: {' '.join(str(err).split())}") from None
