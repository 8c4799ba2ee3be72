"""A simulated annotator: entity proposals with chosen per-label precision,
recall and label bias, made from the gold annotation.

It is NOT an LLM and is always reported as "simulated". It answers the
question the embedded 0.5B LLM cannot: where does the hybrid pay off for a
stronger annotator (e.g. one with the quality that published evaluations
report for GPT-3.5-class models on CoNLL-2003)? Its proposals go to their own
span group (``doc.spans["simulated"]`` by default), so the merge and label
mixing treat them exactly like LLM proposals (``Merger(llm_key="simulated")``).

The process, per gold entity e with label L (seeded per Doc, so a sentence
gets the same proposals whatever else is in the corpus):

1. found with probability ``recall[L]``; otherwise not proposed;
2. a found entity is proposed with label M != L with probability
   ``confusion[L][M]`` (label bias, e.g. ORG proposed as LOC), else with L;
3. with probability ``boundary_error`` its span is one token shorter or
   longer (a wrong boundary: an error under exact match);
4. for each proposed span with label M, ``spurious[M]`` extra false spans of
   label M are added on non-entity tokens (capitalised runs first, the
   typical false positive of LLM annotators); fractional rates draw the
   remainder.

With ``query = "per-type"`` each entity type is asked on its own, as with
GPT-NER prompts: a gold entity of label L is found by the L query with
probability ``recall[L]`` and, independently, marked by the query of each
other label M with probability ``confusion[L][M]``, so one span can come
back with several labels (the situation label mixing is for).

``spurious`` is fitted on the corpus (:meth:`SimulatedAnnotator.fit`) so the
expected precision of each label equals ``precision[L]`` once the confusions
and boundary errors (which are false positives too) are counted. Precision
and recall measured against the gold afterwards (``hybrid_ner.evaluation``)
match the parameters up to sampling noise.
"""

import random
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.util import registry

from ..errors import HybridNerError
from .omissions import doc_rng
from .presets import (
    DEFAULT_PRECISION,
    DEFAULT_PRESET,
    DEFAULT_RECALL,
    PRESETS,
    check_parameters,
)

#: Span group of the simulated annotator's proposals.
SIMULATED_KEY = "simulated"
#: ``doc.user_data`` key naming the simulated annotator that proposed.
SIMULATED_ANNOTATOR = "simulated_annotator"

# Span errors: off-by-one boundaries and spurious spans on tokens no entity covers.
SpanTuple = Tuple[int, int, str]


def shift_boundary(doc: Doc, start: int, end: int, rng: random.Random) -> Tuple[int, int]:
    """The span one token shorter or longer at one end, staying inside the Doc."""
    options = []
    if end - start > 1:
        options += [(start + 1, end), (start, end - 1)]
    if start > 0:
        options.append((start - 1, end))
    if end < len(doc):
        options.append((start, end + 1))
    return rng.choice(options) if options else (start, end)


def spurious_span(
    doc: Doc, taken: Sequence[SpanTuple], rng: random.Random
) -> Optional[Tuple[int, int]]:
    """A span on tokens that are neither gold entities nor already proposed:
    a run of capitalised words if there is one, else one word token."""
    blocked = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    blocked.update(i for start, end, _ in taken for i in range(start, end))
    # String tests, not lexeme flags: a Doc on a bare Vocab has no lexical attributes.
    free = [t for t in doc if t.i not in blocked and t.text.isalpha()]
    if not free:
        return None
    capitalised = [t for t in free if t.text[:1].isupper()]
    if capitalised:
        token = rng.choice(capitalised)
        end = token.i + 1
        while (
            end < len(doc)
            and end not in blocked
            and doc[end].text[:1].isupper()
            and doc[end].text.isalpha()
        ):
            end += 1
        return token.i, end
    token = rng.choice(free)
    return token.i, token.i + 1


