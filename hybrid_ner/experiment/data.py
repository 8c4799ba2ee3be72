"""The training data of the grid's cells."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import spacy
from spacy.tokens import Doc

from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError
from ..layers import LLM_KEY
from ..merge.selection import RandomSelection, UncertaintySelection
from ..simulation.annotator import SIMULATED_KEY, SimulatedAnnotator
from ..simulation.omissions import simulate_budget, simulate_omissions
from .cells import DEFAULT_SELECTION, Cell


@dataclass
class GridData:
    """A dataset's annotated training Docs and the variants the cells train on, each written
    once per (variant, seed) under ``work_dir``; ``llm_calibration``: LLM proposals on ``dev``."""

    name: str
    train: Path
    work_dir: Path
    simulated: Callable[[int], SimulatedAnnotator]
    train_limit: int = 0
    require_llm: bool = True
    dev: Optional[Path] = None
    llm_calibration: Optional[Path] = None
    _docs: Dict[int, List[Doc]] = field(default_factory=dict)

    def teacher_dir(self, cell: Cell) -> Path:
        """Where a cell's human-only model is kept (the calibrated cells' prior)."""
        return self.work_dir / "teachers" / self.name / cell.cell_id

    def has_teacher(self, cell: Cell) -> bool:
        """Whether the human-only model of a cell was trained."""
        return (self.teacher_dir(cell) / "meta.json").exists()

    def calibration(self, cell: Cell) -> Optional[Path]:
        """A cell's calibration sample: the dev set with the LLM's or the simulated proposals."""
        if cell.spec.annotator == "llm":
            return self.llm_calibration
        if cell.spec.annotator != "simulated" or self.dev is None:
            return None
        name = f"calibration_{self.dev.stem}_simulated_s{cell.seed}.spacy"
        path = self.work_dir / "data" / self.name / name
        if not path.exists():
            docs = read_docbin(self.dev, spacy.blank("en").vocab)
            self.simulated(cell.seed).annotate_all(docs)
            write_docbin(path, docs)
        return path

    def selection(self, cell: Cell) -> Optional[RandomSelection]:
        """How a budget cell chooses its documents; by uncertainty: the simulated annotator's
        for its cells, else the LLM's (so the human-only baseline sees the hybrid's documents)."""
        if cell.selection == DEFAULT_SELECTION:
            return None
        simulated = cell.spec.annotator == "simulated"
        calibration = self.calibration(cell) if simulated else self.llm_calibration
        key = SIMULATED_KEY if simulated else LLM_KEY
        return UncertaintySelection(cell.seed, calibration, spans_key=key)

    def annotated(self, seed: int) -> List[Doc]:
        """Gold ``doc.ents``, LLM proposals and the simulated annotator's (seeded)."""
        if seed not in self._docs:
            docs = read_docbin(self.train, spacy.blank("en").vocab)
            if self.train_limit > 0:
                docs = docs[: self.train_limit]
            missing = sum(LLM_KEY not in doc.spans for doc in docs)
            if missing and self.require_llm:
                raise HybridNerError(
                    f"{self.train}: {missing} of {len(docs)} Docs have no doc.spans['{LLM_KEY}'] "
                    "(run `hybrid-ner propose` on every training sentence first)"
                )
            self.simulated(seed).annotate_all(docs)
            self._docs = {seed: docs}  # one seed in memory at a time
        return self._docs[seed]

    def path(self, cell: Cell) -> Path:
        """The DocBin a cell trains on, written on first use."""
        data, rate = cell.spec.data, cell.omit_rate
        names = {"omit": f"omit{rate:g}", "budget": f"budget{cell.budget:g}_omit{rate:g}"}
        name = names.get(data, data) + cell.suffix
        if cell.selection != DEFAULT_SELECTION and cell.spec.annotator == "simulated":
            name += "_by_simulated"  # its own annotator's calibration chose, not the LLM's
        # Keyed by the source file: cells without LLM may run before the proposals exist.
        path = self.work_dir / "data" / self.name / self.train.stem / f"{name}_s{cell.seed}.spacy"
        if not path.exists():
            docs = self.annotated(cell.seed)
            if data == "omit" or (data == "budget" and rate > 0):
                docs = simulate_omissions(docs, rate, cell.seed, model=cell.omission_model)
            if data in ("unannotated", "budget"):
                fraction = cell.budget if data == "budget" else 0.0
                docs = simulate_budget(docs, fraction, cell.seed, self.selection(cell))
            write_docbin(path, docs)
        return path
