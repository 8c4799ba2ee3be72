"""The ``spacy train`` reader that merges proposals and mixes labels on the fly.

It reads a gold + proposals DocBin (human ``doc.ents``, proposals in
``doc.spans["llm"]``) and gives each Doc its training targets; the predicted
Doc gets the reference's exact tokens, so per-token targets align one to one.

* ``mixing = null``: the merge (:mod:`hybrid_ner.merge.merger`, reliability
  estimated on the whole file); the NER trains on the merged ``doc.ents``.
* λ label mixing (``hybrid_ner.label_mixing.v1``): the merge, then the
  label-mixing targets of each merged Doc (:mod:`hybrid_ner.merge.mixing`).
* calibrated evidence (``hybrid_ner.calibrated_mixing.v1``, recommended): no
  merge. The evidence reads the human annotation and the proposals directly
  (:mod:`hybrid_ner.merge.calibration.evidence`, the human winning where they
  overlap), so of the ``merger`` block only ``llm_key`` applies: ``accept``,
  ``overlap`` and ``uncovered`` would have no effect on the targets and are
  refused. With ``annotator = false`` the proposals are ignored: the LLM-free
  treatments of human silence (softened by ω; negative sampling).

Conditions of the paper, all with the same NER (see configs/ner_soft*.cfg):
human-only = ``hybrid_ner.SimulatedAnnotationCorpus.v1`` on the same file
(same tokens, proposals ignored); hybrid-random = this reader with
``merger.overlap = "random"`` and no mixing; hybrid-label-mixing = this
reader with a ``mixing`` block.
"""

from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry
from wasabi import msg

from ..corpus import read_docbin
from ..errors import HybridNerError
from ..merge.acceptance import AcceptAll
from ..merge.calibration.mixing import CalibratedMixing, FittedEvidence
from ..merge.merger import DEFAULT_OVERLAP, DEFAULT_UNCOVERED, Merger
from ..merge.mixing import LabelMixing
from .readers import examples_from_docs

#: What a ``mixing`` block may be.
Mixing = Union[CalibratedMixing, LabelMixing, None]

#: The merge settings each kind of targets leaves without effect, and why:
#: offered there, they would not do what they say, so they are refused.
_NO_EFFECT = {
    CalibratedMixing: (
        ("accept", "overlap", "uncovered"),
        "calibrated targets read the proposals as evidence, without a merge "
        "(of the merger block only llm_key applies)",
    ),
    LabelMixing: (
        ("overlap",),
        "λ label mixing mixes every candidate of an overlap, whichever the merge added",
    ),
}
_DEFAULTS = {"accept": AcceptAll(), "overlap": DEFAULT_OVERLAP, "uncovered": DEFAULT_UNCOVERED}


class MergedCorpus:
    """Callable reader: ``nlp`` → merged (and mixed) training Examples.

    path (Path): The gold + proposals DocBin.
    merger (Merger): Merge settings; fitted on the file at each read. With
        calibrated evidence only its ``llm_key`` applies (no merge).
    mixing (Mixing): Calibrated evidence (recommended; with ``annotator``
        off the LLM-free treatments of silence), λ label mixing, or None for
        hard one-hot targets from the merged ``doc.ents``.
    limit (int): Use the first ``limit`` Docs only (0: all).
    RAISES (HybridNerError): For merge settings the targets would ignore.
    """

    def __init__(
        self,
        path: Path,
        merger: Merger,
        mixing: Mixing = None,
        limit: int = 0,
    ) -> None:
        for kind, (names, why) in _NO_EFFECT.items():
            ignored = [name for name in names if getattr(merger, name) != _DEFAULTS[name]]
            if isinstance(mixing, kind) and ignored:
                raise HybridNerError(
                    f"{path}: {why}, so merger.{', merger.'.join(ignored)} would have no "
                    "effect on the targets: leave it at its default (or train on the merge "
                    "itself with mixing = null)"
                )
        self.path = path
        self.merger = merger
        self.mixing = mixing
        self.limit = limit
        self._cache: Optional[Tuple[Tuple[int, Optional[int]], List[Doc]]] = None
        #: The calibration of the last read (calibrated mixing only).
        self.fitted: Optional[FittedEvidence] = None
        #: λ per label of the last read (λ label mixing only).
        self.lambdas: Optional[Dict[str, float]] = None

    def __call__(self, nlp: Language) -> Iterator[Example]:
        # spacy train calls the reader once per epoch: read, merge and mix once
        # (reading span groups dominates the cost), then only make new Examples.
        key = (id(nlp.vocab), self.path.stat().st_mtime_ns if self.path.exists() else None)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._read(nlp))
        return examples_from_docs(nlp, self._cache[1])

    def _read(self, nlp: Language) -> List[Doc]:
        docs = read_docbin(self.path, nlp.vocab)
        if self.limit > 0:
            docs = docs[: self.limit]
        if not docs:
            raise HybridNerError(f"{self.path}: the corpus holds no documents")
        if isinstance(self.mixing, CalibratedMixing):
            # No merge: the evidence needs the human's own silence and gaps, and
            # reads the proposals itself.
            self.fitted = self.mixing.fit(docs, self.merger.llm_key)
            msg.info(f"{self.path.name}: {self.fitted.describe()}")
            return self.mixing.attach_all(docs, self.fitted)
        self.merger.merge_all(docs)
        if isinstance(self.mixing, LabelMixing):
            lambdas = self.mixing.fit(self.merger.stats)
            self.lambdas = dict(lambdas)
            msg.info(
                f"Label mixing λ for {self.path.name}: "
                + ", ".join(f"{k} {v:.2f}" for k, v in lambdas.items())
            )
            self.mixing.attach_all(docs, lambdas)
        return docs


@registry.readers("hybrid_ner.MergedCorpus.v1")
def create_merged_corpus(
    path: Path,
    merger: Optional[Merger] = None,
    mixing: Mixing = None,
    limit: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """Read a gold + proposals DocBin, merge with human priority, optionally mix labels.

    path (Path): The DocBin (human ``doc.ents``, proposals in ``doc.spans["llm"]``).
    merger (Optional[Merger]): "hybrid_ner.Merger.v1" settings (acceptance,
        overlap rule, uncovered tokens, seed); None for the defaults. With
        calibrated evidence only ``llm_key`` applies.
    mixing (Mixing):
        "hybrid_ner.calibrated_mixing.v1" (calibrated evidence, recommended;
        ``annotator = false``: human silence softened by ω, LLM-free),
        "hybrid_ner.label_mixing.v1" (λ per label), or None to train on the
        merged ``doc.ents`` (hard labels).
    limit (int): Use the first ``limit`` Docs only (0: all).
    """
    return MergedCorpus(Path(path), merger if merger is not None else Merger(), mixing, limit)
