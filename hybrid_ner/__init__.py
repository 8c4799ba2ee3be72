"""hybrid-ner: augment incomplete NER annotation with LLM proposals. Registered
functions load through entry points, so configs name them without ``--code``."""

__version__ = "0.1.0"

from .training import checkpoints  # noqa: F401 - registers hybrid_ner.BestAfterStartLogger.v1 (named by configs/ner*.cfg)
from .training.sourcing import SourcingError, add_trained_ner

__all__ = ["__version__", "add_trained_ner", "SourcingError"]
