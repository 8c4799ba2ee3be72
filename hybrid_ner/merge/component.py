"""``hybrid_ner_merger``: the human-priority merge as a pipeline component.

Put it after any component that writes proposals to ``doc.spans["llm"]``
(the spacy-llm proposer, a span ruler, another model...). It merges each Doc
in place (see :mod:`hybrid_ner.merge.merger` for the rule and the provenance groups).

A reliability-based acceptance policy needs per-label statistics. They are
estimated in ``initialize`` from examples whose reference (or else
predicted) Docs carry both human entities and proposals, or given as
``label_stats``; they are saved with the pipeline.
"""

from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import ensure_path

from ..layers import LLM_KEY
from .acceptance import AcceptancePolicy
from .merger import (
    DEFAULT_OVERLAP,
    DEFAULT_SEED,
    DEFAULT_UNCOVERED,
    Merger,
    OverlapRule,
    Uncovered,
)
from .reliability import label_stats_from_json, label_stats_to_json

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
    """Create the merger component.

    accept (AcceptancePolicy): Per-label acceptance ("hybrid_ner.accept_*.v1").
    overlap (str): "longest", "reliable", "first" or "random".
    uncovered (str): "outside" or "missing" for tokens in no entity.
    seed (int): Seed of the "random" overlap rule.
    llm_key (str): Span group with the proposals.
    """
    return MergerComponent(
        name,
        Merger(accept=accept, overlap=overlap, uncovered=uncovered, seed=seed, llm_key=llm_key),
    )


class MergerComponent:
    """Merges proposals into the human entities of each Doc, in place."""

    def __init__(self, name: str, merger: Merger) -> None:
        self.name = name
        self.merger = merger

    def __call__(self, doc: Doc) -> Doc:
        """Merge one Doc in place and return it."""
        return self.merger(doc)

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterable[Doc]:
        """Merge a stream of Docs, in place."""
        for doc in docs:
            yield self.merger(doc)

    def initialize(
        self,
        get_examples: Optional[Callable[[], Iterable[Example]]] = None,
        *,
        nlp: Optional[Language] = None,
        label_stats: Optional[Dict[str, Dict[str, int]]] = None,
    ) -> None:
        """Set the per-label reliability used by the acceptance policy.

        get_examples (Optional[Callable[[], Iterable[Example]]]): Examples whose
            Docs carry human entities and proposals.
        nlp (Optional[Language]): The pipeline.
        label_stats (Optional[Dict[str, Dict[str, int]]]): Counts per label
            ({"human", "proposed", "matched"}) to use instead of estimating.
        """
        if label_stats is not None:
            self.merger.stats = label_stats_from_json(label_stats)
        elif get_examples is not None:
            key = self.merger.llm_key
            self.merger.fit(
                eg.reference if key in eg.reference.spans else eg.predicted for eg in get_examples()
            )

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """The per-label statistics, as JSON bytes."""
        return srsly.json_dumps(label_stats_to_json(self.merger.stats)).encode("utf8")

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "MergerComponent":
        """Load the per-label statistics from :meth:`to_bytes`."""
        self.merger.stats = label_stats_from_json(srsly.json_loads(data.decode("utf8")))
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Save the per-label statistics in the component's directory."""
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / _STATS_FILE).write_bytes(self.to_bytes())

    def from_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()
    ) -> "MergerComponent":
        """Load the per-label statistics saved by :meth:`to_disk`, if any."""
        stats_path = ensure_path(path) / _STATS_FILE
        if stats_path.exists():
            self.from_bytes(stats_path.read_bytes())
        return self
