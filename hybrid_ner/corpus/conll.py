"""Read CoNLL-style column files (CoNLL-2003, WikiGold, ...) into Docs.

One Doc per sentence. ``-DOCSTART-`` lines are document boundaries wherever
they stand: CoNLL-2003 puts them before each document, WikiGold after. The
document id and the sentence's index inside it are kept in ``doc.user_data``
so that splits can be made per document. A file without any ``-DOCSTART-``
line (WNUT-17, most exports) has no document boundaries: each sentence is
then its own document (``has_document_markers`` is False), so splits and
few-shot retrieval work by sentence instead of treating the whole file as
one document.

Tags are read in any common scheme (IOB1, IOB2, BILUO/BIOES, IO), detected
per file, and decoded into entity spans strictly or, in lenient mode, with
repairs that are reported (:class:`Repair`).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Literal, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from ..errors import CorpusFormatError, OptionError
from ..layers import DOC_ID, SENT_INDEX, SOURCE
from .text_file import read_text_file

TaggingScheme = Literal["auto", "iob1", "iob2", "bilou", "io"]
Separator = Literal["auto", "tab", "space"]
SCHEMES = ("auto", "iob1", "iob2", "bilou", "io")
DOCSTART = "-DOCSTART-"


# BIOES (S-, E-) is BILUO (U-, L-) under other names.
_PREFIXES = {"B": "B", "I": "I", "L": "L", "E": "L", "U": "U", "S": "U"}


@dataclass
class Repair:
    """A problem found in lenient mode and the repair that was made."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class TaggedToken:
    """One data line: the token, its tag's prefix and label, and the line number."""

    text: str
    prefix: str  # "O", "B", "I", "L", "U"
    label: str
    line: int


@dataclass
class TaggedSentence:
    """The tokens of one sentence and its place in its document."""

    tokens: List[TaggedToken]
    doc_index: int
    sent_index: int


