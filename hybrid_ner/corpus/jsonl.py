"""Read and write JSONL with character-offset spans (Prodigy-style).

Each line: ``{"text": str, "tokens"?: [...], "spans": [{"start", "end",
"label"}], "meta"?: {...}}``. ``tokens`` (``{"text", "start", "end", "ws"?}``,
as annotation tools export them) fix the tokenization; without them the text
is tokenized with the given language's tokenizer. Records whose ``answer`` is
``reject`` or ``ignore`` are skipped and counted.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..atomic import write_text
from ..errors import CorpusFormatError
from ..layers import DOC_ID, SENT_INDEX, SOURCE
from .conll import Repair, read_text_file


@dataclass
class JsonlCorpus:
    """The result of reading a JSONL file.

    docs (List[Doc]): One Doc per accepted record.
    repairs (List[Repair]): What lenient mode repaired.
    n_skipped (int): Records skipped because their answer was reject/ignore.
    """

    docs: List[Doc]
    repairs: List[Repair] = field(default_factory=list)
    n_skipped: int = 0


def _check_text(path: Path, line_no: int, record: Dict[str, Any]) -> None:
    """Refuse a record holding half a UTF-16 surrogate pair (a JSON escape
    such as ``"\\ud800"``): not a character, it would fail later when the
    Docs are written."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        char = err.object[err.start : err.start + 1]
        raise CorpusFormatError(
            path,
            line_no,
            f"\\u{ord(char):04x} is half of a UTF-16 surrogate pair, not a character: "
            "fix the export (the text must be valid Unicode)",
        ) from None


def read_jsonl(
    path: Union[str, Path],
    nlp: Language,
    *,
    strict: bool = True,
    encoding: str = "utf-8",
) -> JsonlCorpus:
    """Read character-offset span annotation into Docs with ``doc.ents`` set.

    path (Union[str, Path]): The JSONL file.
    nlp (Language): Supplies the vocab and, for records without tokens, the
        tokenizer.
    strict (bool): Raise on the first problem. If False, snap spans that cut
        through a token to token boundaries, drop the shorter of overlapping
        spans, and report each repair.
    encoding (str): The file's encoding.
    RETURNS (JsonlCorpus): The Docs, repairs and number of skipped records.
    RAISES (CorpusFormatError): For malformed input, naming file and line.
    """
    path = Path(path)
    text = read_text_file(path, encoding=encoding)
    corpus = JsonlCorpus(docs=[])
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = srsly.json_loads(line)
        except ValueError as err:
            raise CorpusFormatError(path, line_no, f"invalid JSON: {err}") from None
        if not isinstance(record, dict):
            raise CorpusFormatError(
                path, line_no, f"expected a JSON object, found {type(record).__name__}"
            )
        _check_text(path, line_no, record)
        if record.get("answer") in ("reject", "ignore"):
            corpus.n_skipped += 1
            continue
        doc = _record_to_doc(path, line_no, record, nlp, strict, corpus.repairs)
        doc.user_data[SOURCE] = path.name
        meta = record.get("meta")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise CorpusFormatError(
                path, line_no, f'"meta" must be an object, found {type(meta).__name__}'
            )
        doc_id = meta.get(DOC_ID, f"{path.stem}:{line_no}")
        if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool):
            raise CorpusFormatError(
                path, line_no, f'"meta.{DOC_ID}" must be a string or integer, got {doc_id!r}'
            )
        doc.user_data[DOC_ID] = str(doc_id)
        sent_index = meta.get(SENT_INDEX, 0)
        if not _is_int(sent_index) or sent_index < 0:
            raise CorpusFormatError(
                path, line_no, f'"meta.{SENT_INDEX}" must be an integer >= 0, got {sent_index!r}'
            )
        doc.user_data[SENT_INDEX] = sent_index
        corpus.docs.append(doc)
    if not corpus.docs:
        raise CorpusFormatError(path, None, "no accepted records found")
    return corpus


