"""Check the acceptance targets of the project's issues 11 and 20 against a grid.

Our own bookkeeping, not part of the installed package: the report shows every
number these targets compare (F1 by omission rate, the budget table); this
script states which comparisons were promised and whether the cells meet them.

Every target compares the mean test F1 (over seeds) of two conditions at one
omission rate or budget: ``better`` ≥ ``reference`` + ``margin`` (or ``>``
when ``strict``).

* Do no harm: the calibrated hybrid (LLM or simulated annotator) is never
  worse than the human annotation alone, at every omission rate and budget
  (up to a tolerance of 0.005 F1).
* Label mixing beats random selection of the proposals at 40% omissions.
* With a GPT-3.5-class annotator (simulated) the hybrid is clearly better:
  +0.03 F1 at 40% and 60% omissions, and better at small budgets.

    python scripts/check_targets.py metrics/grid
"""

import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from wasabi import MarkdownRenderer

from hybrid_ner.report.results import Stat, aggregate, load_grid

MET, NOT_MET, NO_DATA = "met", "not met", "no data"
#: Float noise below this never decides a target (0.700 − 0.705 is −0.005).
EPSILON = 1e-9


@dataclass(frozen=True)
class TargetSpec:
    """One target: ``better`` ≥ ``reference`` + ``margin`` (``>`` if strict)
    in mean F1, checked at each of ``values`` ("rate": omission rates,
    "budget": fractions of documents)."""

    group: str
    better: str
    reference: str
    kind: str
    values: Tuple[float, ...]
    margin: float = 0.0
    strict: bool = False

    def check(self) -> str:
        """The comparison as text, e.g. ``hybrid-budget ≥ human-budget − 0.005``."""
        margin = f" {'+' if self.margin > 0 else '−'} {abs(self.margin):g}" if self.margin else ""
        return f"{self.better} {'>' if self.strict else '≥'} {self.reference}{margin}"


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
        MIXING_BEATS_RANDOM, "hybrid-label-mixing", "hybrid-random", "rate", (0.4,), strict=True
    ),
    TargetSpec(
        MIXING_BEATS_RANDOM,
        "sim-hybrid-label-mixing",
        "sim-hybrid-random",
        "rate",
        (0.4,),
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
    sd = f" ± {stat.sd:.3f}" if stat.sd is not None else ""
    return f"{stat.mean:.3f}{sd} (n={stat.n})"


def _setting(kind: str, value: float) -> str:
    percent = f"{value * 100:g}%"
    return f"at {percent} omissions" if kind == "rate" else f"at budget {percent}"


def _stat(stats: Dict, condition: str, kind: str, value: float) -> Optional[Stat]:
    found = stats.get((condition, kind, round(value, 6)))
    if found is None and (condition, kind, value) == ("human-omit", "rate", 0.0):
        return stats.get(("human-clean", "reference", None))  # no omissions: the clean gold
    return found


def check_target(stats: Dict, spec: TargetSpec, value: float) -> Target:
    """One target at one setting, from the F1 statistics of ``aggregate``: the
    verdict with both means ± sd (n seeds), the difference and the threshold."""
    question = f"{spec.check()} {_setting(spec.kind, value)}"
    better = _stat(stats, spec.better, spec.kind, value)
    reference = _stat(stats, spec.reference, spec.kind, value)
    if better is None or reference is None:
        missing = [n for n, s in ((spec.better, better), (spec.reference, reference)) if s is None]
        detail = f"no cells for {', '.join(missing)} {_setting(spec.kind, value)}"
        return Target(question, NO_DATA, detail, spec.group)
    diff = better.mean - reference.mean
    excess = diff - spec.margin
    met = excess > EPSILON if spec.strict else excess >= -EPSILON
    needed = f"{'>' if spec.strict else '≥'} {spec.margin:+.3f}"
    # One more digit where three would show the threshold itself.
    digits = 4 if round(diff, 3) == round(spec.margin, 3) and abs(excess) > EPSILON else 3
    # Do the mean ± sd intervals of the two settings overlap?
    spread = (better.sd or 0.0) + (reference.sd or 0.0)
    overlap = "yes" if abs(better.mean - reference.mean) <= spread else "no"
    detail = (
        f"{spec.better} {_mean_sd(better)} vs {spec.reference} {_mean_sd(reference)}: "
        f"difference {diff:+.{digits}f} (needed {needed}); seed spreads (mean ± sd) overlap: "
        f"{overlap}"
    )
    return Target(question, MET if met else NOT_MET, detail, spec.group)


def evaluate_targets(stats: Dict, specs: Sequence[TargetSpec] = TARGETS) -> List[Target]:
    """Every target at every setting it names, in spec order."""
    return [check_target(stats, spec, value) for spec in specs for value in spec.values]


def summary(targets: Sequence[Target]) -> str:
    """One line: how many checks are met, not met and without data."""
    counts = {s: sum(t.status == s for t in targets) for s in (MET, NOT_MET, NO_DATA)}
    return (
        f"{counts[MET]} of {len(targets)} checks met, {counts[NOT_MET]} not met, "
        f"{counts[NO_DATA]} without data."
    )


def targets_markdown(grid_dir: str) -> str:
    """The targets of each dataset of a grid as markdown tables."""
    md = MarkdownRenderer(no_emoji=True)
    for ds in load_grid(grid_dir):
        targets = evaluate_targets(aggregate(ds.cells))
        md.add(md.title(2, f"Targets: {ds.name}"))
        md.add(summary(targets))
        rows = [[t.group, t.question, md.bold(t.status), t.detail] for t in targets]
        md.add(md.table(rows, ["Target", "Check", "Result", "Details"]))
    return md.text


if __name__ == "__main__":
    print(targets_markdown(sys.argv[1] if len(sys.argv) > 1 else "metrics/grid"))