@dataclass
class SimulatedAnnotator:
    """Proposals with given per-label precision, recall and label confusion.

    precision (Dict[str, float]): Target precision per proposed label.
    recall (Dict[str, float]): Probability of finding a gold entity, per gold label.
    confusion (Dict[str, Dict[str, float]]): Probability that a found entity of
        label L is proposed as M (label bias).
    boundary_error (float): Probability that a found entity's span is off by one token.
    default_precision (float): For labels missing from ``precision``
        (``DEFAULT_PRECISION``).
    default_recall (float): For labels missing from ``recall`` (``DEFAULT_RECALL``).
    seed (int): Random seed.
    spans_key (str): Span group the proposals are written to.
    name (str): Shown in reports (always with "simulated").
    spurious (Dict[str, float]): Extra false spans per proposed span, per label;
        set by :meth:`fit`.
    """

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
    #: Labels of the last :meth:`fit` that got a default rate; set by fit.
    defaulted: List[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        check_parameters(
            self.query,
            self.precision,
            self.recall,
            self.confusion,
            self.boundary_error,
            self.default_precision,
            self.default_recall,
        )

    def _precision(self, label: str) -> float:
        return self.precision.get(label, self.default_precision)

    def _recall(self, label: str) -> float:
        return self.recall.get(label, self.default_recall)

    def defaulted_labels(self, labels: Iterable[str]) -> List[str]:
        """The labels without their own precision or recall: they get
        ``default_precision`` / ``default_recall``."""
        return sorted(
            {label for label in labels if label not in self.precision or label not in self.recall}
        )

    def fit(self, docs: Iterable[Doc]) -> "SimulatedAnnotator":
        """Set the spurious-span rates so each label's expected precision is
        its target, given the gold label counts of ``docs``.

        Labels without their own rates (e.g. a non-CoNLL label set with a
        CoNLL preset) get the default rates; a warning names them and
        ``defaulted`` (and :meth:`params`) lists them.
        """
        gold: Dict[str, int] = {}
        for doc in docs:
            for ent in doc.ents:
                gold[ent.label_] = gold.get(ent.label_, 0) + 1
        self.defaulted = self.defaulted_labels(gold)
        if self.defaulted:
            warnings.warn(
                f"{self.name}: no rates for label(s) {', '.join(self.defaulted)} "
                "(the presets know PER, ORG, LOC, MISC): they get the default precision "
                f"{self.default_precision:g} and recall "
                f"{self.default_recall:g}; set precision/recall per label to change this",
                stacklevel=2,
            )
        correct: Dict[str, float] = {}
        wrong: Dict[str, float] = {}
        per_type = self.query == "per-type"
        for label, count in gold.items():
            found = count * self._recall(label)
            confused = self.confusion.get(label, {})
            kept = found if per_type else found * (1.0 - sum(confused.values()))
            correct[label] = correct.get(label, 0.0) + kept * (1.0 - self.boundary_error)
            wrong[label] = wrong.get(label, 0.0) + kept * self.boundary_error
            for other, p in confused.items():
                wrong[other] = wrong.get(other, 0.0) + (count if per_type else found) * p
        self.spurious = {}
        for label in sorted(set(correct) | set(wrong)):
            proposed = correct.get(label, 0.0) + wrong.get(label, 0.0)
            if proposed <= 0:
                continue
            # Precision p needs correct / (proposed + extra) = p.
            extra = max(0.0, correct.get(label, 0.0) / self._precision(label) - proposed)
            self.spurious[label] = extra / proposed
        return self

    def propose(self, doc: Doc) -> List[Span]:
        """The proposals for one Doc (its ``doc.ents`` are the gold). Pure."""
        rng = doc_rng(doc, self.seed, f"simulated:{self.name}")
        proposals: List[SpanTuple] = []
        for ent in doc.ents:
            # Draw everything for every entity, so one parameter does not shift the others' draws.
            draw_found, draw_label, draw_boundary = rng.random(), rng.random(), rng.random()
            if self.query == "per-type":
                # Each type's query decides on its own; all share the boundary draw.
                start, end = ent.start, ent.end
                if draw_boundary < self.boundary_error:
                    start, end = shift_boundary(doc, start, end, rng)
                if draw_found < self._recall(ent.label_):
                    proposals.append((start, end, ent.label_))
                for other, p in sorted(self.confusion.get(ent.label_, {}).items()):
                    if rng.random() < p:
                        proposals.append((start, end, other))
                continue
            if draw_found >= self._recall(ent.label_):
                continue
            label = ent.label_
            cumulative = 0.0
            for other, p in sorted(self.confusion.get(ent.label_, {}).items()):
                cumulative += p
                if draw_label < cumulative:
                    label = other
                    break
            start, end = ent.start, ent.end
            if draw_boundary < self.boundary_error:
                start, end = shift_boundary(doc, start, end, rng)
            proposals.append((start, end, label))
        for _, _, label in list(proposals):
            rate = self.spurious.get(label, 0.0)
            n_extra = int(rate) + (rng.random() < rate - int(rate))
            for _ in range(n_extra):
                span = spurious_span(doc, proposals, rng)
                if span is not None:
                    proposals.append((span[0], span[1], label))
        unique = sorted(set(proposals))
        return [Span(doc, start, end, label=label) for start, end, label in unique]

    def __call__(self, doc: Doc) -> Doc:
        """Write the proposals to ``doc.spans[spans_key]`` (in place) and return the Doc."""
        doc.spans[self.spans_key] = self.propose(doc)
        doc.user_data[SIMULATED_ANNOTATOR] = self.name
        return doc

    def annotate_all(self, docs: Sequence[Doc], fit: bool = True) -> List[Doc]:
        """Fit the spurious rates on ``docs`` (unless ``fit`` is False) and
        annotate each in place."""
        if fit:
            self.fit(docs)
        return [self(doc) for doc in docs]

    def params(self) -> Dict[str, object]:
        """The parameters, for reports (with ``defaulted``: the labels that
        got the default rates, if any)."""
        params: Dict[str, object] = {
            "precision": dict(self.precision),
            "recall": dict(self.recall),
            "confusion": {k: dict(v) for k, v in self.confusion.items()},
            "boundary_error": self.boundary_error,
            "seed": self.seed,
            "query": self.query,
        }
        if self.defaulted:
            params["defaulted"] = {
                "labels": list(self.defaulted),
                "precision": self.default_precision,
                "recall": self.default_recall,
            }
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
    """A simulated annotator (never an LLM; reported as "simulated").

    preset (Optional[str]): Start from named parameters ("gpt-3.5-class",
        "weak") or None for none; the other arguments override per label.
    precision (Dict[str, float]): Target precision per label.
    recall (Dict[str, float]): Recall per gold label.
    confusion (Dict[str, Dict[str, float]]): Label bias: P(proposed as M | gold L).
    boundary_error (Optional[float]): Probability of an off-by-one span.
    seed (int): Random seed.
    spans_key (str): Span group for the proposals.
    query (str): "single" (one label per found entity) or "per-type" (each
        label asked on its own; one span may get several labels).
    """
    base: Dict[str, object] = {}
    if preset:
        if preset not in PRESETS:
            raise HybridNerError(
                f"Unknown simulated annotator preset {preset!r}: use one of {', '.join(PRESETS)}"
            )
        base = PRESETS[preset]
    merged_confusion = {k: dict(v) for k, v in dict(base.get("confusion", {})).items()}  # type: ignore[arg-type]
    for label, row in confusion.items():
        merged_confusion[label] = dict(row)
    return SimulatedAnnotator(
        precision={**dict(base.get("precision", {})), **dict(precision)},  # type: ignore[arg-type]
        recall={**dict(base.get("recall", {})), **dict(recall)},  # type: ignore[arg-type]
        confusion=merged_confusion,
        boundary_error=float(
            boundary_error if boundary_error is not None else base.get("boundary_error", 0.0)
        ),  # type: ignore[arg-type]
        seed=seed,
        spans_key=spans_key,
        name=(f"simulated {preset}" if preset else "simulated annotator")
        + (" (per-type)" if query == "per-type" else ""),
        query=query,
    )


#: The same function under a plain name, for Python callers.
build_simulated_annotator = create_simulated_annotator
