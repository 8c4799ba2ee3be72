"""ω, how often the human leaves a true entity out: agreement and density estimates with
90% bootstrap intervals, and their combination (docs/method.md, "The human's omission rate ω")."""

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from ...layers import DOC_ID, LLM_KEY
from ..reliability import estimate_label_stats, human_spans, is_human_annotated
from .estimate import AnnotatorCalibration

BOOTSTRAP_SAMPLES = 500
#: The interval's coverage (5th to 95th percentile).
INTERVAL = 0.9
#: The highest ω any estimate returns: silence always carries some evidence.
MAX_RATE = 0.95
#: The widest interval whose point value training uses (wider: its lower end).
MAX_WIDTH = 0.2
#: Fewest documents for resampling by document (else by sentence) and for a density estimate.
_MIN_UNITS = 10
MIN_SAMPLE_ENTITIES = 30
#: Fewest expected correct proposals for an agreement estimate.
MIN_EXPECTED = 20.0


@dataclass(frozen=True)
class OmissionEstimate:
    """ω (None when the data cannot tell), its 90% interval, the method and its inputs."""

    rate: Optional[float]
    low: Optional[float] = None
    high: Optional[float] = None
    method: str = "density"
    detail: str = ""

    @property
    def width(self) -> Optional[float]:
        return None if self.low is None or self.high is None else self.high - self.low

    def trusted(self, max_width: float = MAX_WIDTH) -> bool:
        """Whether the estimate is precise enough to train with."""
        return self.rate is not None and self.width is not None and self.width <= max_width

    def describe(self) -> str:
        """E.g. ``0.39 (90% interval 0.33-0.45; 1,353 vs 170 sentences)``."""
        if self.rate is None:
            return f"not identifiable ({self.detail})"
        interval = "" if self.width is None else f"90% interval {self.low:.2f}-{self.high:.2f}; "
        return f"{self.rate:.2f} ({interval}{self.detail})"


def _per_unit(docs: Sequence[Doc], counts: Callable[[Doc], numpy.ndarray]) -> numpy.ndarray:
    """Each Doc's counts summed per resampling unit (documents if enough, else sentences)."""
    keys: List[object] = [doc.user_data.get(DOC_ID) for doc in docs]
    if None in keys or len(set(keys)) < _MIN_UNITS:
        keys = list(range(len(docs)))
    totals: Dict[object, numpy.ndarray] = {}
    for doc, unit in zip(docs, keys):
        row = numpy.asarray(counts(doc), dtype="float64")
        totals[unit] = totals[unit] + row if unit in totals else row
    return numpy.stack(list(totals.values())) if totals else numpy.zeros((0,))


def _resampled_sums(units: numpy.ndarray, rng: numpy.random.Generator) -> numpy.ndarray:
    return units[rng.integers(0, len(units), (BOOTSTRAP_SAMPLES, len(units)))].sum(axis=1)


def _interval(draws: numpy.ndarray) -> Tuple[Optional[float], Optional[float]]:
    draws = draws[numpy.isfinite(draws)]
    if len(draws) < BOOTSTRAP_SAMPLES // 2:
        return None, None  # most resamples could not tell: no interval
    tail = (1.0 - INTERVAL) / 2 * 100
    low, high = numpy.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _density_counts(doc: Doc) -> numpy.ndarray:
    """Entities, annotated tokens and annotated capitalized tokens of a Doc."""
    annotated = [token for token in doc if token.ent_iob != 0]
    capitalized = sum(1 for token in annotated if token.text[:1].isupper())
    return numpy.array([len(human_spans(doc)), len(annotated), capitalized], dtype="float64")


def density_omission_rate(
    train: Iterable[Doc], sample: Iterable[Doc], seed: int = 0
) -> OmissionEstimate:
    """ω from the entity densities of the training Docs and a complete gold ``sample``."""
    arrays = []
    for docs in (train, sample):
        units = _per_unit([doc for doc in docs if is_human_annotated(doc)], _density_counts)
        arrays.append(units if len(units) else numpy.zeros((1, 3)))
    train_arr, sample_arr = arrays
    n_sample_ents, _, n_sample_caps = sample_arr.sum(axis=0)
    # Entities per capitalized token where the text has case, else per token.
    column, unit = (2, "capitalized tokens") if n_sample_caps >= n_sample_ents else (1, "tokens")
    train_arr, sample_arr = train_arr[:, [0, column]], sample_arr[:, [0, column]]
    if len(sample_arr) < _MIN_UNITS or n_sample_ents < MIN_SAMPLE_ENTITIES:
        detail = (
            f"too small a sample: {len(sample_arr)} units with {int(n_sample_ents)} "
            f"entities (at least {_MIN_UNITS} and {MIN_SAMPLE_ENTITIES})"
        )
        return OmissionEstimate(None, method="density", detail=detail)
    detail = (
        f"entities per {unit[:-1]}: {int(train_arr[:, 1].sum()):,} training {unit} vs "
        f"{int(sample_arr[:, 1].sum()):,} sample {unit} with {int(n_sample_ents):,} entities"
    )
    if not train_arr[:, 1].sum() or not sample_arr[:, 1].sum():
        return OmissionEstimate(None, method="density", detail=detail)

    def rate(train_counts: numpy.ndarray, sample_counts: numpy.ndarray) -> numpy.ndarray:
        d_train = train_counts[..., 0] / numpy.maximum(train_counts[..., 1], 1)
        d_sample = sample_counts[..., 0] / numpy.maximum(sample_counts[..., 1], 1e-12)
        ratio = numpy.where(sample_counts[..., 0] > 0, d_train / numpy.maximum(d_sample, 1e-12), 1)
        return numpy.clip(1.0 - ratio, 0.0, MAX_RATE)

    point = float(rate(train_arr.sum(axis=0), sample_arr.sum(axis=0)))
    rng = numpy.random.default_rng(seed)
    train_draws = _resampled_sums(train_arr, rng)
    low, high = _interval(rate(train_draws, _resampled_sums(sample_arr, rng)))
    return OmissionEstimate(point, low, high, "density", detail)


