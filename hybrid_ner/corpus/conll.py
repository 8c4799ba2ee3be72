"""Read CoNLL-style column files into one Doc per sentence. ``-DOCSTART-`` lines are
document boundaries wherever they stand (CoNLL-2003 puts them before a document, WikiGold
after); without them each sentence is its own document."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Literal, Optional, Tuple, Union

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from ..errors import CorpusFormatError, OptionError
from ..layers import DOC_ID, SENT_INDEX, SOURCE

TaggingScheme = Literal["auto", "iob1", "iob2", "bilou", "io"]
Separator = Literal["auto", "tab", "space"]
SCHEMES = ("auto", "iob1", "iob2", "bilou", "io")
DOCSTART = "-DOCSTART-"
_PREFIXES = {"B": "B", "I": "I", "L": "L", "E": "L", "U": "U", "S": "U"}  # BIOES is BILUO
#: (text, prefix, label, line) of a data line; prefix is O, B, I, L or U.
Token = Tuple[str, str, str, int]


@dataclass
class ConllCorpus:
    """The Docs, tagging scheme, repairs, documents, and whether there was ``-DOCSTART-``."""

    docs: List[Doc]
    scheme: str
    repairs: List[CorpusFormatError] = field(default_factory=list)  # what lenient mode repaired
    n_documents: int = 0
    has_document_markers: bool = True


def read_text_file(path: Union[str, Path], encoding: str = "utf-8") -> str:
    """A text file without its byte-order mark. RAISES (CorpusFormatError): If it is unreadable."""
    path = Path(path)
    if not path.exists():
        raise CorpusFormatError(path, None, "file not found")
    if path.is_dir():
        raise CorpusFormatError(path, None, "is a directory, expected a file")
    data = path.read_bytes()
    if not data.strip():
        raise CorpusFormatError(path, None, "file is empty")
    if b"\x00" in data[:65536]:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise CorpusFormatError(path, line, "binary data (NUL byte): expected a text file")
    try:
        return data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as err:
        line, byte = data[: err.start].count(b"\n") + 1, data[err.start : err.start + 1]
        why = f"byte {byte!r} cannot be decoded; pass the file's encoding (e.g. --encoding latin-1)"
        raise CorpusFormatError(path, line, f"not valid {encoding}: {why}") from None
    except LookupError:
        raise CorpusFormatError(path, None, f"unknown encoding {encoding!r}") from None


def read_conll(
    path: Union[str, Path],
    vocab: Optional[Vocab] = None,
    *,
    token_column: int = 0,
    tag_column: int = -1,
    separator: Separator = "auto",
    scheme: TaggingScheme = "auto",
    strict: bool = True,
    encoding: str = "utf-8",
) -> ConllCorpus:
    """Read a CoNLL-style column file.

    separator (str): "tab", "space" (any whitespace) or "auto" (tab if the first line has one).
    strict (bool): Raise on the first problem; else repair what is safe and report it.
    RAISES (CorpusFormatError): For malformed input, naming file and line.
    """
    path = Path(path)
    if scheme not in SCHEMES:
        raise OptionError(f"Unknown tagging scheme {scheme!r}: expected {', '.join(SCHEMES)}")
    if separator not in ("auto", "tab", "space"):
        raise OptionError(f"Unknown separator {separator!r}: expected auto, tab or space")
    text = read_text_file(path, encoding=encoding)
    repairs: List[CorpusFormatError] = []
    sentences, markers = _read_sentences(
        path, text, token_column, tag_column, separator, strict, repairs
    )
    if not sentences:
        raise CorpusFormatError(path, None, "no sentences found (only blank or -DOCSTART- lines)")
    if scheme == "auto":
        scheme = _detect_scheme([tokens for tokens, _, _ in sentences])
    vocab = vocab if vocab is not None else Vocab()
    docs = []
    for tokens, doc_index, sent_index in sentences:
        words = [token[0] for token in tokens]
        doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
        spans = _decode(path, tokens, scheme, strict, repairs)
        doc.set_ents([Span(doc, start, end, label=label) for start, end, label in spans])
        doc.user_data[SOURCE] = path.name
        # Without -DOCSTART- each sentence is its own document.
        doc.user_data[DOC_ID] = f"{path.stem}:{doc_index if markers else f's{sent_index}'}"
        doc.user_data[SENT_INDEX] = sent_index if markers else 0
        docs.append(doc)
    return ConllCorpus(docs, scheme, repairs, len({d.user_data[DOC_ID] for d in docs}), markers)


def _read_sentences(
    path: Path, text: str, token_col: int, tag_col: int, separator: str, strict: bool, repairs: list
) -> Tuple[List[Tuple[List[Token], int, int]], bool]:
    """(tokens, document index, sentence index) per sentence; whether there was ``-DOCSTART-``."""
    sentences: List[Tuple[List[Token], int, int]] = []
    tokens: List[Token] = []
    doc_index = sent_index = 0
    markers = False
    n_columns = first_line = 0
    for line_no, line in enumerate(text.splitlines() + [""], start=1):
        columns = []
        if line.strip():
            if separator == "auto":
                separator = "tab" if "\t" in line else "space"
            columns = [c.strip() for c in line.split("\t")] if separator == "tab" else line.split()
        if not columns or columns[0] == DOCSTART:
            if tokens:
                sentences.append((tokens, doc_index, sent_index))
                sent_index, tokens = sent_index + 1, []
            if columns:  # a boundary, before (CoNLL) or after (WikiGold) a document
                markers = True
                if sentences and sentences[-1][1] == doc_index:
                    doc_index += 1
                sent_index = 0
            continue
        error = lambda message: CorpusFormatError(path, line_no, message)  # noqa: E731
        if not n_columns:
            n_columns, first_line = len(columns), line_no
            if n_columns < 2 or not all(-n_columns <= i < n_columns for i in (token_col, tag_col)):
                raise error(
                    f"{n_columns} column(s), but a token (--token-column {token_col}) and a tag "
                    f"(--tag-column {tag_col}) column are needed: {line!r}"
                )
        if len(columns) != n_columns:
            message = (
                f"ragged columns: {len(columns)}, but line {first_line} has {n_columns}: {line!r}"
            )
            # Safe only with token first and tag last: then which column is which is clear.
            if strict or token_col != 0 or tag_col != -1 or len(columns) < 2:
                raise error(message)
            repairs.append(error(f"{message} (used first as token, last as tag)"))
        tag = columns[tag_col]
        prefix, _, label = tag.partition("-")
        if tag == "O":
            prefix, label = "O", ""
        elif prefix.upper() not in _PREFIXES or not label:
            raise error(
                f"unknown tag {tag!r}: expected O or a B-, I-, L-/E- or U-/S- prefix and a label "
                "(is --tag-column right?)"
            )
        else:
            prefix = _PREFIXES[prefix.upper()]
        tokens.append((columns[token_col], prefix, label, line_no))
    return sentences, markers


def _detect_scheme(sentences: List[List[Token]]) -> str:
    """L-/U- means BILUO; else whether more entities start with I- (IOB1) or B- (IOB2)."""
    b_starts = i_starts = 0
    for tokens in sentences:
        for i, (_, prefix, label, _) in enumerate(tokens):
            if prefix in ("L", "U"):
                return "bilou"
            continues = i > 0 and tokens[i - 1][1] != "O" and tokens[i - 1][2] == label
            b_starts += prefix == "B" and not continues
            i_starts += prefix == "I" and not continues
    return "iob1" if i_starts > b_starts else "iob2"


#: Tag-sequence problems: message, and how lenient mode repairs them.
_PROBLEMS = {
    "open": ("entity {label} is not closed with L-/E- before {tag}", "end it there"),
    "B": ("{tag} follows {previous}: in IOB1 B- only separates two entities", "start a new one"),
    "I": ("{tag} follows {previous}: an entity must start with B-", "start a new entity here"),
    "L": ("{tag} follows {previous} without an open entity", "read it as a one-token entity"),
}


def _decode(
    path: Path, tokens: List[Token], scheme: str, strict: bool, repairs: List[CorpusFormatError]
) -> List[Tuple[int, int, str]]:
    """One sentence's tags as (start, end, label) token spans."""
    spans: List[Tuple[int, int, str]] = []
    start: Optional[int] = None
    label = previous = "O"
    end = ("", "O", "", tokens[-1][3])  # closes what is open
    for i, (_, prefix, tag_label, line) in enumerate(tokens + [end]):
        tag = "the sentence end" if i == len(tokens) else f"{prefix}-{tag_label}".strip("-")
        inside_same = start is not None and tag_label == label
        problem = None
        if scheme == "bilou" and start is not None and prefix in ("O", "B", "U"):
            problem = "open"
        elif not inside_same and (
            prefix == "L"
            or (prefix == "B" and scheme in ("iob1", "io"))
            or (prefix == "I" and scheme in ("iob2", "bilou"))
        ):
            problem = prefix
        if problem:
            message, repair = _PROBLEMS[problem]
            message = message.format(label=label, tag=tag, previous=previous)
            if strict:
                raise CorpusFormatError(
                    path, line, f"{message} ({scheme.upper()}); use lenient mode to {repair}"
                )
            repairs.append(CorpusFormatError(path, line, f"{message}: {repair}"))
        if prefix in ("O", "B", "U") or not inside_same:
            if start is not None:
                spans.append((start, i, label))
            start, label = (None, "O") if prefix == "O" else (i, tag_label)
        if prefix in ("L", "U"):
            spans.append((i if start is None else start, i + 1, label))
            start = None
        previous = tag
    return spans
