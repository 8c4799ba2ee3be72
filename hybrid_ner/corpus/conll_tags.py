"""Tags of CoNLL-style column files: parsing one tag, detecting the scheme
of a file and decoding a sentence's tags into entity spans, strictly or with
repairs (:mod:`hybrid_ner.corpus.conll`)."""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..errors import CorpusFormatError

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
