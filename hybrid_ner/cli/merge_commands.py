"""CLI commands of the merge step: ``merge`` and ``stats``."""
from pathlib import Path
from typing import List, Optional

import spacy
import srsly
import typer
from spacy.tokens import Doc
from wasabi import msg

from ..annotation_layers import LLM_ADDED_KEY, LLM_KEY
from ..corpus import read_docbin, write_docbin
from ..errors import HybridNerError
from ..merge import OVERLAP_RULES, UNCOVERED, AcceptAll, AcceptancePolicy, Merger, create_accept_labels, create_accept_reliable
from ..merge_stats import SUMMARY_HEADER, summarize_merge, summary_table, summary_to_json
from ..mixing import LabelMixing
from ._app import app

# Options shared by both commands.
LLM_KEY_OPT = typer.Option(LLM_KEY, "--llm-key", help="Span group holding the LLM proposals")
BALANCE = typer.Option(1.0, help="Label mixing: class-imbalance correction exponent (0 = reliability only)")


def build_merger(accept: str, labels: str, min_precision: float, min_support: int, overlap: str, uncovered: str, seed: int, llm_key: str) -> Merger:
    """The Merger the command-line options describe."""
    policy: AcceptancePolicy
    if accept == "all":
        policy = AcceptAll()
    elif accept == "labels":
        wanted = [label.strip() for label in labels.split(",") if label.strip()]
        if not wanted:
            raise HybridNerError("--accept labels needs --labels, e.g. --labels PER,LOC")
        policy = create_accept_labels(wanted)
    elif accept == "reliable":
        policy = create_accept_reliable(min_precision=min_precision, min_support=min_support)
    else:
        raise HybridNerError(f"Unknown --accept {accept!r}: use all, labels or reliable")
    if overlap not in OVERLAP_RULES:
        raise HybridNerError(f"Unknown --overlap {overlap!r}: use one of {', '.join(OVERLAP_RULES)}")
    if uncovered not in UNCOVERED:
        raise HybridNerError(f"Unknown --uncovered {uncovered!r}: use outside or missing")
    return Merger(accept=policy, overlap=overlap, uncovered=uncovered, seed=seed, llm_key=llm_key)  # type: ignore[arg-type]


def _read(path: Path) -> List[Doc]:
    return read_docbin(path, spacy.blank("en").vocab)


@app.command("merge")
def merge_cli(
    input_path: Path = typer.Argument(..., help="DocBin with human doc.ents and LLM proposals in doc.spans['llm']"),
    output_path: Path = typer.Argument(..., help="Output DocBin: merged doc.ents plus provenance span groups"),
    accept: str = typer.Option("all", help="Label acceptance: all, labels (see --labels) or reliable (see --min-precision)"),
    labels: str = typer.Option("", help="Comma-separated labels accepted with --accept labels"),
    min_precision: float = typer.Option(0.3, help="--accept reliable: minimum LLM precision against the human, per label"),
    min_support: int = typer.Option(10, help="--accept reliable: labels with fewer doubly annotated proposals are accepted"),
    overlap: str = typer.Option("longest", help=f"Rule for overlapping proposals: {', '.join(OVERLAP_RULES)}"),
    uncovered: str = typer.Option("outside", help="Tokens in no entity: outside (no entity) or missing (ignored by the loss)"),
    seed: int = typer.Option(0, help="Seed of --overlap random"),
    llm_key: str = LLM_KEY_OPT,
    soft_targets: bool = typer.Option(False, "--soft-targets", help="Also store label-mixing targets in doc.user_data['soft_targets']"),
    balance: float = BALANCE,
) -> None:
    """Merge LLM proposals into the human annotation, the human always winning.

    Human entities are kept as they are; a proposal is added only where it
    overlaps no human entity and its label is accepted. Provenance stays on
    each Doc: doc.spans["human"], ["llm_added"], ["llm_rejected"] (the reason
    in Span.id_).
    """
    merger = build_merger(accept, labels, min_precision, min_support, overlap, uncovered, seed, llm_key)
    docs = merger.merge_all(_read(input_path))
    if soft_targets:
        mixing = LabelMixing(balance=balance)
        lambdas = mixing.fit(merger.stats)
        for doc in docs:
            mixing.attach(doc, lambdas)
    write_docbin(output_path, docs)
    summary = summarize_merge(docs, merger.stats, llm_key=llm_key)
    added = sum(s.added for s in summary.values())
    rejected = sum(s.n_rejected for s in summary.values())
    msg.good(f"Merged {len(docs)} docs: {added} proposals added, {rejected} rejected → {output_path}")


@app.command("stats")
def stats_cli(
    input_path: Path = typer.Argument(..., help="DocBin with proposals, merged (hybrid-ner merge) or not"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the figures as JSON"),
    llm_key: str = LLM_KEY_OPT,
    balance: float = BALANCE,
) -> None:
    """Per label: human, proposed, added, rejected (by reason), the LLM's
    precision against the human, label-mixing λ, and the class distribution
    of human, LLM and merged labels.

    A file that was not merged yet is merged in memory with the default
    settings; for other settings run `hybrid-ner merge` first.
    """
    docs = _read(input_path)
    merger = Merger(llm_key=llm_key).fit(docs)
    if not any(LLM_ADDED_KEY in doc.spans for doc in docs):
        msg.info(f"{input_path} is not merged yet: merging in memory with the default settings")
        merger.merge_all(docs, fit=False)
    lambdas = LabelMixing(balance=balance).fit(merger.stats)
    summary = summarize_merge(docs, merger.stats, lambdas, llm_key=llm_key)
    msg.table(summary_table(summary), header=SUMMARY_HEADER, divider=True)
    if json_path is not None:
        srsly.write_json(json_path, {"input": str(input_path), "docs": len(docs), "labels": summary_to_json(summary)})
        msg.good(f"Wrote {json_path}")
