"""``hybrid-ner record-answers``: the cached answers of corpora as a recording."""

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ..corpus import read_docbin
from ..errors import HybridNerError
from ._app import app
from ._checks import check_outputs


@app.command("record-answers")
def record_answers_cli(
    output: Path = typer.Argument(..., help="The recording to write (.jsonl.gz)"),
    inputs: List[Path] = typer.Argument(..., help="DocBins whose answers to record (as `propose`)"),
    config_path: Optional[Path] = typer.Option(None, "--config", "-c", help="`propose`'s config"),
    examples: Optional[Path] = typer.Option(None, help="The example pool `propose` used"),
    k: Optional[int] = typer.Option(None, help="Few-shot examples per sentence (--k)"),
    query: Optional[str] = typer.Option(None, help="single or per-type (--query)"),
    cache: Optional[Path] = typer.Option(None, help="The prompt cache `propose` used (--cache)"),
    note: str = typer.Option("", help="Free text for the provenance (e.g. the text's licence)"),
) -> None:
    """Write the cached answers of every prompt `propose` sends for INPUTS to OUTPUT, with
    provenance (model and weights hash, settings, date); fails if an answer is not cached."""
    from ..llm import config as cfg
    from ..llm.cache import write_recorded

    if not output.name.endswith(".jsonl.gz"):
        raise HybridNerError(f"{output}: a recording is a .jsonl.gz file")
    for path in inputs:
        if not path.is_file():
            raise HybridNerError(f"{path}: file not found")
    check_outputs({"OUTPUT": output}, [*inputs, config_path, examples, cache])
    flags = {"--query": query, "--examples": examples, "--k": k, "--cache": cache}
    proposer = cfg.build_proposer(cfg.configure(config_path, flags, {}))
    task, model = proposer.task, proposer.model
    prompt_cache = getattr(model, "cache", None)
    if prompt_cache is None:
        raise HybridNerError("The proposal config has no prompt cache to record from")
    keys: List[str] = []
    per_input = []
    for path in inputs:
        docs = read_docbin(path, proposer.nlp.vocab)
        new = [
            model.key(prompt) for prompts, _ in task.generate_prompts(docs) for prompt in prompts
        ]
        keys += new
        per_input.append({"file": str(path), "sentences": len(docs), "prompts": len(new)})
    unique = list(dict.fromkeys(keys))
    if not prompt_cache.path.is_file():
        raise HybridNerError(f"{prompt_cache.path}: prompt cache not found")
    rows = prompt_cache.rows(unique)
    backend, retriever = model.backend, getattr(task, "examples", None)
    # The prompt version: any change of the instructions changes every key.
    instructions = str(getattr(task.prompt, "instructions", "")).encode("utf-8")
    examples = None
    if retriever is not None:
        pool, name = str(retriever.pool_source), type(retriever).__name__
        examples = {"retriever": name, "pool": pool, "k": retriever.k}
    provenance = {
        "model": getattr(backend, "model_id", None),
        "weights_sha256": getattr(getattr(backend, "weights", None), "sha256", None),
        "generation": dict(model.generation),
        "prompt_format": type(task.prompt).__name__,
        "instructions_sha256": hashlib.sha256(instructions).hexdigest(),
        "labels": list(task.labels),
        "examples": examples,
        "inputs": per_input,
        "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": note,
    }
    n = write_recorded(output, rows, provenance)
    sentences = sum(i["sentences"] for i in per_input)
    msg.good(f"Recorded {n} answers ({len(keys)} prompts of {sentences} sentences) to {output}")
