"""hybrid-ner: augment incomplete NER annotation with LLM proposals.

Importing the package is cheap; the registered functions are loaded through
entry points (``spacy_readers``, ``spacy_factories``, ``thinc_llm_*``...) so
that configs can name them without ``--code``.
"""
from .about import __version__

__all__ = ["__version__"]
