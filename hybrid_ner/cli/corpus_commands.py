"""CLI commands that prepare corpora: convert, split, noise, budget.

Each checks its options and output paths before reading anything, refuses
to write over its input without ``--overwrite-input``, and replaces an
output only when it is complete (hybrid_ner.atomic).
"""

from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc
from wasabi import msg

from ..atomic import atomic_paths
from ..corpus import read_conll, read_docbin, read_jsonl, write_docbin, write_jsonl
from ..corpus.conll import SCHEMES, Repair
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

#: ``--limit`` of convert, split and noise: a first try on a sample.
LIMIT = typer.Option(
    None, "--limit", help="Only the first N sentences of the input (0 or left out: all)"
)
MAX_REPAIRS_SHOWN = 20
#: Inputs above this size say that they are being read and show the writing's progress.
LARGE_INPUT_BYTES = 5_000_000


def load_docs(path: Path, lang: str = "en") -> List[Doc]:
    """Read Docs from a ``.spacy`` DocBin or a ``.jsonl`` file (for commands
    whose input was written by ``hybrid-ner convert``)."""
    nlp = blank(lang)
    if path.suffix == ".jsonl":
        return read_jsonl(path, nlp).docs
    return read_docbin(path, nlp.vocab)


def blank(lang: str) -> Language:
    """``spacy.blank(lang)``, with an unknown language code as a one-line error."""
    try:
        return spacy.blank(lang)
    except ImportError:
        raise HybridNerError(
            f"--lang {lang!r}: not a language spaCy knows (e.g. en, de, xx)"
        ) from None


def save_docs(path: Path, docs: Sequence[Doc], progress: bool = False) -> None:
    """Write Docs as a DocBin, or as JSONL if the path ends in ``.jsonl``;
    either is replaced atomically. With ``progress``, show how far the
    writing is (a bar on a terminal, lines in a log)."""
    items: Iterable[Doc] = (
        track(docs, len(docs), f"write {path.name}", "sentence") if progress else docs
    )
    if path.suffix == ".jsonl":
        write_jsonl(path, items)
    else:
        write_docbin(path, items)


def first(docs: List[Doc], limit: Optional[int], path: Path) -> List[Doc]:
    """The first ``limit`` Docs (all for None or 0), saying so when it cuts."""
    if limit and limit < len(docs):
        msg.info(f"--limit {limit}: the first {limit} of the {len(docs)} sentences of {path}")
        return docs[:limit]
    return docs


def match_label_rates(rates: Dict[str, float], docs: Sequence[Doc]) -> Dict[str, float]:
    """Per-label rates keyed by the labels the Docs use: ``per=1.0`` on PER
    data means PER (case is ignored when it is unambiguous). A label the
    Docs do not have would silently omit nothing: refused.

    RAISES (HybridNerError): Naming the label and the labels present.
    """
    present = sorted({ent.label_ for doc in docs for ent in doc.ents})
    matched: Dict[str, float] = {}
    for label, rate in rates.items():
        if label in present:
            matched[label] = rate
            continue
        same = [p for p in present if p.lower() == label.lower()]
        if len(same) != 1:
            raise HybridNerError(
                f"--label-rate {label}: no entity has this label; "
                f"the input's labels are {', '.join(present) or 'none'}"
            )
        matched[same[0]] = rate
    return matched


def describe(docs: Sequence[Doc]) -> str:
    """One line: sentences, tokens and entities per label."""
    labels = Counter(ent.label_ for doc in docs for ent in doc.ents)
    n_ents = sum(labels.values())
    per_label = ", ".join(f"{label} {n}" for label, n in sorted(labels.items()))
    n_tokens = sum(len(d) for d in docs)
    return f"{len(docs)} sentences, {n_tokens} tokens, {n_ents} entities ({per_label})"


