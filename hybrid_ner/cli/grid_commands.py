"""``hybrid-ner grid`` (train and score the experiment grid) and ``simulate-annotator``."""

import shlex
import signal
import sys
from pathlib import Path
from typing import List, Optional

import spacy
import typer
from wasabi import msg

from ..atomic import write_json
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError, Interrupted, PartialResult
from ..evaluation import proposal_quality
from ..experiment.cells import DEFAULT_SELECTION, Cell, plan_cells
from ..experiment.conditions import CALIBRATED_CORPUS, CONDITIONS, FOCUS_RATE
from ..experiment.costs import Costs, read_usage
from ..experiment.data import GridData
from ..experiment.result import CellResult
from ..experiment.run import (
    ANNOTATORS_FILE,
    CELLS_DIR,
    RUN_FILE,
    SAMPLES_FILE,
    RunLog,
    annotator_report,
    completed,
    run_grid,
    sample_docs,
)
from ..experiment.training import TrainSettings
from ..overrides import parse_cli_overrides
from ..progress import Progress
from ..simulation.annotator import SIMULATED_KEY, SimulatedAnnotator, create_simulated_annotator
from ..simulation.omissions import DEFAULT_OMISSION_MODEL, OMISSION_MODELS
from ..simulation.presets import PRESETS
from ._app import app
from ._checks import OVERWRITE_INPUT, check_name, check_outputs, check_range


def _numbers(value: str, option: str, kind: type = float) -> list:
    try:
        return [kind(part) for part in value.split(",") if part.strip()]
    except ValueError:
        expected = "numbers" if kind is float else "integers"
        raise HybridNerError(
            f"{option}: expected comma-separated {expected}, got {value!r}"
        ) from None


