"""Human silence as evidence on a sample of tokens only (after Li, Liu & Shi,
ICLR 2021, with tokens for spans), drawn once per Doc and seeded by it."""

import math
from dataclasses import dataclass

import numpy
from spacy.tokens import Doc
from spacy.util import registry

from ...errors import HybridNerError
from ...simulation.omissions import doc_rng
from ..reliability import human_spans, is_human_annotated

#: λ: sampled silent tokens per token of the sentence (Li et al. 2021).
DEFAULT_NEGATIVE_RATE = 0.35


@dataclass(frozen=True)
class NegativeSampling:
    """Which silent tokens of a Doc count as evidence (:func:`create_negative_sampling`)."""

    rate: float = DEFAULT_NEGATIVE_RATE
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise HybridNerError(f"negative_sampling: rate must be in [0, 1], got {self.rate}")

    def silence_mask(self, doc: Doc) -> numpy.ndarray:
        """Per token, whether the human's silence there counts as evidence."""
        mask = numpy.zeros((len(doc),), dtype=bool)
        if not is_human_annotated(doc):
            return mask
        inside = {i for span in human_spans(doc) for i in range(span.start, span.end)}
        silent = [t.i for t in doc if t.i not in inside and t.ent_iob != 0]
        wanted = min(len(silent), math.ceil(self.rate * len(doc)))
        mask[doc_rng(doc, self.seed, "negative").sample(silent, wanted)] = True
        return mask


@registry.misc("hybrid_ner.negative_sampling.v1")
def create_negative_sampling(
    rate: float = DEFAULT_NEGATIVE_RATE, seed: int = 0
) -> NegativeSampling:
    """Human silence as evidence on ⌈rate·n⌉ silent tokens of a sentence of n (Li et al. 2021)."""
    return NegativeSampling(rate, seed)
