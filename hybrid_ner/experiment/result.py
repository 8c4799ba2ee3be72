"""The result of one grid cell: written by the grid, read by the report.

A cell's result file ``<grid>/<dataset>/cells/<cell_id>.json`` holds its
settings, its test scores, its training size, time and config, the cost of
its annotation and, for the λ and calibrated label-mixing conditions, the
fitted λ or the annotator's calibration.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ..errors import HybridNerError
from ..simulation.omissions import DEFAULT_OMISSION_MODEL, OMISSION_MODELS
from .cells import Cell
from .conditions import BUDGET_CONDITIONS, CONDITIONS, FIXED_CONDITIONS, is_simulated
from .jsonio import number, optional_numbers

# Rates and budgets are grouped after rounding, so 0.4 and 0.40000001 meet.
DIGITS = 6
# A group of cells that differ only by seed: (condition, kind, value) with
# kind "rate" (value = omission rate), "budget" (value = budget fraction) or
# "reference" (rate-independent condition, value None).
GroupKey = Tuple[str, str, Optional[float]]


def setting_value(value: float) -> float:
    """A rate or budget as used in group keys."""
    return round(value, DIGITS)


@dataclass(frozen=True)
class CellResult:
    """The scores and records of one trained model (one cell of the grid).

    p, r, f (float): Entity precision, recall and F1 on the test set.
    per_type (Dict[str, Dict[str, float]]): p, r, f per label.
    cost (Optional[Mapping[str, Optional[float]]]): Human, LLM and total
        annotation cost (read back without the unknown parts).
    lambdas (Optional[Dict[str, float]]): λ per label (λ label mixing only).
    steps, config: Training steps of the cell's model and its training config.
    calibration (Optional[Dict[str, Any]]): The annotator's calibration and
        ω (calibrated and ``human-silence``/``human-selftrain`` conditions).
    omission_model (str): How the human's omissions were simulated
        ("uniform" or "hard").
    path (Optional[Path]): The file it was read from (None before writing).
    """

    dataset: str
    condition: str
    annotator: str
    omit_rate: float
    budget: float
    seed: int
    p: float
    r: float
    f: float
    per_type: Dict[str, Dict[str, float]] = field(default_factory=dict)
    cost: Optional[Mapping[str, Optional[float]]] = None
    lambdas: Optional[Dict[str, float]] = None
    train_sentences: Optional[int] = None
    train_seconds: Optional[float] = None
    steps: Optional[int] = None
    config: Optional[str] = None
    calibration: Optional[Dict[str, Any]] = None
    omission_model: str = DEFAULT_OMISSION_MODEL
    path: Optional[Path] = None

    @property
    def cell(self) -> Cell:
        """The cell's settings."""
        return Cell(
            self.dataset,
            self.condition,
            self.omit_rate,
            self.budget,
            self.seed,
            self.omission_model,
        )

    @property
    def name(self) -> str:
        """The stem of the cell's file (its cell id before it is written)."""
        return self.path.stem if self.path is not None else self.cell.cell_id

    @property
    def simulated(self) -> bool:
        """Whether the proposals came from the simulated annotator."""
        return is_simulated(self.condition, self.annotator)

    @property
    def group(self) -> GroupKey:
        """The key shared by all seeds of this cell's setting."""
        if self.condition in BUDGET_CONDITIONS or self.budget < 1.0:
            return (self.condition, "budget", setting_value(self.budget))
        if self.condition in FIXED_CONDITIONS:
            return (self.condition, "reference", None)
        return (self.condition, "rate", setting_value(self.omit_rate))

    def to_json(self) -> Dict[str, Any]:
        """The content of the cell's result file."""
        data: Dict[str, Any] = {
            "dataset": self.dataset,
            "condition": self.condition,
            "omit_rate": self.omit_rate,
            "budget": self.budget,
            "seed": self.seed,
            "omission_model": self.omission_model,
            "cell_id": self.cell.cell_id,
            "annotator": self.annotator,
            "scores": {"p": self.p, "r": self.r, "f": self.f, "per_type": self.per_type},
            "train_sentences": self.train_sentences,
            "steps": self.steps,
            "train_seconds": self.train_seconds,
            "config": self.config,
            "cost": None if self.cost is None else dict(self.cost),
        }
        if self.lambdas:
            data["lambdas"] = self.lambdas
        if self.calibration is not None:
            data["calibration"] = self.calibration
        return data

    @classmethod
    def from_json(cls, path: Union[str, Path], data: Any) -> "CellResult":
        """Validate one cell's JSON content.

        path (Union[str, Path]): The file, named in errors.
        data (Any): The parsed JSON.
        RETURNS (CellResult): The cell's result.
        RAISES (HybridNerError): If a required key is missing or has the wrong
            type, or the condition or omission model is not the grid's (a
            cell of an older grid: ``scripts/migrate_cells.py`` of the project
            template rewrites those).
        """
        path = Path(path)
        if not isinstance(data, dict):
            raise HybridNerError(f"{path}: expected a JSON object, got {type(data).__name__}")
        for key in ("dataset", "condition", "annotator"):
            if key not in data:
                raise HybridNerError(f'{path}: missing key "{key}"')
            if not isinstance(data[key], str) or not data[key]:
                raise HybridNerError(
                    f'{path}: "{key}" must be a non-empty string, got {data[key]!r}'
                )
        for key, known in (("condition", CONDITIONS), ("omission_model", OMISSION_MODELS)):
            if data.get(key) not in known:
                raise HybridNerError(
                    f'{path}: "{key}" must be one of {", ".join(known)}, got {data.get(key)!r}'
                )
        scores = data.get("scores")
        if scores is None:
            raise HybridNerError(f'{path}: missing key "scores"')
        if not isinstance(scores, dict):
            raise HybridNerError(f'{path}: "scores" must be an object with p, r, f, got {scores!r}')
        calibration = data.get("calibration")
        if calibration is not None and not isinstance(calibration, dict):
            raise HybridNerError(f'{path}: "calibration" must be an object, got {calibration!r}')
        if calibration is not None and not isinstance(calibration.get("labels", {}), dict):
            raise HybridNerError(f'{path}: "calibration.labels" must be an object (one per label)')
        seconds = data.get("train_seconds")
        steps = data.get("steps")
        config = data.get("config")
        sentences = data.get("train_sentences")
        return cls(
            path=path,
            dataset=data["dataset"],
            condition=data["condition"],
            annotator=data["annotator"],
            omit_rate=number(path, data, "omit_rate"),
            budget=number(path, data, "budget"),
            seed=int(number(path, data, "seed")),
            p=number(path, scores, "p", "scores."),
            r=number(path, scores, "r", "scores."),
            f=number(path, scores, "f", "scores."),
            per_type=_per_type(path, scores.get("per_type") or {}),
            cost=optional_numbers(path, data.get("cost"), "cost"),
            lambdas=optional_numbers(path, data.get("lambdas"), "lambdas"),
            train_sentences=sentences if isinstance(sentences, int) else None,
            train_seconds=float(seconds) if _is_number(seconds) else None,
            steps=steps if isinstance(steps, int) and not isinstance(steps, bool) else None,
            config=config if isinstance(config, str) and config else None,
            calibration=calibration,
            omission_model=data["omission_model"],
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _per_type(path: Path, per_type: Any) -> Dict[str, Dict[str, float]]:
    if not isinstance(per_type, dict):
        raise HybridNerError(f'{path}: "scores.per_type" must be an object, got {per_type!r}')
    labels = {}
    for label, values in per_type.items():
        if not isinstance(values, dict):
            raise HybridNerError(
                f'{path}: "scores.per_type.{label}" must be an object with p, r, f'
            )
        where = f"scores.per_type.{label}."
        labels[label] = {k: number(path, values, k, where) for k in ("p", "r", "f")}
    return labels