def _record_to_doc(
    path: Path,
    line_no: int,
    record: Dict[str, Any],
    nlp: Language,
    strict: bool,
    repairs: List[Repair],
) -> Doc:
    def fail(message: str) -> CorpusFormatError:
        return CorpusFormatError(path, line_no, message)

    text = record.get("text")
    if not isinstance(text, str):
        raise fail('missing or non-string "text"')
    tokens = record.get("tokens")
    if tokens is not None and not isinstance(tokens, list):
        raise fail(f'"tokens" must be a list, found {type(tokens).__name__}')
    if tokens:
        doc = _doc_from_tokens(text, tokens, nlp, fail)
    else:
        doc = nlp.make_doc(text)
    raw_spans = record.get("spans")
    if raw_spans is None:
        raw_spans = []
    if not isinstance(raw_spans, list):
        raise fail(f'"spans" must be a list, found {type(raw_spans).__name__}')
    spans: List[Span] = []
    for i, raw in enumerate(raw_spans):
        # No coercion: "0", 4.5 or a numeric label are export bugs, not offsets to guess.
        if not (
            isinstance(raw, dict)
            and _is_int(raw.get("start"))
            and _is_int(raw.get("end"))
            and isinstance(raw.get("label"), str)
            and raw["label"].strip()
        ):
            raise fail(
                f'span {i} needs integer "start" and "end" and a non-empty string "label": {raw!r}'
            )
        start, end, label = raw["start"], raw["end"], raw["label"]
        if not 0 <= start < end <= len(text):
            raise fail(f"span {i} [{start}:{end}] {label} is outside the text (length {len(text)})")
        span = doc.char_span(start, end, label=label)
        if span is None:
            message = (
                f"span {i} [{start}:{end}] {label} {text[start:end]!r} "
                "does not match token boundaries"
            )
            span = doc.char_span(start, end, label=label, alignment_mode="expand")
            if strict or span is None:
                raise fail(message)
            repairs.append(Repair(str(path), line_no, f"{message}: expanded to {span.text!r}"))
        spans.append(span)
    kept = filter_spans(spans)
    if len(kept) < len(spans):
        dropped = [s for s in spans if s not in kept]
        message = "overlapping spans: " + ", ".join(f"{s.text!r} {s.label_}" for s in dropped)
        if strict:
            raise fail(message + " overlap longer spans; NER needs non-overlapping entities")
        repairs.append(Repair(str(path), line_no, message + ": kept the longest"))
    doc.set_ents(kept)
    return doc


def _doc_from_tokens(text: str, tokens: List[Dict[str, Any]], nlp: Language, fail) -> Doc:
    words: List[str] = []
    spaces: List[bool] = []
    # Check every token first: the gap test below reads the next token's start.
    for i, token in enumerate(tokens):
        if not (
            isinstance(token, dict) and _is_int(token.get("start")) and _is_int(token.get("end"))
        ):
            raise fail(f'token {i} needs integer "start" and "end": {token!r}')
        if not 0 <= token["start"] < token["end"] <= len(text):
            raise fail(
                f"token {i} [{token['start']}:{token['end']}] "
                f"is outside the text (length {len(text)})"
            )
    for i, token in enumerate(tokens):
        start, end = token["start"], token["end"]
        word = text[start:end]
        if "text" in token and token["text"] != word:
            raise fail(
                f"token {i} text {token['text']!r} differs from text[{start}:{end}] = {word!r}"
            )
        next_start = tokens[i + 1]["start"] if i + 1 < len(tokens) else len(text)
        gap = text[end:next_start]
        if gap not in ("", " "):
            raise fail(f"text between token {i} and {i + 1} is {gap!r}: tokens must cover the text")
        words.append(word)
        spaces.append(gap == " ")
    return Doc(nlp.vocab, words=words, spaces=spaces)


def doc_to_record(doc: Doc, spans: Optional[Iterable[Span]] = None) -> Dict[str, Any]:
    """Convert a Doc to a JSONL record with tokens, spans and meta.

    doc (Doc): The Doc.
    spans (Optional[Iterable[Span]]): Spans to write; ``doc.ents`` if None.
    RETURNS (Dict[str, Any]): The record.
    """
    spans = doc.ents if spans is None else spans
    record: Dict[str, Any] = {
        "text": doc.text,
        "tokens": [
            {
                "text": t.text,
                "start": t.idx,
                "end": t.idx + len(t),
                "id": t.i,
                "ws": bool(t.whitespace_),
            }
            for t in doc
        ],
        "spans": [
            {
                "start": s.start_char,
                "end": s.end_char,
                "token_start": s.start,
                "token_end": s.end - 1,
                "label": s.label_,
            }
            for s in spans
        ],
    }
    meta = {k: doc.user_data[k] for k in (DOC_ID, SENT_INDEX) if k in doc.user_data}
    if meta:
        record["meta"] = meta
    return record


def write_jsonl(path: Union[str, Path], docs: Iterable[Doc]) -> int:
    """Write Docs as JSONL records, replacing the file atomically
    (hybrid_ner.atomic). RETURNS (int): number of records written."""
    lines = [srsly.json_dumps(doc_to_record(doc)) + "\n" for doc in docs]
    write_text(path, "".join(lines))
    return len(lines)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