def report_repairs(repairs: Sequence[Repair]) -> None:
    """Print what lenient mode repaired, if anything."""
    if not repairs:
        return
    msg.warn(f"Lenient mode repaired {len(repairs)} problem(s):")
    for repair in repairs[:MAX_REPAIRS_SHOWN]:
        print(f"  {repair}")
    if len(repairs) > MAX_REPAIRS_SHOWN:
        print(f"  ... and {len(repairs) - MAX_REPAIRS_SHOWN} more")


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(
        ..., help="CoNLL-style column file, or .jsonl with character-offset spans"
    ),
    output_path: Path = typer.Argument(..., help="Output .spacy DocBin (or .jsonl)"),
    input_format: str = typer.Option(
        "auto", "--format", "-f", help="auto (by extension), conll or jsonl"
    ),
    token_column: int = typer.Option(
        0, help="Column of the token (0-based; negative counts from the end)"
    ),
    tag_column: int = typer.Option(-1, help="Column of the NER tag (default: last)"),
    separator: str = typer.Option("auto", help="auto, tab or space"),
    scheme: str = typer.Option(
        "auto", help=f"Tagging scheme: {', '.join(SCHEMES)} (BIOES = bilou)"
    ),
    lenient: bool = typer.Option(
        False, "--lenient", help="Repair what is safe to repair and report it, instead of failing"
    ),
    encoding: str = typer.Option("utf-8", help="Text encoding of the input"),
    lang: str = typer.Option("en", help="Language of the tokenizer/vocab (JSONL without tokens)"),
    limit: Optional[int] = LIMIT,
    overwrite_input: bool = OVERWRITE_INPUT,
) -> None:
    """Convert a corpus to a DocBin: one Doc per sentence, document ids kept.

    Reads CoNLL-style column files (any number of columns, tag last by default,
    IOB1/IOB2/BILUO/IO detected, -DOCSTART- before or after documents) and
    JSONL with character-offset spans as annotation tools export them.
    """
    fmt = input_format
    if fmt == "auto":
        fmt = "jsonl" if input_path.suffix == ".jsonl" else "conll"
    if fmt not in ("conll", "jsonl"):
        raise HybridNerError(f"Unknown --format {input_format!r}: expected auto, conll or jsonl")
    check_range("--limit", limit, 0)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    nlp = blank(lang)
    large = input_path.is_file() and input_path.stat().st_size > LARGE_INPUT_BYTES
    if large:
        msg.info(f"Reading {input_path} ({input_path.stat().st_size / 1e6:.0f} MB)")
    if fmt == "conll":
        conll = read_conll(
            input_path,
            nlp.vocab,
            token_column=token_column,
            tag_column=tag_column,
            separator=separator,
            scheme=scheme,
            strict=not lenient,
            encoding=encoding,  # type: ignore[arg-type]
        )
        docs, repairs = conll.docs, conll.repairs
        if conll.has_document_markers:
            msg.info(
                f"{input_path}: {conll.n_documents} documents, "
                f"tagging scheme {conll.scheme.upper()}"
            )
        else:
            msg.info(
                f"{input_path}: no -DOCSTART- lines, so each of the {len(docs)} sentences is "
                f"its own document (splits and few-shot retrieval work by sentence); "
                f"tagging scheme {conll.scheme.upper()}"
            )
    else:
        corpus = read_jsonl(input_path, nlp, strict=not lenient, encoding=encoding)
        docs, repairs = corpus.docs, corpus.repairs
        if corpus.n_skipped:
            msg.info(f"Skipped {corpus.n_skipped} record(s) answered reject/ignore")
    report_repairs(repairs)
    docs = first(docs, limit, input_path)
    save_docs(output_path, docs, progress=large)
    msg.good(f"Wrote {output_path}: {describe(docs)}")


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
    """Split a corpus into train/dev/test by document (seeded), for corpora
    that have no official split (WikiGold). The three files are written all
    or nothing: each is complete on disk before any replaces an old one."""
    for option, value in (("--train", train), ("--dev", dev), ("--test", test)):
        check_range(option, value, 0, 1)
    check_range("--limit", limit, 0)
    names = ("train", "dev", "test")
    outputs = {f"DIR/{name}.spacy": output_dir / f"{name}.spacy" for name in names}
    check_outputs(outputs, [input_path], overwrite_input, overwritable=list(outputs))
    docs = first(load_docs(input_path), limit, input_path)
    try:
        parts = split_by_document(docs, {"train": train, "dev": dev, "test": test}, seed)
    except ValueError as err:
        raise HybridNerError(f"{input_path}: {err}") from None
    paths = [output_dir / f"{name}.spacy" for name in parts]
    contents = [docbin_bytes(part)[0] for part in parts.values()]
    with atomic_paths(paths) as tmps:
        for path, tmp, data in zip(paths, tmps, contents):
            try:
                tmp.write_bytes(data)
            except OSError as err:
                raise OutputPathError(
                    path, f"{err.strerror or err}; none of the {len(paths)} files was changed"
                ) from None
    for path, part in zip(paths, parts.values()):
        n_docs = len({d.user_data.get(DOC_ID) for d in part})
        msg.good(f"{path}: {n_docs} documents, {describe(part)}")


