"""``hybrid_ner_merger``: the merge as a pipeline component (reliability saved with it)."""

import dataclasses
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import ensure_path

from ..layers import LLM_KEY
from .acceptance import AcceptancePolicy
from .merger import DEFAULT_OVERLAP, DEFAULT_SEED, DEFAULT_UNCOVERED, Merger, OverlapRule, Uncovered
from .reliability import LabelStats

_STATS_FILE = "label_stats.json"


@Language.factory(
    "hybrid_ner_merger",
    assigns=["doc.ents", "doc.spans"],
    default_config={
        "accept": {"@misc": "hybrid_ner.accept_all.v1"},
        "overlap": DEFAULT_OVERLAP,
        "uncovered": DEFAULT_UNCOVERED,
        "seed": DEFAULT_SEED,
        "llm_key": LLM_KEY,
    },
)
def make_merger(
    nlp: Language,
    name: str,
    accept: AcceptancePolicy,
    overlap: OverlapRule,
    uncovered: Uncovered,
    seed: int,
    llm_key: str,
) -> "MergerComponent":
    """Create the merger component (settings as in ``hybrid_ner.Merger.v1``)."""
    return MergerComponent(name, Merger(accept, overlap, uncovered, seed, llm_key))


class MergerComponent:
    """Merges proposals into the human entities of each Doc, in place."""

    def __init__(self, name: str, merger: Merger) -> None:
        self.name, self.merger = name, merger

    def __call__(self, doc: Doc) -> Doc:
        return self.merger(doc)

    def initialize(
        self,
        get_examples: Optional[Callable[[], Iterable[Example]]] = None,
        *,
        nlp: Optional[Language] = None,
        label_stats: Optional[Dict[str, Dict[str, int]]] = None,
    ) -> None:
        """Set the reliability from ``label_stats``, else from the examples with proposals."""
        if label_stats is not None:
            self.merger.stats = {label: LabelStats(**row) for label, row in label_stats.items()}
        elif get_examples is not None:
            key = self.merger.llm_key
            self.merger.fit(
                eg.reference if key in eg.reference.spans else eg.predicted for eg in get_examples()
            )

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        stats = {label: dataclasses.asdict(s) for label, s in self.merger.stats.items()}
        return srsly.json_dumps(stats).encode("utf8")

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "MergerComponent":
        self.initialize(label_stats=srsly.json_loads(data.decode("utf8")))
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / _STATS_FILE).write_bytes(self.to_bytes())

    def from_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = ()
    ) -> "MergerComponent":
        return self.from_bytes((ensure_path(path) / _STATS_FILE).read_bytes())
