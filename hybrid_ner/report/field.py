"""The hybrid against the field: beside the best LLM-free answer to omitted
entities, per omission model and rate, and under a budget; and ω, estimated
against true, per omission model.

The LLM-free baselines (``LLM_FREE_CONDITIONS``) are what a user without an
LLM would pick: negative sampling, human silence softened by ω, and under a
budget self-training from the human-only teacher. "Best" is the one with the
higher mean F1 in that setting, so the hybrid is compared with the strongest.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..experiment.conditions import LLM_FREE_BUDGET_CONDITIONS, LLM_FREE_CONDITIONS
from ..experiment.result import CellResult
from ..simulation.omissions import OMISSION_MODELS
from .format import DASH, format_rate, format_stat, md
from .results import Stat, aggregate, budgets, rates, stat_for

#: The rows of the comparison: the naive baseline, the LLM-free ones, the hybrids.
HYBRIDS = ("hybrid-label-mixing", "sim-hybrid-label-mixing")
BUDGET_HYBRIDS = ("hybrid-budget", "sim-hybrid-budget")


@dataclass(frozen=True)
class FieldRow:
    """One setting of the comparison.

    model (str): The omission model ("uniform", "hard"; "—" for budgets).
    kind (str): "rate" or "budget".
    value (float): The omission rate or budget fraction.
    naive (Optional[Stat]): The human annotation with silence as certain.
    free (Dict[str, Optional[Stat]]): The LLM-free baselines.
    hybrids (Dict[str, Optional[Stat]]): The hybrids (LLM, simulated).
    """

    model: str
    kind: str
    value: float
    naive: Optional[Stat]
    free: Dict[str, Optional[Stat]]
    hybrids: Dict[str, Optional[Stat]]

    @property
    def best_free(self) -> Tuple[Optional[str], Optional[Stat]]:
        """The LLM-free baseline with the higher mean F1, and its statistic."""
        present = [(name, stat) for name, stat in self.free.items() if stat is not None]
        if not present:
            return None, None
        return max(present, key=lambda item: item[1].mean)

    def margin(self, hybrid: str) -> Optional[float]:
        """Mean F1 of a hybrid minus that of the best LLM-free baseline."""
        stat = self.hybrids.get(hybrid)
        _, best = self.best_free
        if stat is None or best is None:
            return None
        return stat.mean - best.mean


def field_rows(cells: Sequence[CellResult]) -> List[FieldRow]:
    """The comparison's rows: each omission model and rate, then each budget,
    where at least one LLM-free baseline has a cell.

    cells (Sequence[CellResult]): The cells of one dataset, all omission models.
    RETURNS (List[FieldRow]): The rows.
    """
    rows: List[FieldRow] = []
    for model in OMISSION_MODELS:
        of_model = [c for c in cells if c.omission_model == model]
        stats = aggregate(of_model)
        for rate in rates(of_model):
            free = {name: stat_for(stats, name, "rate", rate) for name in LLM_FREE_CONDITIONS}
            if not any(free.values()):
                continue
            rows.append(
                FieldRow(
                    model,
                    "rate",
                    rate,
                    stat_for(stats, "human-omit", "rate", rate),
                    free,
                    {name: stat_for(stats, name, "rate", rate) for name in HYBRIDS},
                )
            )
    stats = aggregate(cells)
    for budget in budgets(cells):
        free = {
            name: stat_for(stats, name, "budget", budget) for name in LLM_FREE_BUDGET_CONDITIONS
        }
        if not any(free.values()):
            continue
        rows.append(
            FieldRow(
                DASH,
                "budget",
                budget,
                stat_for(stats, "human-budget", "budget", budget),
                free,
                {name: stat_for(stats, name, "budget", budget) for name in BUDGET_HYBRIDS},
            )
        )
    return rows


def _signed(value: Optional[float]) -> str:
    return DASH if value is None else f"{value:+.3f}"


def field_table(rows: Sequence[FieldRow]) -> str:
    """The comparison as a markdown table (rates, then budgets)."""
    header = [
        "omissions",
        "setting",
        "silence as certain",
        "negative sampling",
        "silence softened by ω",
        "hybrid (LLM)",
        "Δ vs best LLM-free",
        "hybrid (sim.)",
        "Δ vs best LLM-free",
    ]
    body = []
    for row in rows:
        free = list(row.free.values())
        if row.kind == "budget":
            # Under a budget there is one LLM-free baseline: self-training.
            free = [None, free[0]]
        first, second = (list(row.hybrids) + [None, None])[:2]
        body.append(
            [
                row.model,
                f"{format_rate(row.value)} {'omitted' if row.kind == 'rate' else 'budget'}",
                format_stat(row.naive),
                format_stat(free[0]),
                format_stat(free[1]),
                format_stat(row.hybrids.get(first)) if first else DASH,
                _signed(row.margin(first)) if first else DASH,
                format_stat(row.hybrids.get(second)) if second else DASH,
                _signed(row.margin(second)) if second else DASH,
            ]
        )
    return md.table(body, header, aligns=("l",) * 2 + ("r",) * 7)


@dataclass(frozen=True)
class OmegaRow:
    """Estimated against true ω for one omission model and rate.

    model (str): The omission model.
    rate (float): The true (simulated) rate.
    annotator (str): Whose agreement: "llm", "simulated" or "none".
    density (Optional[Stat]): The entity-density estimate (used without an annotator).
    agreement (Optional[Stat]): The annotator-agreement estimate (used with one).
    used (Optional[Stat]): The ω the training used.
    """

    model: str
    rate: float
    annotator: str
    density: Optional[Stat]
    agreement: Optional[Stat]
    used: Optional[Stat]


def omega_rows(cells: Sequence[CellResult]) -> List[OmegaRow]:
    """ω per omission model and rate, over the cells that estimated it
    (calibrated and ``human-silence`` cells, every seed)."""
    values: Dict[Tuple[str, float, str], Dict[str, List[float]]] = {}
    for cell in cells:
        cal = cell.calibration or {}
        if cell.budget < 1.0 or not cal:
            continue
        key = (cell.omission_model, round(cell.omit_rate, 6), cell.annotator)
        bucket = values.setdefault(key, {})
        estimate = cal.get("omission_estimate") or {}
        if isinstance(estimate.get("rate"), (int, float)):
            bucket.setdefault("density", []).append(float(estimate["rate"]))
        agreement = cal.get("omission_agreement") or {}
        if isinstance(agreement.get("rate"), (int, float)):
            bucket.setdefault("agreement", []).append(float(agreement["rate"]))
        if isinstance(cal.get("omission_rate"), (int, float)):
            bucket.setdefault("used", []).append(float(cal["omission_rate"]))
    rows = []
    for (model, rate, annotator), bucket in sorted(values.items()):

        def stat(key: str) -> Optional[Stat]:
            found = bucket.get(key)
            return Stat.of(found) if found else None

        rows.append(
            OmegaRow(model, rate, annotator, stat("density"), stat("agreement"), stat("used"))
        )
    return rows


def omega_table(rows: Sequence[OmegaRow]) -> str:
    """ω estimated against true as a markdown table."""
    body = [
        [
            row.model,
            f"{row.rate:.2f}",
            row.annotator,
            format_stat(row.density),
            _signed(row.density.mean - row.rate) if row.density else DASH,
            format_stat(row.agreement),
            _signed(row.agreement.mean - row.rate) if row.agreement else DASH,
            format_stat(row.used),
        ]
        for row in rows
    ]
    header = [
        "omissions",
        "true ω",
        "annotator",
        "estimated ω (entity density)",
        "error",
        "from agreement with the annotator",
        "error",
        "ω used",
    ]
    return md.table(body, header, aligns=("l", "r", "l") + ("r",) * 5)
