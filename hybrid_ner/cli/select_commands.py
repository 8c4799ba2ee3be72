"""CLI command ``select``: which documents the human should annotate (docs/method.md)."""

from dataclasses import asdict
from pathlib import Path
from typing import Optional

import spacy
import srsly
import typer
from wasabi import msg

from ..atomic import write_text
from ..corpus import read_docbin, write_docbin
from ..corpus.jsonl import doc_to_record
from ..errors import HybridNerError, OptionError
from ..layers import LLM_KEY
from ..merge.selection import RandomSelection, UncertaintySelection
from ._app import app
from ._checks import check_outputs, check_range

STRATEGIES = ("uncertainty", "random")


@app.command("select")
def select_cli(
    input_path: Path = typer.Argument(..., help="DocBin with the annotator's proposals"),
    output_path: Path = typer.Argument(..., help="Ranking JSONL (rank, doc_id, score, why)"),
    budget: Optional[float] = typer.Option(None, help="Share of documents to select, in (0, 1]"),
    strategy: str = typer.Option("uncertainty", help="uncertainty or random"),
    calibration: Optional[Path] = typer.Option(None, help="Dev set with gold after propose"),
    teacher: Optional[Path] = typer.Option(None, help="Human-only soft NER: the prior"),
    seed: int = typer.Option(0, help="Seed of the random order (and of ties)"),
    spans_key: str = typer.Option(LLM_KEY, help="Span group holding the proposals"),
) -> None:
    """Rank the documents by the value of a human annotation; with --budget also write the
    chosen sentences, proposals pre-filled, as <OUT stem>.selected.spacy and .selected.jsonl."""
    check_range("--budget", budget, 0, 1, low_open=True)
    if strategy not in STRATEGIES:
        raise OptionError(f"Unknown --strategy {strategy!r}: use {', '.join(STRATEGIES)}")
    if strategy == "uncertainty" and calibration is None:
        raise OptionError("--strategy uncertainty needs --calibration (dev set after propose)")
    stem = output_path.name.rsplit(".", 1)[0]
    paths = [
        output_path.with_name(f"{stem}.selected.{ext}") if budget else None
        for ext in ("spacy", "jsonl")
    ]
    check_outputs(
        dict(zip(("OUT", "DocBin", "JSONL"), [output_path, *paths])), [input_path, calibration]
    )
    docs = read_docbin(input_path, spacy.blank("en").vocab)
    missing = sum(spans_key not in doc.spans for doc in docs)
    if missing or not docs:
        raise HybridNerError(
            f"{input_path}: {missing} of {len(docs)} Docs have no doc.spans[{spans_key!r}] "
            "(run `hybrid-ner propose` on it first, or name the group with --spans-key)"
        )
    selection = UncertaintySelection(seed, calibration, teacher, spans_key)
    selection = RandomSelection(seed) if strategy == "random" else selection
    ranking = selection.rank(docs, budget)
    lines = [{"rank": rank, **asdict(unit)} for rank, unit in enumerate(ranking, 1)]
    write_text(output_path, "".join(srsly.json_dumps(line) + "\n" for line in lines))
    msg.good(f"Ranked {len(ranking)} documents ({strategy}) → {output_path}")
    if budget:
        chosen = [(u, i) for u in selection.choose(docs, budget, ranking) for i in u.sentences]
        records = [doc_to_record(docs[i], docs[i].spans[spans_key]) for _, i in chosen]
        for record, (unit, _) in zip(records, chosen):
            record["meta"] = {"doc_id": unit.doc_id, **record.get("meta", {}), "score": unit.score}
        write_docbin(paths[0], [docs[i] for _, i in chosen])  # type: ignore[arg-type]
        write_text(paths[1], "".join(srsly.json_dumps(r) + "\n" for r in records))  # type: ignore[arg-type]
        msg.good(f"Selected {len(records)} sentences → {paths[0]}, {paths[1]}")
