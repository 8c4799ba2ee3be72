"""CLI commands that prepare corpora: convert, split, noise, budget."""

from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import spacy
import typer
from spacy.tokens import Doc
from wasabi import msg

from ..atomic import atomic_paths
from ..corpus import read_conll, read_docbin, read_jsonl, write_docbin, write_jsonl
from ..corpus.conll import SCHEMES
from ..corpus.docbin import docbin_bytes
from ..corpus.split import split_by_document
from ..errors import HybridNerError, OutputPathError
from ..layers import DOC_ID, HUMAN_ANNOTATED
from ..progress import track
from ..simulation.omissions import (
    DEFAULT_OMISSION_MODEL,
    OMISSION_MODELS,
    simulate_budget,
    simulate_omissions,
)
from ._app import app
from ._checks import OVERWRITE_INPUT, check_outputs, check_range

LIMIT = typer.Option(None, "--limit", help="Only the first N sentences (0 or left out: all)")
MAX_REPAIRS_SHOWN = 20
LARGE_INPUT_BYTES = 5_000_000  # above it, say that the input is read and show the writing


def _first(docs: List[Doc], limit: Optional[int], path: Path) -> List[Doc]:
    """The first ``limit`` Docs (all for None or 0)."""
    if limit and limit < len(docs):
        msg.info(f"--limit {limit}: the first {limit} of the {len(docs)} sentences of {path}")
        return docs[:limit]
    return docs


def _load(path: Path, limit: Optional[int] = None) -> List[Doc]:
    """The first ``limit`` Docs of a ``.spacy`` or ``.jsonl`` file."""
    nlp = spacy.blank("en")
    docs = read_jsonl(path, nlp).docs if path.suffix == ".jsonl" else read_docbin(path, nlp.vocab)
    return _first(docs, limit, path)


def _describe(docs: Sequence[Doc]) -> str:
    labels = Counter(ent.label_ for doc in docs for ent in doc.ents)
    per_label = ", ".join(f"{label} {n}" for label, n in sorted(labels.items()))
    n_tokens, n_ents = sum(len(d) for d in docs), sum(labels.values())
    return f"{len(docs)} sentences, {n_tokens} tokens, {n_ents} entities ({per_label})"


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="CoNLL-style column file or .jsonl with spans"),
    output_path: Path = typer.Argument(..., help="Output .spacy DocBin (or .jsonl)"),
    input_format: str = typer.Option(
        "auto", "--format", "-f", help="auto (by suffix), conll, jsonl"
    ),
    token_column: int = typer.Option(0, help="Token column (0-based; negative from the end)"),
    tag_column: int = typer.Option(-1, help="Column of the NER tag (default: last)"),
    separator: str = typer.Option("auto", help="auto, tab or space"),
    scheme: str = typer.Option("auto", help=f"{', '.join(SCHEMES)} (BIOES = bilou)"),
    lenient: bool = typer.Option(
        False, "--lenient", help="Repair what is safe and report it, instead of failing"
    ),
    encoding: str = typer.Option("utf-8", help="Text encoding of the input"),
    lang: str = typer.Option("en", help="Language of the tokenizer/vocab (JSONL without tokens)"),
    limit: Optional[int] = LIMIT,
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Convert a CoNLL-style column file or JSONL with spans to a DocBin, one Doc per sentence."""
    auto = "jsonl" if input_path.suffix == ".jsonl" else "conll"
    fmt = auto if input_format == "auto" else input_format
    if fmt not in ("conll", "jsonl"):
        raise HybridNerError(f"Unknown --format {input_format!r}: expected auto, conll or jsonl")
    check_range("--limit", limit, 0)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    try:
        nlp = spacy.blank(lang)
    except ImportError:
        raise HybridNerError(f"--lang {lang!r}: not a language spaCy knows (e.g. en, xx)") from None
    large = input_path.is_file() and input_path.stat().st_size > LARGE_INPUT_BYTES
    if large:
        msg.info(f"Reading {input_path} ({input_path.stat().st_size / 1e6:.0f} MB)")
    if fmt == "conll":
        corpus = read_conll(
            input_path,
            nlp.vocab,
            token_column=token_column,
            tag_column=tag_column,
            separator=separator,  # type: ignore[arg-type]
            scheme=scheme,  # type: ignore[arg-type]
            strict=not lenient,
            encoding=encoding,
        )
        docs, repairs = corpus.docs, corpus.repairs
        where = f"{corpus.n_documents} documents"
        if not corpus.has_document_markers:
            where = f"no -DOCSTART- lines, so each of the {len(docs)} sentences is its own "
            where += "document (splits and few-shot retrieval work by sentence)"
        msg.info(f"{input_path}: {where}, tagging scheme {corpus.scheme.upper()}")
    else:
        jsonl = read_jsonl(input_path, nlp, strict=not lenient, encoding=encoding)
        docs, repairs = jsonl.docs, jsonl.repairs
        if jsonl.n_skipped:
            msg.info(f"Skipped {jsonl.n_skipped} record(s) answered reject/ignore")
    if repairs:
        msg.warn(f"Lenient mode repaired {len(repairs)} problem(s):")
        print("\n".join(f"  {repair}" for repair in repairs[:MAX_REPAIRS_SHOWN]))
        if len(repairs) > MAX_REPAIRS_SHOWN:
            print(f"  ... and {len(repairs) - MAX_REPAIRS_SHOWN} more")
    docs = _first(docs, limit, input_path)
    items = track(docs, len(docs), f"write {output_path.name}", "sentence") if large else docs
    (write_jsonl if output_path.suffix == ".jsonl" else write_docbin)(output_path, items)
    msg.good(f"Wrote {output_path}: {_describe(docs)}")


@app.command("split")
def split_cli(
    input_path: Path = typer.Argument(..., help="Input .spacy (from convert)"),
    output_dir: Path = typer.Argument(..., help="Directory for train.spacy, dev.spacy, test.spacy"),
    train: float = typer.Option(0.8, help="Fraction of documents for train"),
    dev: float = typer.Option(0.1, help="Fraction of documents for dev"),
    test: float = typer.Option(0.1, help="Fraction of documents for test"),
    seed: int = typer.Option(0, help="Random seed"),
    limit: Optional[int] = LIMIT,
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Split a corpus into train/dev/test by document (seeded); all three files or none."""
    fractions = {"train": train, "dev": dev, "test": test}
    for name, value in fractions.items():
        check_range(f"--{name}", value, 0, 1)
    check_range("--limit", limit, 0)
    paths = {f"DIR/{name}.spacy": output_dir / f"{name}.spacy" for name in fractions}
    check_outputs(paths, [input_path], overwrite_input, overwritable=list(paths))
    try:
        parts = split_by_document(_load(input_path, limit), fractions, seed)
    except ValueError as err:
        raise HybridNerError(f"{input_path}: {err}") from None
    with atomic_paths(list(paths.values())) as tmps:
        for path, tmp, part in zip(paths.values(), tmps, parts.values()):
            try:
                tmp.write_bytes(docbin_bytes(part)[0])
            except OSError as err:
                why = f"{err.strerror or err}; none of the {len(paths)} files was changed"
                raise OutputPathError(path, why) from None
    for path, part in zip(paths.values(), parts.values()):
        n_docs = len({d.user_data.get(DOC_ID) for d in part})
        msg.good(f"{path}: {n_docs} documents, {_describe(part)}")


