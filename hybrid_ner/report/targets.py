"""The project's targets, checked against the aggregated results.

At 40% omissions: (1) hybrid-label-mixing beats human-omit, (2) it beats
hybrid-random, (3) the simulated hybrid recovers at least half of the F1 gap
between human-omit and the clean upper bound.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional

from .results import GroupKey, Stat, stat_at

TARGET_RATE = 0.4
MIN_RECOVERED = 0.5
MET, NOT_MET, NO_DATA = "met", "not met", "no data"


@dataclass(frozen=True)
class Target:
    """One target and whether the data meet it."""

    question: str
    status: str  # MET, NOT_MET or NO_DATA
    detail: str


def _mean_sd(stat: Stat) -> str:
    return f"{stat.mean:.3f}" + (f" ± {stat.sd:.3f}" if stat.sd is not None else "") + f" (n={stat.n})"


def _missing(names: Dict[str, Optional[Stat]]) -> str:
    return "no cells for " + ", ".join(name for name, stat in names.items() if stat is None)


def beats(stats: Dict[GroupKey, Stat], better: str, worse: str, rate: Optional[float]) -> Target:
    """Whether one condition's mean F1 is above another's at a rate.

    stats (Dict[GroupKey, Stat]): F1 statistics from ``aggregate``.
    better (str): The condition expected to be better.
    worse (str): The condition it is compared with.
    rate (Optional[float]): The omission rate.
    RETURNS (Target): The verdict, the difference and whether the seed spreads
        (mean ± sd) overlap.
    """
    question = f"{better} mean F1 > {worse} mean F1"
    a, b = stat_at(stats, better, rate), stat_at(stats, worse, rate)
    if a is None or b is None:
        return Target(question, NO_DATA, _missing({better: a, worse: b}))
    diff = a.mean - b.mean
    overlap = "yes" if a.overlaps(b) else "no"
    detail = f"{_mean_sd(a)} vs {_mean_sd(b)}: difference {diff:+.3f}; seed spreads (mean ± sd) overlap: {overlap}"
    return Target(question, MET if diff > 0 else NOT_MET, detail)


def recovered_gap(stats: Dict[GroupKey, Stat], condition: str, rate: Optional[float]) -> Optional[float]:
    """(condition − human-omit) / (human-clean − human-omit) at a rate, or
    None without data or without a positive gap."""
    cond, omit, clean = (stat_at(stats, c, rate) for c in (condition, "human-omit", "human-clean"))
    if cond is None or omit is None or clean is None or clean.mean <= omit.mean:
        return None
    return (cond.mean - omit.mean) / (clean.mean - omit.mean)


def gap_target(stats: Dict[GroupKey, Stat], rate: Optional[float], condition: str = "sim-hybrid-label-mixing") -> Target:
    """Whether a condition recovers at least half of the omission gap."""
    question = f"recovered gap ({condition} − human-omit) / (human-clean − human-omit) ≥ {MIN_RECOVERED}"
    found = {c: stat_at(stats, c, rate) for c in (condition, "human-omit", "human-clean")}
    if any(stat is None for stat in found.values()):
        return Target(question, NO_DATA, _missing(found))
    clean, omit = found["human-clean"], found["human-omit"]
    fraction = recovered_gap(stats, condition, rate)
    if fraction is None:
        detail = f"human-clean ({clean.mean:.3f}) is not above human-omit ({omit.mean:.3f}): no gap to recover"  # type: ignore[union-attr]
        return Target(question, NO_DATA, detail)
    detail = f"{fraction:.2f} of the gap {omit.mean:.3f} → {clean.mean:.3f} ({condition}: {found[condition].mean:.3f})"  # type: ignore[union-attr]
    reference = recovered_gap(stats, "hybrid-label-mixing", rate)
    if reference is not None and condition != "hybrid-label-mixing":
        detail += f"; for reference, hybrid-label-mixing (LLM proposals) recovers {reference:.2f}"
    return Target(question, MET if fraction >= MIN_RECOVERED else NOT_MET, detail)


def evaluate_targets(stats: Dict[GroupKey, Stat], rate: Optional[float]) -> List[Target]:
    """All targets at one omission rate.

    stats (Dict[GroupKey, Stat]): F1 statistics from ``aggregate``.
    rate (Optional[float]): The omission rate (None: no rate-dependent cells).
    RETURNS (List[Target]): The three targets in order.
    """
    return [
        beats(stats, "hybrid-label-mixing", "human-omit", rate),
        beats(stats, "hybrid-label-mixing", "hybrid-random", rate),
        gap_target(stats, rate),
    ]
