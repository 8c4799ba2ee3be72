"""Which documents the human should annotate: at random, or by the token errors a document
is expected to keep if it stays LLM-only (docs/method.md, "Which documents to annotate")."""

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from wasabi import msg

from ..corpus import read_docbin
from ..errors import HybridNerError
from ..layers import DOC_ID, HUMAN_ANNOTATED, HUMAN_KEY, LLM_KEY
from ..progress import track
from ..tags import OUTSIDE, span_tags, tag_names
from .calibration.estimate import AnnotatorCalibration, estimate_calibration
from .calibration.evidence import token_likelihoods
from .calibration.mixing import teacher_probabilities


@dataclass(frozen=True)
class Selected:
    """One document of a ranking: its id, score, why, and the indices of its Docs."""

    doc_id: str
    score: float
    why: str
    sentences: Tuple[int, ...]


def budget_units(docs: Sequence[Doc], fraction: Optional[float] = None) -> List[str]:
    """Per Doc its document (``DOC_ID``); its sentence if ``fraction`` rounds to none or all."""
    units = [doc.user_data.get(DOC_ID, str(i)) for i, doc in enumerate(docs)]
    fraction, n_docs = fraction or 0.0, len(set(units))
    n_kept = round(fraction * n_docs)
    if 0 < fraction < 1 and n_kept in (0, n_docs) and 0 < round(fraction * len(docs)) < len(docs):
        msg.warn(f"Budget by sentence: {fraction:g} of {n_docs} document(s) rounds to {n_kept}")
        return [f"sentence:{i}" for i in range(len(docs))]
    return units


@registry.misc("hybrid_ner.random_selection.v1")
@dataclass(frozen=True)
class RandomSelection:
    """Documents for the human in a seeded random order (``simulate_budget``'s choice)."""

    seed: int = 0

    def doc_stats(self, docs: Sequence[Doc]) -> numpy.ndarray:
        """Per Doc: expected token errors and proposals."""
        return numpy.zeros((len(docs), 2))

    def why(self, stats: numpy.ndarray) -> str:
        return f"random order (seed {self.seed})"

    def rank(self, docs: Sequence[Doc], fraction: Optional[float] = None) -> List[Selected]:
        """All documents (see :func:`budget_units`) by score per sentence, ties in the seeded
        random order."""
        members: Dict[str, List[int]] = {}
        for i, unit in enumerate(budget_units(docs, fraction)):
            members.setdefault(unit, []).append(i)
        order, stats = list(members), self.doc_stats(docs)
        random.Random(f"budget:{self.seed}").shuffle(order)
        totals = {unit: stats[members[unit]].sum(axis=0) for unit in order}
        # Per sentence (what the human is paid for): long documents are not worth more per cost.
        score = {unit: round(float(totals[unit][0]) / len(members[unit]), 4) for unit in order}
        order.sort(key=lambda unit: -score[unit])  # stable: seeded ties
        return [Selected(u, score[u], self.why(totals[u]), tuple(members[u])) for u in order]

    def choose(
        self, docs: Sequence[Doc], fraction: float, ranking: Optional[List[Selected]] = None
    ) -> List[Selected]:
        """The first ``round(fraction · n_documents)`` documents of the ranking."""
        ranking = self.rank(docs, fraction) if ranking is None else ranking
        return ranking[: round(fraction * len(ranking))]


@registry.misc("hybrid_ner.uncertainty_selection.v1")
@dataclass(frozen=True)
class UncertaintySelection(RandomSelection):
    """Documents by the token errors the calibrated evidence expects if they stay LLM-only.

    calibration (Optional[Path]): Dev set with gold and the same annotator's proposals.
    teacher (Optional[Path]): A soft NER, the prior; None: the sample's tag base rates.
    """

    calibration: Optional[Path] = None
    teacher: Optional[Path] = None
    spans_key: str = LLM_KEY

    def fit(self, vocab) -> Tuple[AnnotatorCalibration, List[str], numpy.ndarray]:
        """The annotator's calibration, the labels and the base-rate prior of the sample."""
        if self.calibration is None or not Path(self.calibration).is_file():
            why = "needs a calibration file (the dev set with gold after `hybrid-ner propose`)"
            raise HybridNerError(f"{self.calibration or 'uncertainty selection'}: {why}")
        sample = read_docbin(self.calibration, vocab)
        if not any(self.spans_key in doc.spans for doc in sample):
            raise HybridNerError(f"{self.calibration}: no Doc has doc.spans['{self.spans_key}']")
        calibration = estimate_calibration(sample, self.spans_key, str(self.calibration))
        labels = sorted({e.label_ for doc in sample for e in doc.ents} | set(calibration.labels))
        counts = Counter(OUTSIDE for doc in sample for t in doc if t.ent_iob == 2)
        counts.update(t for doc in sample for e in doc.ents for t in span_tags(len(e), e.label_))
        prior = numpy.array([counts[tag] + 1.0 for tag in tag_names(labels)])  # none impossible
        return calibration, labels, prior / prior.sum()

    def doc_stats(self, docs: Sequence[Doc]) -> numpy.ndarray:
        calibration, labels, base = self.fit(docs[0].vocab if docs else None)
        # The human's annotation is what the selection decides: never look at it.
        blind = [doc.copy() for doc in docs]
        for doc in blind:
            doc.user_data[HUMAN_ANNOTATED] = False
            doc.spans.pop(HUMAN_KEY, None)
        priors = teacher_probabilities(self.teacher, blind, labels) if self.teacher else None
        stats = numpy.zeros((len(docs), 2))
        for i, doc in enumerate(track(blind, len(blind), "uncertainty", "sentence")):
            values = token_likelihoods(doc, calibration, 0.0, labels, self.spans_key)["values"]
            joint = values * (base if priors is None else priors[i])
            q = joint / numpy.maximum(joint.sum(axis=1, keepdims=True), 1e-12)
            spans = doc.spans[self.spans_key] if self.spans_key in doc.spans else []
            # Per label (O, then each label's B/I/L/U summed): a wrong boundary is no error here.
            by_label = numpy.hstack([q[:, :1], q[:, 1:].reshape(len(q), -1, 4).sum(axis=2)])
            stats[i] = ((1.0 - by_label.max(axis=1)).sum(), len(spans))
        return stats

    def choose(
        self, docs: Sequence[Doc], fraction: float, ranking: Optional[List[Selected]] = None
    ) -> List[Selected]:
        """Documents in rank order while they bring the total closer to ``fraction`` of the
        sentences (the human is paid per sentence, and dense documents are often short)."""
        chosen, total, target = [], 0, fraction * len(docs)
        for unit in self.rank(docs, fraction) if ranking is None else ranking:
            if abs(total + len(unit.sentences) - target) < abs(total - target):
                chosen.append(unit)
                total += len(unit.sentences)
        return chosen

    def why(self, stats: numpy.ndarray) -> str:
        return f"{stats[0]:.1f} expected token errors; {int(stats[1])} proposals"
