"""The ``spacy train`` reader of a gold + proposals DocBin: merged, λ-mixed or calibrated."""

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

#: The merge settings each kind of targets ignores, so refuses (error message says why).
_NO_EFFECT = {CalibratedMixing: ("accept", "overlap", "uncovered"), LabelMixing: ("overlap",)}
_DEFAULTS = {"accept": AcceptAll(), "overlap": DEFAULT_OVERLAP, "uncovered": DEFAULT_UNCOVERED}


class MergedCorpus:
    """Callable reader: ``nlp`` → training Examples (:func:`create_merged_corpus`)."""

    def __init__(self, path: Path, merger: Merger, mixing: Mixing = None, limit: int = 0) -> None:
        names = _NO_EFFECT.get(type(mixing), ())
        ignored = [name for name in names if getattr(merger, name) != _DEFAULTS[name]]
        if ignored:
            raise HybridNerError(
                f"{path}: merger.{', merger.'.join(ignored)} would have no effect on "
                f"{type(mixing).__name__} targets: leave it at its default, or use mixing = null"
            )
        self.path, self.merger, self.mixing = path, merger, mixing
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
    path: Path, merger: Optional[Merger] = None, mixing: Mixing = None, limit: int = 0
) -> Callable[[Language], Iterable[Example]]:
    """Read a gold + proposals DocBin, merge with human priority, optionally mix labels.

    mixing (Mixing): "hybrid_ner.calibrated_mixing.v1" (recommended),
        "hybrid_ner.label_mixing.v1", or None (the merged ``doc.ents``).
    limit (int): Use the first ``limit`` Docs only (0: all).
    """
    return MergedCorpus(Path(path), merger if merger is not None else Merger(), mixing, limit)
