"""A simulated annotator (NOT an LLM): proposals made from the gold with set per-label recall,
label confusion, boundary errors and precision (docs/experiments.md, "The simulated annotator")."""

import random
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Dict, Iterable, List, NoReturn, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.util import registry

from ..errors import HybridNerError
from .omissions import doc_rng
from .presets import DEFAULT_PRECISION, DEFAULT_PRESET, DEFAULT_RECALL, PRESETS

#: Span group of the simulated annotator's proposals.
SIMULATED_KEY = "simulated"
SpanTuple = Tuple[int, int, str]


def shift_boundary(doc: Doc, start: int, end: int, rng: random.Random) -> Tuple[int, int]:
    """The span one token shorter or longer at one end, inside the Doc."""
    options = [(start + 1, end), (start, end - 1)] if end - start > 1 else []
    options += [(start - 1, end)] if start > 0 else []
    options += [(start, end + 1)] if end < len(doc) else []
    return rng.choice(options) if options else (start, end)


def spurious_span(
    doc: Doc, taken: Sequence[SpanTuple], rng: random.Random
) -> Optional[Tuple[int, int]]:
    """A run of capitalised words (else one word) on tokens neither gold nor proposed."""
    blocked = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    blocked.update(i for start, end, _ in taken for i in range(start, end))
    # String tests, not lexeme flags: a Doc on a bare Vocab has no lexical attributes.
    free = [t for t in doc if t.i not in blocked and t.text.isalpha()]
    if not free:
        return None
    capitalised = [t for t in free if t.text[:1].isupper()]
    start = rng.choice(capitalised or free).i
    end = start + 1
    while capitalised and end < len(doc) and end not in blocked and doc[end].text.isalpha():
        if not doc[end].text[:1].isupper():
            break
        end += 1
    return start, end


