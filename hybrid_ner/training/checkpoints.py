"""Which checkpoint ``spacy train`` keeps as ``model-best``.

spaCy evaluates the pipeline after the very first update (step 0) and keeps
the best-scoring evaluation as ``model-best``. When every later evaluation
scores lower (a short run, or a model that first collapses to predicting no
entities), ``model-best`` is that barely trained step-0 model. The logger
below wraps any spaCy logger and keeps ``model-best`` to the checkpoints
evaluated at ``first_step`` or later (the earlier one stays only when no
later evaluation happens, with a warning).
"""

import shutil
import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional, Tuple

from spacy.util import registry

DIR_MODEL_BEST = "model-best"

LogStep = Callable[[Optional[Dict[str, Any]]], None]
Finalize = Callable[[], None]
SetupLogger = Callable[..., Tuple[LogStep, Finalize]]


@registry.loggers("hybrid_ner.BestAfterStartLogger.v1")
def create_best_after_start_logger(logger: SetupLogger, first_step: int) -> SetupLogger:
    """A training logger that keeps ``model-best`` to the evaluations at
    ``first_step`` or later.

    logger (SetupLogger): The logger that prints or records the scores, e.g.
        ``spacy.ConsoleLogger.v1``; it gets every step unchanged.
    first_step (int): The first step whose evaluation may become
        ``model-best``. 1 leaves out only the step-0 evaluation, which spaCy
        runs after a single update.
    RETURNS (SetupLogger): The logger for ``[training.logger]``.

    ``model-best`` is the best-scoring evaluation at ``first_step`` or later
    (the later one on a tie, as in spaCy). If training ends before such an
    evaluation, spaCy's ``model-best`` (the step-0 evaluation) stays, and a
    one-line warning says to use ``model-last`` or to lower
    ``[training] eval_frequency``.
    """
    if first_step < 0:
        raise ValueError(f"[training.logger] first_step must be >= 0, got {first_step}")

    def setup_logger(
        nlp: Any, stdout: IO = sys.stdout, stderr: IO = sys.stderr
    ) -> Tuple[LogStep, Finalize]:
        log_step, finalize = logger(nlp, stdout, stderr)
        best: Dict[str, Any] = {"score": None, "dir": None}

        def keep_best(info: Optional[Dict[str, Any]]) -> None:
            if info is not None and info.get("output_path") is not None:
                last_dir = Path(info["output_path"])
                best_dir = last_dir.parent / DIR_MODEL_BEST
                best["dir"] = best_dir
                score = info["score"]
                # spaCy has already copied a new best checkpoint to model-best.
                # One before first_step stays there only until a later
                # evaluation replaces it, whatever that one scores.
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
                # One line, not wrapped: it names the directory.
                stdout.write(
                    f"Warning: {best['dir']} is an evaluation before step {first_step}: training "
                    f"ended before a later one (fewer steps than [training] eval_frequency); "
                    "use model-last, or lower eval_frequency\n"
                )

        return keep_best, finish

    return setup_logger
