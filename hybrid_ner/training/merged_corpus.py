"""The ``spacy train`` reader that merges proposals and mixes labels on the fly.

It reads a gold + proposals DocBin (human ``doc.ents``, proposals in
``doc.spans["llm"]``) and gives each Doc its training targets:

* ``mixing = null``: the merge (:mod:`hybrid_ner.merge.merger`); the NER
  trains on the merged ``doc.ents``;
* λ label mixing (``hybrid_ner.label_mixing.v1``): the merge, then the
  label-mixing targets of each merged Doc (:mod:`hybrid_ner.merge.mixing`);
* calibrated evidence (``hybrid_ner.calibrated_mixing.v1``, recommended): no
  merge, the evidence reads the human annotation and the proposals itself,
  so of the ``merger`` block only ``llm_key`` applies.
"""

from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry
from wasabi import msg

from ..errors import HybridNerError
from ..merge.acceptance import AcceptAll
from ..merge.calibration.mixing import CalibratedMixing
from ..merge.merger import DEFAULT_OVERLAP, DEFAULT_UNCOVERED, Merger
from ..merge.mixing import LabelMixing
from .readers import prepared_docbin

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
    """Callable reader: ``nlp`` → merged (and mixed) training Examples; the
    arguments are those of :func:`create_merged_corpus`.

    RAISES (HybridNerError): For merge settings the targets would ignore.
    """

    def __init__(self, path: Path, merger: Merger, mixing: Mixing = None, limit: int = 0) -> None:
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
        #: λ per label of the last read (λ label mixing only), for experiments to record.
        self.lambdas: Optional[Dict[str, float]] = None
        self._read = prepared_docbin(path, limit, self._targets)

    def __call__(self, nlp: Language) -> Iterator[Example]:
        return self._read(nlp)

    def _targets(self, docs: List[Doc]) -> List[Doc]:
        if isinstance(self.mixing, CalibratedMixing):
            fitted = self.mixing.fit(docs, self.merger.llm_key)
            msg.info(f"{self.path.name}: {fitted.describe()}")
            return self.mixing.attach_all(docs, fitted)
        self.merger.merge_all(docs)
        if isinstance(self.mixing, LabelMixing):
            self.lambdas = dict(self.mixing.fit(self.merger.stats))
            described = ", ".join(f"{k} {v:.2f}" for k, v in self.lambdas.items())
            msg.info(f"Label mixing λ for {self.path.name}: {described}")
            self.mixing.attach_all(docs, self.lambdas)
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
    merger (Optional[Merger]): "hybrid_ner.Merger.v1" settings, fitted on the
        file at each read; None for the defaults.
    mixing (Mixing): "hybrid_ner.calibrated_mixing.v1" (recommended),
        "hybrid_ner.label_mixing.v1" (λ per label), or None to train on the
        merged ``doc.ents`` (hard labels).
    limit (int): Use the first ``limit`` Docs only (0: all).
    """
    return MergedCorpus(Path(path), merger if merger is not None else Merger(), mixing, limit)