def agreement_omission_rate(
    docs: Iterable[Doc],
    calibration: AnnotatorCalibration,
    sample: Sequence[Doc],
    spans_key: str = LLM_KEY,
    seed: int = 0,
) -> OmissionEstimate:
    """ω from the annotator's agreement with the human (the bootstrap resamples ``sample`` too)."""
    labels = sorted(label for label, q in calibration.quality.items() if q.proposed)
    column = {label: i for i, label in enumerate(labels)}

    def agreement_counts(doc: Doc) -> numpy.ndarray:
        # Per label: proposals on annotated tokens, and those the human agrees with.
        row = numpy.zeros((2, len(labels)))
        human = {(e.start, e.end, e.label_) for e in human_spans(doc)}
        for key in {(s.start, s.end, s.label_) for s in doc.spans.get(spans_key, ())}:
            if key[2] in column and all(doc[i].ent_iob != 0 for i in range(key[0], key[1])):
                row[0, column[key[2]]] += 1
                row[1, column[key[2]]] += key in human
        return row

    counts = _per_unit([doc for doc in docs if is_human_annotated(doc)], agreement_counts)
    if not len(counts):
        counts = numpy.zeros((1, 2, len(labels)))
    precision = numpy.array([calibration.quality[label].precision(strength=0) for label in labels])
    expected = float(counts[:, 0].sum(axis=0) @ precision) if labels else 0.0
    agreed = float(counts[:, 1].sum())
    detail = f"{agreed:.0f} of {expected:.0f} expected correct proposals agree with the human"
    if expected < MIN_EXPECTED:
        return OmissionEstimate(None, method="agreement", detail=detail)
    point = min(max(1.0 - agreed / expected, 0.0), MAX_RATE)

    def precision_counts(doc: Doc) -> numpy.ndarray:
        row = numpy.zeros((2, len(labels)))
        for label, stats in estimate_label_stats([doc], spans_key).items():
            if label in column:
                row[:, column[label]] += (stats.proposed, stats.matched)
        return row

    sample = [d for d in sample if is_human_annotated(d) and spans_key in d.spans]
    measured = _per_unit(sample, precision_counts)
    rng = numpy.random.default_rng(seed)
    train_draws = _resampled_sums(counts, rng)
    sample_draws = _resampled_sums(measured, rng)
    precisions = sample_draws[:, 1] / numpy.maximum(sample_draws[:, 0], 1)
    expected_draws = (train_draws[:, 0] * precisions).sum(axis=1)
    rates = 1.0 - train_draws[:, 1].sum(axis=1) / numpy.maximum(expected_draws, 1e-12)
    rates = numpy.where(expected_draws >= MIN_EXPECTED, numpy.clip(rates, 0, MAX_RATE), numpy.nan)
    low, high = _interval(rates)
    return OmissionEstimate(point, low, high, "agreement", detail)


def combined_omission_rate(estimates: Sequence[OmissionEstimate]) -> Optional[OmissionEstimate]:
    """The estimates with an interval weighed by inverse variance; one alone as it is."""
    usable = [e for e in estimates if e.rate is not None and e.width is not None]
    if len(usable) < 2:
        return usable[0] if usable else None
    z = 2 * 1.6449  # a 90% interval spans 2 · 1.645 sd
    weights = [1.0 / max((e.width or 0.0) / z, 1e-3) ** 2 for e in usable]
    total = sum(weights)
    rate = sum(w * e.rate for w, e in zip(weights, usable)) / total  # type: ignore[operator]
    half = z / 2 * (1.0 / total) ** 0.5
    parts = "; ".join(f"{e.method} {e.describe()}" for e in usable)
    return OmissionEstimate(
        rate, max(rate - half, 0.0), min(rate + half, MAX_RATE), "combined", parts
    )
