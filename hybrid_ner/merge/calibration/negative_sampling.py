"""``hybrid_ner.negative_sampling.v1``: human silence as evidence on a sample of tokens only.

Negative sampling after Li, Liu & Shi (ICLR 2021, "Empirical Analysis of
Unlabeled Entity Problem in Named Entity Recognition"): of the tokens the
human left silent only a random sample is trained as "outside", the rest get
no target from the human at all, so an omitted entity is rarely taught as
"no entity". Li et al. sample ⌈λ·n⌉ negative *spans* per sentence of n
tokens (λ = 0.35 in their experiments); our NER tags tokens, so we sample
⌈λ·n⌉ of the sentence's silent *tokens*.

It is an option of the calibrated targets (the ``negative_sampling`` block of
``hybrid_ner.calibrated_mixing.v1``): human silence counts as evidence (an
entity there is ω times less likely, :mod:`.evidence`) on the sampled tokens
only; the annotator's evidence, if any, applies everywhere. With no annotator
and ω = 0 it is Li et al.'s method (the ``human-negsample`` condition).

The sample is drawn once per Doc, seeded by the Doc itself (like the omission
simulation): spaCy reuses the training Examples across epochs, so unlike Li
et al. it is not redrawn every epoch.
"""

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
    """Which silent tokens of a Doc count as evidence.

    rate (float): λ, sampled silent tokens per token of the sentence.
    seed (int): Seed of the per-Doc draws.
    """

    rate: float = DEFAULT_NEGATIVE_RATE
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise HybridNerError(f"negative_sampling: rate must be in [0, 1], got {self.rate}")

    def silence_mask(self, doc: Doc) -> numpy.ndarray:
        """Per token, whether the human's silence there counts as evidence:
        ⌈λ·n⌉ of the silent tokens (all of them if fewer), drawn per Doc.

        doc (Doc): Human annotation in ``doc.ents`` (``doc.spans["human"]`` if merged).
        RETURNS (numpy.ndarray): Booleans, one per token.
        """
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
    """Human silence as evidence on a sample of the silent tokens (Li et al. 2021).

    rate (float): λ: ⌈λ·n⌉ silent tokens of a sentence of n tokens count as
        "outside" evidence, the others carry none from the human.
    seed (int): Seed of the draws (per Doc).
    """
    return NegativeSampling(rate, seed)
