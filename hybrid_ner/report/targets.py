"""The project's targets, checked against the aggregated results.

Every target compares the mean test F1 (over seeds) of two conditions at one
omission rate or budget: ``better`` ≥ ``reference`` + ``margin`` (or ``>``
when ``strict``). The targets are data: ``TARGETS`` lists their specs and
``evaluate_targets`` expands each spec into one check per setting.

* Do no harm: the calibrated hybrid (LLM or simulated annotator) is never
  worse than the human annotation alone, at every omission rate and budget
  (up to a tolerance of 0.005 F1).
* Label mixing beats random selection of the proposals at 40% omissions.
* With a GPT-3.5-class annotator (simulated) the hybrid is clearly better:
  +0.03 F1 at 40% and 60% omissions, and better at small budgets.
"""

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from ..experiment.conditions import FOCUS_RATE
from .results import GroupKey, Stat, stat_for

MET, NOT_MET, NO_DATA = "met", "not met", "no data"
#: The omission rate of the report's detail tables and calibration section
#: (the targets name their own rates and budgets): the grid's focus rate.
TARGET_RATE = FOCUS_RATE
#: Float noise below this never decides a target (0.700 − 0.705 is −0.005).
_EPSILON = 1e-9


@dataclass(frozen=True)
class TargetSpec:
    """One target: ``better`` ≥ ``reference`` + ``margin`` (``>`` if strict)
    in mean F1, checked at each of ``values``.

    group (str): The target's name, shared by related specs.
    better (str): The condition expected to be better.
    reference (str): The condition it is compared with.
    kind (str): "rate" (values are omission rates) or "budget" (fractions).
    values (Tuple[float, ...]): The settings the target is checked at.
    margin (float): Added to the reference's mean (negative: a tolerance).
    strict (bool): ``>`` instead of ``≥``.
    """

    group: str
    better: str
    reference: str
    kind: str
    values: Tuple[float, ...]
    margin: float = 0.0
    strict: bool = False

    def check(self) -> str:
        """The comparison as text, e.g. ``hybrid-budget ≥ human-budget − 0.005``."""
        op = ">" if self.strict else "≥"
        margin = ""
        if self.margin:
            margin = f" {'+' if self.margin > 0 else '−'} {abs(self.margin):g}"
        return f"{self.better} {op} {self.reference}{margin}"


DO_NO_HARM = "Do no harm"
MIXING_BEATS_RANDOM = "Label mixing > random selection"
SIMULATED_GPT35 = "Simulated GPT-3.5-class annotator"
RATES = (0.2, 0.4, 0.6)
BUDGETS = (0.1, 0.25, 0.5)
TOLERANCE = -0.005

TARGETS: Tuple[TargetSpec, ...] = (
    TargetSpec(DO_NO_HARM, "hybrid-label-mixing", "human-omit", "rate", RATES, TOLERANCE),
    TargetSpec(DO_NO_HARM, "sim-hybrid-label-mixing", "human-omit", "rate", RATES, TOLERANCE),
    TargetSpec(DO_NO_HARM, "hybrid-budget", "human-budget", "budget", BUDGETS, TOLERANCE),
    TargetSpec(DO_NO_HARM, "sim-hybrid-budget", "human-budget", "budget", BUDGETS, TOLERANCE),
    TargetSpec(
        MIXING_BEATS_RANDOM,
        "hybrid-label-mixing",
        "hybrid-random",
        "rate",
        (FOCUS_RATE,),
        strict=True,
    ),
    TargetSpec(
        MIXING_BEATS_RANDOM,
        "sim-hybrid-label-mixing",
        "sim-hybrid-random",
        "rate",
        (FOCUS_RATE,),
        strict=True,
    ),
    TargetSpec(SIMULATED_GPT35, "sim-hybrid-label-mixing", "human-omit", "rate", (0.4, 0.6), 0.03),
    TargetSpec(
        SIMULATED_GPT35, "sim-hybrid-budget", "human-budget", "budget", (0.1, 0.25), strict=True
    ),
)


@dataclass(frozen=True)
class Target:
    """One check of a target at one setting, and whether the data meet it."""

    question: str
    status: str  # MET, NOT_MET or NO_DATA
    detail: str
    group: str = ""


def _mean_sd(stat: Stat) -> str:
    return (
        f"{stat.mean:.3f}" + (f" ± {stat.sd:.3f}" if stat.sd is not None else "") + f" (n={stat.n})"
    )


def _setting(kind: str, value: float) -> str:
    percent = f"{value * 100:g}%"
    return f"at {percent} omissions" if kind == "rate" else f"at budget {percent}"


def check_target(stats: Dict[GroupKey, Stat], spec: TargetSpec, value: float) -> Target:
    """One target at one setting.

    stats (Dict[GroupKey, Stat]): F1 statistics from ``aggregate``.
    spec (TargetSpec): The target.
    value (float): The omission rate or budget fraction.
    RETURNS (Target): The verdict with both means ± sd (n seeds), the
        difference, the threshold and whether the seed spreads overlap.
    """
    question = f"{spec.check()} {_setting(spec.kind, value)}"
    better = stat_for(stats, spec.better, spec.kind, value)
    reference = stat_for(stats, spec.reference, spec.kind, value)
    if better is None or reference is None:
        missing = [
            name
            for name, stat in ((spec.better, better), (spec.reference, reference))
            if stat is None
        ]
        return Target(
            question,
            NO_DATA,
            f"no cells for {', '.join(missing)} {_setting(spec.kind, value)}",
            spec.group,
        )
    diff = better.mean - reference.mean
    excess = diff - spec.margin
    met = excess > _EPSILON if spec.strict else excess >= -_EPSILON
    needed = f"{'>' if spec.strict else '≥'} {spec.margin:+.3f}"
    # One more digit where three would show the threshold itself.
    digits = 4 if round(diff, 3) == round(spec.margin, 3) and abs(excess) > _EPSILON else 3
    overlap = "yes" if better.overlaps(reference) else "no"
    detail = (
        f"{spec.better} {_mean_sd(better)} vs {spec.reference} {_mean_sd(reference)}: "
        f"difference {diff:+.{digits}f} (needed {needed}); seed spreads (mean ± sd) overlap: "
        f"{overlap}"
    )
    return Target(question, MET if met else NOT_MET, detail, spec.group)


def evaluate_targets(
    stats: Dict[GroupKey, Stat], specs: Sequence[TargetSpec] = TARGETS
) -> List[Target]:
    """Every target at every setting it names.

    stats (Dict[GroupKey, Stat]): F1 statistics from ``aggregate``.
    specs (Sequence[TargetSpec]): The targets (default: the project's).
    RETURNS (List[Target]): One check per spec and setting, in spec order.
    """
    return [check_target(stats, spec, value) for spec in specs for value in spec.values]


def summary(targets: Sequence[Target]) -> str:
    """One line: how many checks are met, not met and without data."""
    counts = {
        status: sum(t.status == status for t in targets) for status in (MET, NOT_MET, NO_DATA)
    }
    return (
        f"{counts[MET]} of {len(targets)} checks met, {counts[NOT_MET]} not met, "
        f"{counts[NO_DATA]} without data."
    )
