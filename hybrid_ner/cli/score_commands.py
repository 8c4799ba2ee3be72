"""CLI commands that score: ``scores`` compares evaluation results,
``score-proposals`` scores proposals against gold entities."""

from pathlib import Path
from typing import Any, List, Mapping, Optional

import spacy
import typer
from spacy.tokens import Doc, Span
from wasabi import msg

from ..atomic import write_json
from ..corpus import read_docbin
from ..errors import HybridNerError
from ..evaluation import proposal_quality, score_rows
from ..layers import LLM_KEY
from ._app import app
from ._checks import check_outputs


@app.command("scores")
def scores_cli(
    metrics: List[Path] = typer.Argument(..., help="Metrics JSON files written by spacy evaluate"),
) -> None:
    """Print entity F1 (precision/recall) overall and per label, one row per
    metrics file, to compare training conditions."""
    header, rows = score_rows(metrics)
    msg.table(rows, header=header, divider=True)


#: Columns of the ``score-proposals`` table.
PROPOSAL_HEADER = (
    "label",
    "P",
    "R",
    "F1",
    "TP",
    "FP",
    "FN",
    "proposed",
    "gold",
    "share proposed",
    "share gold",
)


@app.command("score-proposals")
def score_proposals_cli(
    input_path: Path = typer.Argument(
        ..., help="DocBin with proposals in doc.spans[SPANS_KEY] (from hybrid-ner propose)"
    ),
    gold_path: Optional[Path] = typer.Option(
        None,
        "--gold",
        help="DocBin with the gold entities in doc.ents, same sentences in the same order "
        "(default: IN's own doc.ents)",
    ),
    spans_key: str = typer.Option(LLM_KEY, "--spans-key", help="Span group holding the proposals"),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Also write the scores as JSON"
    ),
) -> None:
    """Score LLM (or simulated) proposals against gold entities: exact-match
    precision, recall and F1 per label and micro-averaged, and the share of
    each label among the proposals and among the gold entities.

    Sentences whose gold annotation is missing (not annotated) are left out
    and counted. Without --gold, IN's own doc.ents are the gold: right for a
    clean dev set after `hybrid-ner propose`, biased for incomplete human
    annotation (its omissions count as false positives).
    """
    from ..evaluation import scorable

    check_outputs({"--output": output}, [input_path, gold_path])
    vocab = spacy.blank("en").vocab
    docs = read_docbin(input_path, vocab)
    if not any(spans_key in doc.spans for doc in docs):
        raise HybridNerError(
            f"{input_path}: no doc.spans[{spans_key!r}] in any sentence: "
            "run `hybrid-ner propose` first (or give --spans-key)"
        )
    if gold_path is not None:
        docs = with_gold(docs, read_docbin(gold_path, vocab), spans_key, input_path, gold_path)
    scored = scorable(docs)
    skipped = len(docs) - len(scored)
    if not scored:
        raise HybridNerError(
            f"{gold_path or input_path}: "
            "no sentence has a complete gold annotation to score against"
        )
    if skipped:
        msg.warn(f"{skipped} of {len(docs)} sentences have no (complete) gold annotation: left out")
    quality = proposal_quality(scored, spans_key)
    msg.table(proposal_rows(quality), header=PROPOSAL_HEADER, divider=True)
    overall = quality["overall"]
    counts = f"{overall['proposed']} proposals, {overall['gold']} gold entities"  # type: ignore[index]
    msg.info(
        f"{len(scored)} sentences: {counts}; "
        f"micro P {overall['p']:.3f} R {overall['r']:.3f} F1 {overall['f']:.3f}"  # type: ignore[index]
    )
    if not overall["proposed"]:  # type: ignore[index]
        msg.warn(
            f"No proposal in doc.spans[{spans_key!r}] of {len(scored)} sentences: these zeros "
            "measure nothing, and a calibration from this file carries no evidence (check the "
            "propose run: its examples, --dry-run, the model)"
        )
    if output is not None:
        write_json(
            output,
            {
                "input": str(input_path),
                "gold": str(gold_path or input_path),
                "spans_key": spans_key,
                "sentences": len(scored),
                "skipped": skipped,
                "micro": quality["overall"],
                "per_label": quality["per_label"],
                "distribution": quality["distribution"],
                "gold_distribution": quality["gold_distribution"],
            },
        )
        msg.good(f"Wrote {output}")


def with_gold(
    docs: List[Doc], gold: List[Doc], spans_key: str, input_path: Path, gold_path: Path
) -> List[Doc]:
    """The gold Docs with the proposals of ``docs`` copied onto them.

    RAISES (HybridNerError): If the files do not hold the same sentences
        (same tokens) in the same order, naming the first that differs.
    """
    if len(gold) != len(docs):
        raise HybridNerError(
            f"{gold_path}: {len(gold)} sentences, {input_path}: {len(docs)}; "
            "--gold needs the same sentences in the same order"
        )
    for i, (doc, gold_doc) in enumerate(zip(docs, gold), start=1):
        if [t.text for t in doc] != [t.text for t in gold_doc]:
            raise HybridNerError(
                f"{gold_path}: sentence {i} differs from sentence {i} of {input_path} "
                f"({gold_doc.text[:60]!r} vs {doc.text[:60]!r}); "
                "--gold needs the same sentences in the same order"
            )
        gold_doc.spans[spans_key] = [
            Span(gold_doc, s.start, s.end, label=s.label_) for s in doc.spans.get(spans_key, [])
        ]
    return gold


def proposal_rows(quality: Mapping[str, Any]) -> List[List[object]]:
    """Table rows (see PROPOSAL_HEADER): one per label, then "micro"."""
    shares, gold_shares = quality["distribution"], quality["gold_distribution"]
    rows: List[List[object]] = []
    for label, row in quality["per_label"].items():
        rows.append(
            _row(label, row, f"{shares.get(label, 0.0):.1%}", f"{gold_shares.get(label, 0.0):.1%}")
        )
    rows.append(
        _row(
            "micro",
            quality["overall"],
            "100%" if quality["overall"]["proposed"] else "-",
            "100%" if quality["overall"]["gold"] else "-",
        )
    )
    return rows


def _row(label: str, row: Mapping[str, Any], share: str, gold_share: str) -> List[object]:
    return [
        label,
        f"{row['p']:.3f}",
        f"{row['r']:.3f}",
        f"{row['f']:.3f}",
        row["tp"],
        row["fp"],
        row["fn"],
        row["proposed"],
        row["gold"],
        share,
        gold_share,
    ]