def parse_tag(path: Path, line_no: int, tag: str) -> Tuple[str, str]:
    """The (prefix, label) of a tag: ("O", "") or a B/I/L/U prefix (BIOES read as
    BILUO). RAISES (CorpusFormatError): For a tag of no known form."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or prefix.upper() not in _PREFIXES or not label:
        raise CorpusFormatError(
            path,
            line_no,
            f"unknown tag {tag!r}: expected O or a B-, I-, L-/E- or U-/S- prefix "
            "followed by a label (is --tag-column right?)",
        )
    return _PREFIXES[prefix.upper()], label


def detect_scheme(sentences: Sequence[TaggedSentence]) -> str:
    """Guess the tagging scheme from the tags of all sentences.

    L-/U- (or E-/S-) means BILUO. Otherwise count how entities start: after O,
    at a sentence start or after another type, an IOB2 entity starts with B-
    and an IOB1/IO entity with I-. The majority wins; the minority are then
    reported as violations of the detected scheme.
    """
    b_starts = i_starts = 0
    for sentence in sentences:
        previous = None
        for token in sentence.tokens:
            if token.prefix in ("L", "U"):
                return "bilou"
            continues = (
                previous is not None and previous.prefix != "O" and previous.label == token.label
            )
            if token.prefix == "B" and not continues:
                b_starts += 1
            elif token.prefix == "I" and not continues:
                i_starts += 1
            previous = token
    if i_starts > b_starts:
        return "iob1"
    return "iob2"


def decode_entities(
    path: Path, tokens: List[TaggedToken], scheme: str, strict: bool, repairs: List[Repair]
) -> List[Tuple[int, int, str]]:
    """Turn one sentence's tags into (start, end, label) token spans."""

    def problem(token: TaggedToken, message: str, repair: str) -> None:
        if strict:
            raise CorpusFormatError(
                path, token.line, f"{message} ({scheme.upper()}); use lenient mode to {repair}"
            )
        repairs.append(Repair(str(path), token.line, f"{message}: {repair}"))

    spans: List[Tuple[int, int, str]] = []
    start: Optional[int] = None
    label = ""
    previous_tag = "O"

    def close(end: int) -> None:
        nonlocal start
        if start is not None:
            spans.append((start, end, label))
        start = None

    for i, token in enumerate(tokens):
        tag = "O" if token.prefix == "O" else f"{token.prefix}-{token.label}"
        inside_same = start is not None and token.label == label
        if token.prefix == "O":
            if scheme == "bilou" and start is not None:
                problem(
                    token,
                    f"entity {label} opened with B- is not closed with L-/E- before O",
                    "end the entity at the previous token",
                )
            close(i)
        elif token.prefix == "B":
            if scheme == "bilou" and start is not None:
                problem(
                    token,
                    f"B-{token.label} follows {previous_tag} before the entity was closed",
                    "end the open entity and start a new one",
                )
            if scheme in ("iob1", "io") and not inside_same:
                problem(
                    token,
                    f"B-{token.label} follows {previous_tag}: in IOB1 B- only separates "
                    "two adjacent entities of one type",
                    "start a new entity",
                )
            close(i)
            start, label = i, token.label
        elif token.prefix == "I":
            if not inside_same:
                if scheme in ("iob2", "bilou"):
                    problem(
                        token,
                        f"I-{token.label} follows {previous_tag}: an entity must start with B-",
                        "start a new entity here",
                    )
                close(i)
                start, label = i, token.label
        elif token.prefix == "L":
            if not inside_same:
                problem(
                    token,
                    f"L-{token.label} follows {previous_tag} without an open {token.label} entity",
                    "read it as a one-token entity",
                )
                close(i)
                start, label = i, token.label
            close(i + 1)
        elif token.prefix == "U":
            if start is not None and scheme == "bilou":
                problem(
                    token,
                    f"U-{token.label} follows {previous_tag} before the entity was closed",
                    "end the open entity and start a new one",
                )
            close(i)
            start, label = i, token.label
            close(i + 1)
        previous_tag = tag
    if start is not None and scheme == "bilou":
        problem(
            tokens[-1],
            f"entity {label} is not closed with L-/E- at the end of the sentence",
            "end it at the last token",
        )
    close(len(tokens))
    return spans