def _names(value: str) -> List[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@app.command("grid", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def grid_cli(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="Dataset name for files and the report, e.g. wikigold"),
    train_path: Path = typer.Argument(..., help="Training DocBin: gold + doc.spans['llm']"),
    dev_path: Path = typer.Argument(..., help="Dev DocBin (clean gold), for model selection"),
    test_path: Path = typer.Argument(..., help="Test DocBin (clean gold)"),
    config: Path = typer.Option(Path("configs/ner_soft_cpu.cfg"), help="Training config"),
    output: Path = typer.Option(Path("metrics/grid"), help="Results: OUTPUT/DATASET/cells/*.json"),
    work_dir: Path = typer.Option(Path("training/grid"), help="Training files, logs, models"),
    rates: str = typer.Option("0,0.2,0.4,0.6", help="Omission rates of the human annotation"),
    seeds: str = typer.Option("0,1,2", help="Seeds"),
    budgets: str = typer.Option("0.1,0.25,0.5", help="Human-annotated document fractions"),
    budget_omit_rate: float = typer.Option(0.0, help="Omission rate of the budget cells' human"),
    omission_models: str = typer.Option(DEFAULT_OMISSION_MODEL, help=", ".join(OMISSION_MODELS)),
    selections: str = typer.Option(DEFAULT_SELECTION, help="Budget documents: random,uncertainty"),
    conditions: str = typer.Option("all", help=f"A subset of: {', '.join(CONDITIONS)}"),
    steps: int = typer.Option(500, help="Training steps per cell (the same for every cell)"),
    train_limit: int = typer.Option(0, help="Use only the first N training sentences (0: all)"),
    dev_limit: int = typer.Option(0, help="Use only the first N dev sentences (0: all)"),
    simulated_preset: str = typer.Option("gpt-3.5-class", help=", ".join(PRESETS)),
    simulated_query: str = typer.Option("single", help="Simulated queries: single or per-type"),
    calibration: Optional[Path] = typer.Option(None, help="The LLM's proposals on DEV_PATH"),
    llm_name: str = typer.Option("LLM", help="The LLM's name if the usage report has none"),
    usage: Optional[Path] = typer.Option(None, help="Usage report of `hybrid-ner propose`"),
    human_cost: float = typer.Option(0.06, help="Cost of a human annotation per sentence"),
    price_in: float = typer.Option(0.0005, help="LLM price per 1,000 prompt tokens"),
    price_out: float = typer.Option(0.0015, help="LLM price per 1,000 completion tokens"),
    max_minutes: float = typer.Option(0.0, help="Start no new cell after N minutes (0: no limit)"),
    keep_models: bool = typer.Option(False, "--keep-models", help="Keep the trained models"),
    jobs: int = typer.Option(1, min=1, help="Cells trained at the same time, in processes"),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the cells and exit"),
) -> None:
    """Train and score the experiment grid of one dataset; resumes where it stopped.

    Every cell trains CONFIG for STEPS steps on one condition's data and
    writes one JSON file; `hybrid-ner report` turns them into tables and plots.
    Extra options are config overrides for every cell, as in `spacy train`
    (e.g. --paths.encoder roberta-base --training.dropout 0.2).
    """
    check_name("DATASET", dataset)  # it names folders under --output and --work-dir
    extra = parse_cli_overrides(ctx)  # an unknown --option without a dot: exit 2
    check_range("--steps", steps, 1)
    limits = {"--train-limit": train_limit, "--dev-limit": dev_limit, "--human-cost": human_cost}
    limits.update({"--price-in": price_in, "--price-out": price_out, "--max-minutes": max_minutes})
    for option, value in limits.items():
        check_range(option, value, 0)
    for path in (train_path, dev_path, test_path, config):
        if not path.is_file():
            raise HybridNerError(f"{path}: file not found")
    wanted = None if conditions.strip() == "all" else _names(conditions)
    rates_, seeds_ = _numbers(rates, "--rates"), _numbers(seeds, "--seeds", int)
    budgets_, models = _numbers(budgets, "--budgets"), _names(omission_models)
    plan = (budgets_, budget_omit_rate, wanted, models, _names(selections))
    cells = plan_cells(dataset, rates_, seeds_, *plan)
    out_dir = output / dataset
    done = completed(out_dir)
    if dry_run:
        for cell in cells:
            print(("done  " if cell.cell_id in done else "to do ") + cell.cell_id)
        msg.info(f"{sum(c.cell_id in done for c in cells)} of {len(cells)} cells done")
        return
    if calibration is not None and not calibration.is_file():
        raise HybridNerError(
            f"{calibration}: calibration file not found (run `hybrid-ner propose` on {dev_path})"
        )
    if calibration is None and any(
        c.spec.annotator != "simulated" and c.selection != DEFAULT_SELECTION for c in cells
    ):
        raise HybridNerError("--selections uncertainty needs --calibration (the LLM's on DEV)")
    if calibration is None and any(
        c.spec.annotator == "llm" and c.spec.corpus == CALIBRATED_CORPUS for c in cells
    ):
        msg.warn(
            "No --calibration: the LLM's calibrated cells estimate its quality against the "
            "incomplete human annotation (biased)"
        )
    usage_report = read_usage(usage)
    if usage is not None and usage_report is None:
        msg.warn(f"{usage}: not found; LLM costs are left out")
    costs = Costs.from_usage(human_cost, usage_report, price_in, price_out)
    settings = TrainSettings(
        dev_path, test_path, config, steps, costs, dev_limit, keep_models, extra
    )

    def simulated(seed: int) -> SimulatedAnnotator:
        return create_simulated_annotator(simulated_preset, seed=seed, query=simulated_query)

    require_llm = any(cell.spec.annotator == "llm" for cell in cells)
    data = GridData(
        dataset, train_path, work_dir, simulated, train_limit, require_llm, dev_path, calibration
    )
    seed0 = cells[0].seed if cells else 0
    llm_name = str((usage_report or {}).get("model") or llm_name)
    if data.require_llm or not (out_dir / ANNOTATORS_FILE).exists():
        report = annotator_report(data, seed0, llm_name, usage_report, costs)
        write_json(out_dir / ANNOTATORS_FILE, report)
    if data.require_llm and not (out_dir / SAMPLES_FILE).exists():
        write_docbin(out_dir / SAMPLES_FILE, sample_docs(data, seed0, FOCUS_RATE))
    n_todo = sum(cell.cell_id not in done for cell in cells)
    msg.info(
        f"{dataset}: {len(cells)} cells, {len(cells) - n_todo} done, {n_todo} to train "
        f"({steps} steps each)"
    )
    command = "hybrid-ner " + shlex.join(sys.argv[1:]) if "grid" in sys.argv else ""
    log = RunLog(out_dir / RUN_FILE, command or f"hybrid-ner grid {dataset} ...", len(cells))
    bar = Progress(n_todo, f"grid {dataset}", "cell")  # a bar on a terminal, lines in a log

    def progress(cell: Cell, result: CellResult) -> None:
        bar.update(1)
        bar.write(f"{cell.cell_id}: F1 {result.f:.3f} ({result.train_seconds:.0f} s)")
        log.update(len(completed(out_dir)))  # after every cell: a killed run is recorded too

    # `kill` (SIGTERM) stops like Ctrl+C: the finished cells and the run log stay.
    previous_handler = signal.signal(signal.SIGTERM, signal.default_int_handler)
    interrupted = False
    try:
        run_grid(cells, data, settings, out_dir, max_minutes, progress, jobs)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        bar.close()
        log.update(len(completed(out_dir)))
    n_scored = sum(cell.cell_id in completed(out_dir) for cell in cells)
    where = f"{n_scored} of {len(cells)} cells scored in {out_dir / CELLS_DIR}"
    if interrupted:  # exit 130, not 0: the grid is not complete
        raise Interrupted(
            f"{dataset}: interrupted; run the same command again to resume ({where}, each written "
            "when done)"
        )
    if n_scored < len(cells):
        raise PartialResult(
            f"{dataset}: --max-minutes {max_minutes:g} reached; {where}; run the same command "
            "again to resume"
        )
    msg.good(f"{dataset}: {where}")


@app.command("simulate-annotator")
def simulate_annotator_cli(
    input_path: Path = typer.Argument(..., help="DocBin with gold entities in doc.ents"),
    output_path: Path = typer.Argument(..., help="Output DocBin, proposals in doc.spans[KEY]"),
    preset: str = typer.Option("gpt-3.5-class", help=f"Parameters: {', '.join(PRESETS)}"),
    seed: int = typer.Option(0, help="Random seed"),
    spans_key: str = typer.Option(SIMULATED_KEY, help="Span group for the proposals"),
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Proposals from a SIMULATED annotator (not an LLM) with set per-label P, R and bias."""
    annotator = create_simulated_annotator(preset, seed=seed, spans_key=spans_key)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    docs = read_docbin(input_path, spacy.blank("en").vocab)
    annotator.annotate_all(docs)
    write_docbin(output_path, docs)
    quality = proposal_quality(docs, spans_key)["overall"]
    msg.good(
        f"{annotator.name}: {quality['proposed']} proposals for {len(docs)} sentences -> "
        f"{output_path} (P {quality['p']:.3f} R {quality['r']:.3f} F1 {quality['f']:.3f})"
    )
