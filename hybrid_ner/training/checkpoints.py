"""Which checkpoint ``spacy train`` keeps as ``model-best``: not spaCy's step-0 evaluation
when every later one scores lower (a model that first collapses to no entities)."""

import shutil
import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional, Tuple

from spacy.util import registry

LogStep = Callable[[Optional[Dict[str, Any]]], None]
SetupLogger = Callable[..., Tuple[LogStep, Callable[[], None]]]


@registry.loggers("hybrid_ner.BestAfterStartLogger.v1")
def create_best_after_start_logger(logger: SetupLogger, first_step: int) -> SetupLogger:
    """Wrap ``logger`` (e.g. ``spacy.ConsoleLogger.v1``) to keep ``model-best`` to the
    evaluations at ``first_step`` or later; without one, spaCy's stays, with a warning."""
    if first_step < 0:
        raise ValueError(f"[training.logger] first_step must be >= 0, got {first_step}")

    def setup_logger(
        nlp: Any, stdout: IO = sys.stdout, stderr: IO = sys.stderr
    ) -> Tuple[LogStep, Callable[[], None]]:
        log_step, finalize = logger(nlp, stdout, stderr)
        best: Dict[str, Any] = {"score": None, "dir": None}

        def keep_best(info: Optional[Dict[str, Any]]) -> None:
            if info is not None and info.get("output_path") is not None:
                last_dir = Path(info["output_path"])
                best["dir"] = best_dir = last_dir.parent / "model-best"
                score = info["score"]
                # spaCy has already copied a new best checkpoint to model-best;
                # one before first_step stays only until a later evaluation.
                if info["step"] >= first_step and (best["score"] is None or score >= best["score"]):
                    best["score"] = score
                    copied_by_spacy = score >= max(s for s, _ in info["checkpoints"])
                    if not copied_by_spacy or not best_dir.exists():
                        shutil.rmtree(best_dir, ignore_errors=True)
                        shutil.copytree(last_dir, best_dir)
            log_step(info)

        def finish() -> None:
            finalize()
            if best["dir"] is not None and best["score"] is None:
                stdout.write(
                    f"Warning: {best['dir']} is an evaluation before step {first_step} (too few "
                    "training steps): use model-last, or lower eval_frequency\n"
                )

        return keep_best, finish

    return setup_logger