@app.command("noise")
def noise_cli(
    input_path: Path = typer.Argument(..., help="Input .spacy with gold entities"),
    output_path: Path = typer.Argument(..., help="Output .spacy"),
    omit_rate: float = typer.Option(..., "--omit-rate", "-r", help="Chance to drop each entity"),
    seed: int = typer.Option(0, help="Random seed"),
    label_rate: Optional[List[str]] = typer.Option(
        None, "--label-rate", help="Per-label rate LABEL=RATE; repeatable (uniform model only)"
    ),
    omission_model: str = typer.Option(
        DEFAULT_OMISSION_MODEL,
        "--omission-model",
        help="uniform: every entity equally likely; hard: rare, long, lowercase entities and the "
        "hardest label omitted more often, at the same overall rate (docs/method.md)",
    ),
    limit: Optional[int] = LIMIT,
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Simulate human annotation with omissions: drop each entity with a probability (kept in
    doc.spans["omitted"]); the same seed gives byte-identical output."""
    if omission_model not in OMISSION_MODELS:
        why = f"use one of {', '.join(OMISSION_MODELS)}"
        raise HybridNerError(f"--omission-model {omission_model!r}: {why}")
    rates: Dict[str, float] = {}
    for value in label_rate or []:
        label, _, rate = value.partition("=")
        try:
            rates[label] = float(rate) if label else float("x")
        except ValueError:
            why = f"expects LABEL=RATE (e.g. PER=0.5), got {value!r}"
            raise HybridNerError(f"--label-rate {why}") from None
        check_range(f"--label-rate {label}", rates[label], 0, 1)
    check_range("--omit-rate", omit_rate, 0, 1)
    check_range("--limit", limit, 0)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    docs = _load(input_path, limit)
    # ``per=0.5`` on PER data means PER (case ignored where unambiguous); a label
    # the data lacks would silently omit nothing, so it is refused.
    present = sorted({ent.label_ for doc in docs for ent in doc.ents})
    matched: Dict[str, float] = {}
    for label, rate in rates.items():
        same = [label] if label in present else [p for p in present if p.lower() == label.lower()]
        if len(same) != 1:
            why = f"no entity has this label; the input's labels are {', '.join(present) or 'none'}"
            raise HybridNerError(f"--label-rate {label}: {why}")
        matched[same[0]] = rate
    try:
        noisy = simulate_omissions(docs, omit_rate, seed, matched, omission_model)  # type: ignore[arg-type]
    except ValueError as err:
        raise HybridNerError(str(err)) from None
    write_docbin(output_path, noisy)
    n_before, n_after = sum(len(d.ents) for d in docs), sum(len(d.ents) for d in noisy)
    omitted = 1 - n_after / max(n_before, 1)
    msg.good(f"Wrote {output_path}: kept {n_after} of {n_before} entities ({omitted:.1%} omitted)")


@app.command("budget")
def budget_cli(
    input_path: Path = typer.Argument(..., help="Input .spacy with human entities"),
    output_path: Path = typer.Argument(..., help="Output .spacy"),
    fraction: float = typer.Option(
        ..., "--fraction", help="Fraction of documents a human annotated"
    ),
    seed: int = typer.Option(0, help="Random seed"),
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Simulate an annotation budget: only a seeded fraction of documents keeps human
    annotation; the others become unannotated (MISSING, not "no entity")."""
    check_range("--fraction", fraction, 0, 1)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    try:
        budgeted = simulate_budget(_load(input_path), fraction, seed)
    except ValueError as err:
        raise HybridNerError(str(err)) from None
    write_docbin(output_path, budgeted)
    n_kept = sum(1 for d in budgeted if d.user_data[HUMAN_ANNOTATED])
    msg.good(f"Wrote {output_path}: {n_kept} of {len(budgeted)} sentences keep human annotation")