def parse_label_rates(values: Optional[List[str]]) -> Dict[str, float]:
    """Per-label rates from ``LABEL=RATE`` options. RAISES (HybridNerError): If malformed."""
    rates: Dict[str, float] = {}
    for value in values or []:
        label, sep, rate = value.partition("=")
        try:
            rates[label] = float(rate)
        except ValueError:
            sep = ""
        if not sep or not label:
            raise HybridNerError(f"--label-rate expects LABEL=RATE (e.g. PER=0.5), got {value!r}")
    return rates


@app.command("noise")
def noise_cli(
    input_path: Path = typer.Argument(..., help="Input .spacy with gold entities"),
    output_path: Path = typer.Argument(..., help="Output .spacy"),
    omit_rate: float = typer.Option(
        ..., "--omit-rate", "-r", help="Probability of dropping each entity"
    ),
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
    """Simulate human annotation with omissions: drop each entity with a
    probability. Dropped entities are kept in doc.spans["omitted"]; text and
    tokens are unchanged; the same seed gives byte-identical output."""
    if omission_model not in OMISSION_MODELS:
        raise HybridNerError(
            f"--omission-model {omission_model!r}: use one of {', '.join(OMISSION_MODELS)}"
        )
    rates = parse_label_rates(label_rate)
    check_range("--omit-rate", omit_rate, 0, 1)
    for label, rate in rates.items():
        check_range(f"--label-rate {label}", rate, 0, 1)
    check_range("--limit", limit, 0)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    docs = first(load_docs(input_path), limit, input_path)
    rates = match_label_rates(rates, docs)
    try:
        noisy = simulate_omissions(docs, omit_rate, seed, rates, omission_model)  # type: ignore[arg-type]
    except ValueError as err:
        raise HybridNerError(str(err)) from None
    write_docbin(output_path, noisy)
    n_before = sum(len(d.ents) for d in docs)
    n_after = sum(len(d.ents) for d in noisy)
    msg.good(
        f"Wrote {output_path}: kept {n_after} of {n_before} entities "
        f"({1 - n_after / max(n_before, 1):.1%} omitted)"
    )


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
    """Simulate an annotation budget: only a seeded fraction of documents keeps
    human annotation; the others become unannotated (MISSING, not "no entity")."""
    check_range("--fraction", fraction, 0, 1)
    check_outputs({"OUT": output_path}, [input_path], overwrite_input)
    docs = load_docs(input_path)
    try:
        budgeted = simulate_budget(docs, fraction, seed)
    except ValueError as err:
        raise HybridNerError(str(err)) from None
    write_docbin(output_path, budgeted)
    n_annotated = sum(1 for d in budgeted if d.user_data[HUMAN_ANNOTATED])
    msg.good(
        f"Wrote {output_path}: {n_annotated} of {len(budgeted)} sentences keep human annotation"
    )