@dataclass
class ConllCorpus:
    """The result of reading a column file.

    docs (List[Doc]): One Doc per sentence, entities in ``doc.ents``.
    scheme (str): The tagging scheme used (detected or given).
    repairs (List[Repair]): What lenient mode repaired (empty in strict mode).
    n_documents (int): Number of documents (``-DOCSTART-`` groups, or
        sentences without them).
    has_document_markers (bool): Whether the file had ``-DOCSTART-`` lines.
    """

    docs: List[Doc]
    scheme: str
    repairs: List[Repair] = field(default_factory=list)
    n_documents: int = 0
    has_document_markers: bool = True


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

    path (Union[str, Path]): The file.
    vocab (Optional[Vocab]): The vocab for the Docs; a new one if None.
    token_column (int): Column holding the token (0-based, negative from the end).
    tag_column (int): Column holding the NER tag (default: the last).
    separator (str): "tab", "space" (any run of whitespace) or "auto": tab if
        the first data line contains a tab, else whitespace.
    scheme (str): "iob1", "iob2", "bilou" (also BIOES), "io" or "auto" to detect.
    strict (bool): Raise on the first problem. If False, repair what is safe
        to repair and report each repair in ``ConllCorpus.repairs``.
    encoding (str): The file's text encoding.
    RETURNS (ConllCorpus): The Docs and what was detected or repaired.
    RAISES (CorpusFormatError): For malformed input, naming file and line.
    """
    path = Path(path)
    if scheme not in SCHEMES:
        raise OptionError(f"Unknown tagging scheme {scheme!r}: expected {', '.join(SCHEMES)}")
    if separator not in ("auto", "tab", "space"):
        raise OptionError(f"Unknown separator {separator!r}: expected auto, tab or space")
    text = read_text_file(path, encoding=encoding)
    repairs: List[Repair] = []
    markers: List[int] = []
    sentences = list(
        _read_sentences(path, text, token_column, tag_column, separator, strict, repairs, markers)
    )
    if not sentences:
        raise CorpusFormatError(path, None, "no sentences found (only blank or -DOCSTART- lines)")
    if scheme == "auto":
        scheme = detect_scheme(sentences)
    vocab = vocab if vocab is not None else Vocab()
    docs = []
    for sentence in sentences:
        spans = decode_entities(path, sentence.tokens, scheme, strict, repairs)
        words = [token.text for token in sentence.tokens]
        doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
        doc.set_ents([Span(doc, start, end, label=label) for start, end, label in spans])
        doc.user_data[SOURCE] = path.name
        if markers:
            doc.user_data[DOC_ID] = f"{path.stem}:{sentence.doc_index}"
            doc.user_data[SENT_INDEX] = sentence.sent_index
        else:  # no document boundaries: each sentence is its own document
            doc.user_data[DOC_ID] = f"{path.stem}:s{sentence.sent_index}"
            doc.user_data[SENT_INDEX] = 0
        docs.append(doc)
    n_documents = len({doc.user_data[DOC_ID] for doc in docs})
    return ConllCorpus(
        docs=docs,
        scheme=scheme,
        repairs=repairs,
        n_documents=n_documents,
        has_document_markers=bool(markers),
    )


def _split_line(line: str, separator: str) -> List[str]:
    if separator == "tab":
        return [col.strip() for col in line.split("\t")]
    return line.split()


def _read_sentences(
    path: Path,
    text: str,
    token_column: int,
    tag_column: int,
    separator: str,
    strict: bool,
    repairs: List[Repair],
    markers: List[int],
) -> Iterator[TaggedSentence]:
    n_columns: Optional[int] = None
    first_data_line = 0
    doc_index = 0
    sent_index = 0
    tokens: List[TaggedToken] = []
    doc_has_sentences = False
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            if tokens:
                yield TaggedSentence(tokens, doc_index, sent_index)
                sent_index += 1
                doc_has_sentences = True
                tokens = []
            continue
        if separator == "auto":
            separator = "tab" if "\t" in raw_line else "space"
        columns = _split_line(raw_line, separator)
        if columns[0] == DOCSTART:
            # A document boundary, before (CoNLL) or after (WikiGold) a document.
            markers.append(line_no)
            if tokens:
                yield TaggedSentence(tokens, doc_index, sent_index)
                doc_has_sentences = True
                tokens = []
            if doc_has_sentences:
                doc_index += 1
            sent_index = 0
            doc_has_sentences = False
            continue
        if n_columns is None:
            n_columns, first_data_line = len(columns), line_no
            for name, index in (("token", token_column), ("tag", tag_column)):
                if not -n_columns <= index < n_columns:
                    raise CorpusFormatError(
                        path,
                        line_no,
                        f"{name} column {index} does not exist: the line has {n_columns} column(s)",
                    )
            if n_columns < 2:
                raise CorpusFormatError(
                    path,
                    line_no,
                    f"expected at least 2 columns (token and tag), found 1: {raw_line!r}",
                )
        if len(columns) != n_columns:
            message = (
                f"ragged columns: {len(columns)} column(s), but line {first_data_line} "
                f"has {n_columns}: {raw_line!r}"
            )
            # Safe only when token and tag are first and last: then the count
            # of columns in between does not change which column is which.
            can_repair = token_column == 0 and tag_column == -1 and len(columns) >= 2
            if strict or not can_repair:
                raise CorpusFormatError(path, line_no, message)
            repairs.append(
                Repair(str(path), line_no, message + " (used first column as token, last as tag)")
            )
        token_text, tag = columns[token_column], columns[tag_column]
        prefix, label = parse_tag(path, line_no, tag)
        tokens.append(TaggedToken(token_text, prefix, label, line_no))
    if tokens:
        yield TaggedSentence(tokens, doc_index, sent_index)
