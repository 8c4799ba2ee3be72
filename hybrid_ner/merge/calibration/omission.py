"""ω: how often the human annotation leaves a true entity out, and how sure we are.

Human silence is evidence, never certainty: the calibrated targets weigh a
silent token's entity tags by ω (:mod:`.evidence`). Two estimators, each
with a percentile bootstrap interval over documents (by sentence when there
are fewer than 10):

* **agreement** (with an annotator; what the hybrid uses): a correct
  proposal agrees with the human exactly when the human did not omit that
  entity, so ω = 1 − A / E with E = Σ_l proposed_l · precision_l the
  expected correct proposals on human-annotated tokens and A of them
  agreeing. The precisions come from the calibration sample, so the
  bootstrap resamples it as well as the training Docs. It assumes the
  human's omissions are independent of what the annotator finds; a human
  who, like an LLM, misses the hard entities makes it an underestimate
  (measured on WikiGold with the embedded 0.5B LLM under the ``hard``
  omission model: −0.02 to −0.04, against −0.01 to +0.00 under uniform ones).
* **density** (no annotator; what ``human-silence`` uses): the complete
  calibration sample (the dev set) has d_sample entities per capitalized
  token, the human annotation of the training Docs d_train, so
  ω = 1 − d_train / d_sample. It assumes nothing about *which* entities were
  omitted, only that entities per capitalized token are the same in both
  sets, as the expected entity ratio of Effland & Collins (TACL 2021) assumes
  for entities per token. Capitalized tokens are the reference (a ratio
  estimator with an auxiliary variable) because entity density varies between
  documents far more: on WikiGold, with 15 held-out documents of 145, the
  estimate's sd is 0.15 per token and 0.08 per capitalized token. Text with
  fewer capitalized tokens than entities (scripts without case) falls back to
  tokens. It is only as good as the dev set is like the training set: on the
  project's WikiGold split it overestimates ω by about 0.08-0.12.

The training combines the two when both exist, each weighed by its
precision (:func:`combined_omission_rate`): on WikiGold's dev set of 15
documents the agreement estimate's interval is wide (per-label precisions
from a few dozen proposals) and the density one narrow. It uses the point
estimate when the 90% interval is narrow (:meth:`OmissionEstimate.trusted`)
and otherwise the interval's lower end, so a small sample makes silence
count for more, never for less, than the data support.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from ...layers import DOC_ID, LLM_KEY
from ..reliability import estimate_label_stats, human_spans, is_human_annotated
from .estimate import AnnotatorCalibration

#: Bootstrap resamples of the density estimate's interval.
BOOTSTRAP_SAMPLES = 500
#: The interval's coverage (a 90% interval: 5th to 95th percentile).
INTERVAL = 0.9
#: The highest ω any estimate returns: silence always carries some evidence.
MAX_RATE = 0.95
#: The widest interval (high − low) of an estimate the training uses: wider
#: ones are withheld (one default, used by ``hybrid_ner.calibrated_mixing.v1``).
DEFAULT_MAX_WIDTH = 0.2
#: Fewest documents for document-level resampling; fewer: by sentence. Also
#: the fewest sentences a sample needs for any estimate.
_MIN_UNITS = 10
#: Fewest entities in the complete sample for a density estimate.
MIN_SAMPLE_ENTITIES = 30


@dataclass(frozen=True)
class OmissionEstimate:
    """An estimate of ω with its interval.

    rate (Optional[float]): The point estimate in [0, MAX_RATE]; None when
        the data cannot tell.
    low, high (Optional[float]): The 90% interval (bootstrap), if any.
    method (str): "density" or "agreement".
    detail (str): What it was computed from, for logs.
    """

    rate: Optional[float]
    low: Optional[float] = None
    high: Optional[float] = None
    method: str = "density"
    detail: str = ""

    @property
    def width(self) -> Optional[float]:
        """high − low (None without an interval)."""
        if self.low is None or self.high is None:
            return None
        return self.high - self.low

    def trusted(self, max_width: float) -> bool:
        """Whether the estimate is precise enough to train with."""
        width = self.width
        return self.rate is not None and width is not None and width <= max_width

    def describe(self) -> str:
        """E.g. ``0.39 (90% interval 0.33-0.45; 1,353 vs 170 sentences)``."""
        if self.rate is None:
            return f"not identifiable ({self.detail})" if self.detail else "not identifiable"
        interval = (
            f"90% interval {self.low:.2f}-{self.high:.2f}; " if self.width is not None else ""
        )
        return f"{self.rate:.2f} ({interval}{self.detail})"


def _unit_keys(docs: Sequence[Doc]) -> List[object]:
    keys = [doc.user_data.get(DOC_ID) for doc in docs]
    if None not in keys and len(set(keys)) >= _MIN_UNITS:
        return keys
    return list(range(len(docs)))


def _per_unit(docs: Sequence[Doc], counts: Callable[[Doc], numpy.ndarray]) -> numpy.ndarray:
    """The counts of each Doc summed per resampling unit (documents when there
    are enough of them, else sentences), stacked in order of first appearance."""
    totals: Dict[object, numpy.ndarray] = {}
    for doc, unit in zip(docs, _unit_keys(docs)):
        row = numpy.asarray(counts(doc), dtype="float64")
        totals[unit] = totals[unit] + row if unit in totals else row
    return numpy.stack(list(totals.values())) if totals else numpy.zeros((0,))


def _density_counts(doc: Doc) -> numpy.ndarray:
    """Entities, annotated tokens and annotated capitalized tokens of a Doc."""
    annotated = [token for token in doc if token.ent_iob != 0]
    capitalized = sum(1 for token in annotated if token.text[:1].isupper())
    return numpy.array([len(human_spans(doc)), len(annotated), capitalized], dtype="float64")


def _resampled_sums(units: numpy.ndarray, rng: numpy.random.Generator) -> numpy.ndarray:
    """``BOOTSTRAP_SAMPLES`` sums of the units drawn with replacement."""
    return units[rng.integers(0, len(units), (BOOTSTRAP_SAMPLES, len(units)))].sum(axis=1)


def density_omission_rate(
    train: Iterable[Doc], sample: Iterable[Doc], seed: int = 0
) -> OmissionEstimate:
    """ω from the entity densities of the human annotation and a complete
    sample, with a bootstrap interval (module docstring).

    train (Iterable[Doc]): Training Docs, the human annotation in ``doc.ents``
        (``doc.spans["human"]`` if merged); Docs nobody annotated and missing
        tokens are left out.
    sample (Iterable[Doc]): Docs with complete gold ``doc.ents`` (the dev set).
    seed (int): Seed of the bootstrap.
    RETURNS (OmissionEstimate): The estimate (rate None when either set has
        no annotated token or the sample no entity).
    """
    empty = numpy.zeros((1, 3))
    train_arr = _per_unit([doc for doc in train if is_human_annotated(doc)], _density_counts)
    sample_arr = _per_unit([doc for doc in sample if is_human_annotated(doc)], _density_counts)
    train_arr = train_arr if len(train_arr) else empty
    sample_arr = sample_arr if len(sample_arr) else empty
    n_sample_ents, n_sample, n_sample_caps = sample_arr.sum(axis=0)
    # Entities per capitalized token where the text has case, else per token.
    column, unit = (2, "capitalized tokens") if n_sample_caps >= n_sample_ents else (1, "tokens")
    train_arr, sample_arr = train_arr[:, [0, column]], sample_arr[:, [0, column]]
    detail = (
        f"entities per {unit[:-1]}: {int(train_arr[:, 1].sum()):,} training {unit} vs "
        f"{int(sample_arr[:, 1].sum()):,} sample {unit} with {int(n_sample_ents):,} entities"
    )
    if len(sample_arr) < _MIN_UNITS or n_sample_ents < MIN_SAMPLE_ENTITIES:
        return OmissionEstimate(
            None,
            method="density",
            detail=f"too small a sample: {len(sample_arr)} units with {int(n_sample_ents)} "
            f"entities (at least {_MIN_UNITS} and {MIN_SAMPLE_ENTITIES})",
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


def _interval(draws: numpy.ndarray) -> Tuple[Optional[float], Optional[float]]:
    draws = draws[numpy.isfinite(draws)]
    if len(draws) < BOOTSTRAP_SAMPLES // 2:
        return None, None  # most resamples could not tell: no interval
    tail = (1.0 - INTERVAL) / 2 * 100
    low, high = numpy.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def agreement_omission_rate(
    docs: Iterable[Doc],
    calibration: AnnotatorCalibration,
    spans_key: str = LLM_KEY,
    min_expected: float = 20.0,
    sample: Optional[Sequence[Doc]] = None,
    seed: int = 0,
) -> OmissionEstimate:
    """ω from the annotator's agreement with the human (module docstring).

    docs (Iterable[Doc]): Training Docs: human ``doc.ents`` + proposals.
    calibration (AnnotatorCalibration): Measured on clean gold (not biased):
        the precision of each label.
    spans_key (str): The proposals' span group.
    min_expected (float): Fewest expected correct proposals to give an estimate.
    sample (Optional[Sequence[Doc]]): The calibration Docs the precisions
        come from: with them, a bootstrap over documents of both sets gives
        the interval (precisions from a small sample are uncertain too).
    seed (int): Seed of the bootstrap.
    RETURNS (OmissionEstimate): The estimate.
    """
    if calibration.biased:
        return OmissionEstimate(None, method="agreement", detail="biased calibration")
    labels = sorted(label for label, q in calibration.quality.items() if q.proposed)
    column = {label: i for i, label in enumerate(labels)}
    docs = [doc for doc in docs if is_human_annotated(doc)]

    def agreement_counts(doc: Doc) -> numpy.ndarray:
        # Per label: proposals on annotated tokens, and those the human agrees with.
        row = numpy.zeros((2, len(labels)))
        human = {(e.start, e.end, e.label_) for e in human_spans(doc)}
        spans = doc.spans[spans_key] if spans_key in doc.spans else ()
        for key in {(s.start, s.end, s.label_) for s in spans}:
            if key[2] not in column or any(doc[i].ent_iob == 0 for i in range(key[0], key[1])):
                continue  # a label never measured, or tokens the human did not annotate
            row[0, column[key[2]]] += 1
            row[1, column[key[2]]] += key in human
        return row

    counts = _per_unit(docs, agreement_counts)
    if not len(counts):
        counts = numpy.zeros((1, 2, len(labels)))
    precision = numpy.array([calibration.quality[label].precision for label in labels])
    expected = float(counts[:, 0].sum(axis=0) @ precision) if labels else 0.0
    agreed = float(counts[:, 1].sum()) if labels else 0.0
    detail = f"{agreed:.0f} of {expected:.0f} expected correct proposals agree with the human"
    if expected < min_expected:
        return OmissionEstimate(None, method="agreement", detail=detail)
    point = min(max(1.0 - agreed / expected, 0.0), MAX_RATE)
    if sample is None:
        return OmissionEstimate(point, method="agreement", detail=detail)

    def precision_counts(doc: Doc) -> numpy.ndarray:
        # Per label: proposals and exact matches (the precision).
        row = numpy.zeros((2, len(labels)))
        for label, stats in estimate_label_stats([doc], spans_key).items():
            if label in column:
                row[0, column[label]] += stats.proposed
                row[1, column[label]] += stats.matched
        return row

    sample = [doc for doc in sample if is_human_annotated(doc) and spans_key in doc.spans]
    measured = _per_unit(sample, precision_counts)
    if not len(measured):
        return OmissionEstimate(point, method="agreement", detail=detail)
    rng = numpy.random.default_rng(seed)
    train_draws = _resampled_sums(counts, rng)
    sample_draws = _resampled_sums(measured, rng)
    precisions = sample_draws[:, 1] / numpy.maximum(sample_draws[:, 0], 1)
    expected_draws = (train_draws[:, 0] * precisions).sum(axis=1)
    rates = numpy.where(
        expected_draws >= min_expected,
        numpy.clip(
            1.0 - train_draws[:, 1].sum(axis=1) / numpy.maximum(expected_draws, 1e-12), 0, MAX_RATE
        ),
        numpy.nan,
    )
    low, high = _interval(rates)
    return OmissionEstimate(point, low, high, "agreement", detail)


def combined_omission_rate(estimates: Sequence[OmissionEstimate]) -> Optional[OmissionEstimate]:
    """The estimates with an interval, weighed by their precision (inverse
    variance, the sd read off each 90% interval as width / 3.29), with the
    interval of the weighted mean. A precise estimate dominates a vague one;
    one estimate alone is returned as it is; None without any.

    estimates (Sequence[OmissionEstimate]): E.g. agreement and density.
    RETURNS (Optional[OmissionEstimate]): The combination.
    """
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