@dataclass
class SimulatedAnnotator:
    """Proposals with set per-label P, R and confusion; ``spurious[M]``: false spans per M."""

    precision: Dict[str, float] = field(default_factory=dict)
    recall: Dict[str, float] = field(default_factory=dict)
    confusion: Dict[str, Dict[str, float]] = field(default_factory=dict)
    boundary_error: float = 0.0
    default_precision: float = DEFAULT_PRECISION
    default_recall: float = DEFAULT_RECALL
    seed: int = 0
    spans_key: str = SIMULATED_KEY
    name: str = "simulated annotator"
    spurious: Dict[str, float] = field(default_factory=dict)
    query: str = "single"
    #: Labels of the last :meth:`fit` that got the default rates.
    defaulted: List[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.query not in ("single", "per-type"):
            self._fail(f"query must be one of single, per-type, got {self.query!r}")
        probabilities = [("boundary_error", self.boundary_error)]
        probabilities += [("default_recall", self.default_recall)]
        probabilities += [(f"recall of {k}", v) for k, v in self.recall.items()]
        for label, row in self.confusion.items():
            probabilities += [(f"confusion {label}->{k}", v) for k, v in row.items()]
            if sum(row.values()) > 1.0:
                self._fail(f"confusion probabilities of {label} sum to more than 1")
        for name, value in probabilities:
            if not 0.0 <= value <= 1.0:
                self._fail(f"{name} must be in [0, 1], got {value}")
        precisions = [(f"precision of {k}", v) for k, v in self.precision.items()]
        for name, value in [("default_precision", self.default_precision), *precisions]:
            if not 0.0 < value <= 1.0:
                self._fail(f"{name} must be in (0, 1], got {value}")

    @staticmethod
    def _fail(problem: str) -> NoReturn:
        raise HybridNerError(f"Simulated annotator: {problem}")

    def fit(self, docs: Iterable[Doc]) -> "SimulatedAnnotator":
        """Set the spurious-span rates so each label's expected precision is its target."""
        gold = Counter(ent.label_ for doc in docs for ent in doc.ents)
        self.defaulted = sorted(k for k in gold if k not in self.precision or k not in self.recall)
        if self.defaulted:
            warnings.warn(
                f"{self.name}: no rates for label(s) {', '.join(self.defaulted)} (the presets "
                f"know PER, ORG, LOC, MISC): they get the default precision "
                f"{self.default_precision:g} and recall {self.default_recall:g}",
                stacklevel=2,
            )
        correct: Dict[str, float] = defaultdict(float)
        wrong: Dict[str, float] = defaultdict(float)
        per_type = self.query == "per-type"
        for label, count in gold.items():
            found = count * self.recall.get(label, self.default_recall)
            confused = self.confusion.get(label, {})
            kept = found if per_type else found * (1.0 - sum(confused.values()))
            correct[label] += kept * (1.0 - self.boundary_error)
            wrong[label] += kept * self.boundary_error
            for other, p in confused.items():
                wrong[other] += (count if per_type else found) * p
        self.spurious = {}
        for label in sorted(set(correct) | set(wrong)):
            proposed = correct[label] + wrong[label]
            if proposed > 0:  # precision p needs correct / (proposed + extra) = p
                precision = self.precision.get(label, self.default_precision)
                extra = max(0.0, correct[label] / precision - proposed)
                self.spurious[label] = extra / proposed
        return self

    def propose(self, doc: Doc) -> List[Span]:
        """The proposals for one Doc (its ``doc.ents`` are the gold). Pure."""
        rng = doc_rng(doc, self.seed, f"simulated:{self.name}")
        proposals: List[SpanTuple] = []
        for ent in doc.ents:
            # Every draw for every entity: one parameter never shifts the others' draws.
            draw_found, draw_label, draw_boundary = rng.random(), rng.random(), rng.random()
            start, end, label = ent.start, ent.end, ent.label_
            confused = sorted(self.confusion.get(label, {}).items())
            found = draw_found < self.recall.get(label, self.default_recall)
            if self.query == "per-type":  # each type's query decides on its own
                if draw_boundary < self.boundary_error:
                    start, end = shift_boundary(doc, start, end, rng)
                labels = [label] * found + [other for other, p in confused if rng.random() < p]
            elif found:
                bounds = accumulate(p for _, p in confused)
                labels = [next((o for (o, _), b in zip(confused, bounds) if draw_label < b), label)]
                if draw_boundary < self.boundary_error:
                    start, end = shift_boundary(doc, start, end, rng)
            else:
                labels = []
            proposals += [(start, end, label) for label in labels]
        for _, _, label in list(proposals):
            rate = self.spurious.get(label, 0.0)
            for _ in range(int(rate) + (rng.random() < rate - int(rate))):
                span = spurious_span(doc, proposals, rng)
                if span is not None:
                    proposals.append((*span, label))
        return [Span(doc, start, end, label=label) for start, end, label in sorted(set(proposals))]

    def annotate_all(self, docs: Sequence[Doc]) -> List[Doc]:
        """Fit on ``docs`` and write the proposals to their ``doc.spans[spans_key]``."""
        self.fit(docs)
        for doc in docs:
            doc.spans[self.spans_key] = self.propose(doc)
        return list(docs)

    def params(self) -> Dict[str, object]:
        """The parameters, for reports (with the labels that got default rates)."""
        keys = ("precision", "recall", "confusion", "boundary_error", "seed", "query")
        params: Dict[str, object] = {key: getattr(self, key) for key in keys}
        if self.defaulted:
            defaults = {"precision": self.default_precision, "recall": self.default_recall}
            params["defaulted"] = {"labels": list(self.defaulted), **defaults}
        return params


@registry.misc("hybrid_ner.SimulatedAnnotator.v1")
def create_simulated_annotator(
    preset: Optional[str] = DEFAULT_PRESET,
    precision: Dict[str, float] = {},
    recall: Dict[str, float] = {},
    confusion: Dict[str, Dict[str, float]] = {},
    boundary_error: Optional[float] = None,
    seed: int = 0,
    spans_key: str = SIMULATED_KEY,
    query: str = "single",
) -> SimulatedAnnotator:
    """A simulated annotator from a ``PRESETS`` entry (or None), overridden per label."""
    if preset and preset not in PRESETS:
        raise HybridNerError(
            f"Unknown simulated annotator preset {preset!r}: use one of {', '.join(PRESETS)}"
        )
    base = PRESETS[preset] if preset else {}
    return SimulatedAnnotator(
        precision={**base.get("precision", {}), **precision},
        recall={**base.get("recall", {}), **recall},
        confusion={k: dict(v) for k, v in {**base.get("confusion", {}), **confusion}.items()},
        boundary_error=float(
            base.get("boundary_error", 0.0) if boundary_error is None else boundary_error
        ),
        seed=seed,
        spans_key=spans_key,
        name=f"simulated {preset or 'annotator'}" + " (per-type)" * (query == "per-type"),
        query=query,
    )
