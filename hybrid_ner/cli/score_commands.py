"""``hybrid-ner scores`` and ``hybrid-ner score-proposals``."""

from pathlib import Path
from typing import List, Optional

import spacy
import typer
from spacy.tokens import Span
from wasabi import msg

from ..atomic import write_json
from ..corpus import read_docbin
from ..errors import HybridNerError
from ..evaluation import proposal_quality, scorable, score_rows
from ..layers import LLM_KEY
from ._app import app
from ._checks import check_outputs

PROPOSAL_HEADER = ("label", "P", "R", "F1", "TP", "FP", "FN", "proposed", "gold")


@app.command("scores")
def scores_cli(
    metrics: List[Path] = typer.Argument(..., help="Metrics JSON files written by spacy evaluate"),
) -> None:
    """Print entity F1 (P/R) overall and per label, one row per metrics file."""
    header, rows = score_rows(metrics)
    msg.table(rows, header=header, divider=True)


@app.command("score-proposals")
def score_proposals_cli(
    input_path: Path = typer.Argument(..., help="DocBin with proposals in doc.spans[SPANS_KEY]"),
    gold_path: Optional[Path] = typer.Option(
        None, "--gold", help="DocBin with the same sentences' gold doc.ents (default: IN's)"
    ),
    spans_key: str = typer.Option(LLM_KEY, "--spans-key", help="Span group holding the proposals"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write them as JSON"),
) -> None:
    """Score proposals against gold entities: exact-match P/R/F1 and label shares.
    Without --gold, IN's own doc.ents are the gold (biased if incomplete).
    """
    check_outputs({"--output": output}, [input_path, gold_path])
    vocab = spacy.blank("en").vocab
    docs = read_docbin(input_path, vocab)
    if not any(spans_key in doc.spans for doc in docs):
        raise HybridNerError(
            f"{input_path}: no doc.spans[{spans_key!r}] in any sentence: "
            "run `hybrid-ner propose` first (or give --spans-key)"
        )
    if gold_path is not None:  # the proposals copied onto the gold Docs
        gold = read_docbin(gold_path, vocab)
        same = "--gold needs the same sentences in the same order"
        if len(gold) != len(docs):
            raise HybridNerError(
                f"{gold_path}: {len(gold)} sentences, {input_path}: {len(docs)}; {same}"
            )
        for i, (doc, gold_doc) in enumerate(zip(docs, gold), start=1):
            if [t.text for t in doc] != [t.text for t in gold_doc]:
                raise HybridNerError(
                    f"{gold_path}: sentence {i} differs from sentence {i} of {input_path} "
                    f"({gold_doc.text[:60]!r} vs {doc.text[:60]!r}); {same}"
                )
            proposals = doc.spans.get(spans_key, [])
            gold_doc.spans[spans_key] = [
                Span(gold_doc, s.start, s.end, s.label_) for s in proposals
            ]
        docs = gold
    scored = scorable(docs)
    if not scored:
        raise HybridNerError(
            f"{gold_path or input_path}: no sentence has a complete gold annotation to score"
        )
    if len(scored) < len(docs):
        skipped = len(docs) - len(scored)
        msg.warn(f"{skipped} of {len(docs)} sentences have no (complete) gold annotation: left out")
    quality = proposal_quality(scored, spans_key)
    overall, per_label = quality["overall"], quality["per_label"]
    shares = (quality["distribution"], quality["gold_distribution"])
    rows = [
        [label, *(f"{row[k]:.3f}" for k in "prf"), *(row[k.lower()] for k in PROPOSAL_HEADER[4:])]
        + [f"{share.get(label, 0.0):.1%}" for share in shares]
        for label, row in [*per_label.items(), ("micro", overall)]
    ]
    rows[-1][-2:] = ["100%" if overall[k] else "-" for k in ("proposed", "gold")]
    header = (*PROPOSAL_HEADER, "share proposed", "share gold")
    msg.table(rows, header=header, divider=True)
    msg.info(
        f"{len(scored)} sentences: {overall['proposed']} proposals, {overall['gold']} gold "
        f"entities; micro P {overall['p']:.3f} R {overall['r']:.3f} F1 {overall['f']:.3f}"
    )
    if not overall["proposed"]:
        msg.warn(
            f"No proposal in doc.spans[{spans_key!r}] of {len(scored)} sentences: these zeros "
            "measure nothing, and a calibration from this file carries no evidence (check the "
            "propose run: its examples, --dry-run, the model)"
        )
    if output is not None:
        gold = str(gold_path or input_path)
        counts = {"sentences": len(scored), "skipped": len(docs) - len(scored)}
        sources = {"input": str(input_path), "gold": gold, "spans_key": spans_key, **counts}
        keys = ("per_label", "distribution", "gold_distribution")
        write_json(output, {**sources, "micro": overall, **{k: quality[k] for k in keys}})
        msg.good(f"Wrote {output}")
