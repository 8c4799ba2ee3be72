"""The result of one grid cell, ``<grid>/<dataset>/cells/<cell_id>.json``."""

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, NoReturn, Optional, Sequence, Tuple, Union

import srsly

from ..errors import HybridNerError
from ..simulation.omissions import DEFAULT_OMISSION_MODEL, OMISSION_MODELS
from .cells import DEFAULT_SELECTION, SELECTIONS, Cell
from .conditions import BUDGET_CONDITIONS, CONDITIONS, FIXED_CONDITIONS, is_simulated

# Rates and budgets are grouped after rounding, so 0.4 and 0.40000001 meet.
DIGITS = 6
#: Cells that differ only by seed: (condition, "rate" | "budget" | "reference", value).
GroupKey = Tuple[str, str, Optional[float]]


def read_json(path: Path) -> Any:
    """The parsed JSON of a file, or a one-line error naming it."""
    try:
        return srsly.read_json(path)
    except ValueError as err:
        raise HybridNerError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise HybridNerError(f"{path}: cannot read ({err})") from None


def optional_object(path: Path) -> Optional[Dict[str, Any]]:
    """A JSON object file that may be missing (None), or a one-line error."""
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise HybridNerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def number(path: Path, data: Mapping[str, Any], key: str, where: str = "") -> float:
    """A required number of a JSON object (``where``: the key's prefix in errors)."""
    if key not in data:
        raise HybridNerError(f'{path}: missing key "{where}{key}"')
    value = data[key]
    # bool is an int subclass but never a valid score, rate or seed.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise HybridNerError(f'{path}: "{where}{key}" must be a number, got {value!r}')
    return float(value)


def setting_value(value: float) -> float:
    """A rate or budget as used in group keys."""
    return round(value, DIGITS)


@dataclass(frozen=True)
class CellResult:
    """One trained model's test scores, cost, λ, calibration, and the ``path`` it was read from."""

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
    selection: str = DEFAULT_SELECTION
    path: Optional[Path] = None

    @property
    def cell(self) -> Cell:
        """The cell's settings."""
        fields = (self.dataset, self.condition, self.omit_rate, self.budget, self.seed)
        return Cell(*fields, self.omission_model, self.selection)

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
        """The content of the cell's result file (top-level keys sorted)."""
        data = asdict(self)
        data["scores"] = {key: data.pop(key) for key in ("p", "r", "f", "per_type")}
        data["cell_id"] = self.cell.cell_id
        del data["path"]
        for key in ("lambdas", "calibration"):
            if not data[key]:
                del data[key]
        return dict(sorted(data.items()))

    @classmethod
    def from_json(cls, path: Union[str, Path], data: Any) -> "CellResult":
        """Validate one cell's parsed JSON (``path`` is named in errors)."""
        path = Path(path)

        def fail(problem: str) -> NoReturn:
            raise HybridNerError(f"{path}: {problem}")

        if not isinstance(data, dict):
            fail(f"expected a JSON object, got {type(data).__name__}")
        for key in ("dataset", "condition", "annotator", "scores"):
            if key not in data:
                fail(f'missing key "{key}"')
        data = {"selection": DEFAULT_SELECTION, **data}  # cells from before selections
        for key, known in [
            ("condition", CONDITIONS),
            ("omission_model", OMISSION_MODELS),
            ("selection", SELECTIONS),
        ]:
            if data.get(key) not in known:
                fail(f'"{key}" must be one of {", ".join(known)}, got {data.get(key)!r}')
        scores, calibration = data["scores"], data.get("calibration")
        if not isinstance(scores, dict):
            fail(f'"scores" must be an object with p, r, f, got {scores!r}')
        if calibration is not None and not isinstance(calibration, dict):
            fail(f'"calibration" must be an object, got {calibration!r}')
        if calibration is not None and not isinstance(calibration.get("labels", {}), dict):
            fail('"calibration.labels" must be an object (one per label)')

        def numbers(value: Any, key: str, keys: Optional[Sequence[str]] = None):
            if value is None:
                return None
            if not isinstance(value, dict):
                fail(f'"{key}" must be an object, got {value!r}')
            keys = [k for k in value if value[k] is not None] if keys is None else keys
            return {k: number(path, value, k, f"{key}.") for k in keys}

        per_type = scores.get("per_type") or {}
        if not isinstance(per_type, dict):
            fail(f'"scores.per_type" must be an object, got {per_type!r}')
        extras = ("train_sentences", "train_seconds", "steps", "config", "calibration")
        return cls(
            path=path,
            **{key: data[key] for key in ("dataset", "condition", "annotator", "omission_model")},
            selection=data["selection"],
            **{key: number(path, data, key) for key in ("omit_rate", "budget")},
            seed=int(number(path, data, "seed")),
            **{key: number(path, scores, key, "scores.") for key in "prf"},
            per_type={k: numbers(v, f"scores.per_type.{k}", "prf") for k, v in per_type.items()},
            cost=numbers(data.get("cost"), "cost"),
            lambdas=numbers(data.get("lambdas"), "lambdas"),
            **{key: data.get(key) for key in extras},
        )
