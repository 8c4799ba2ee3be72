"""Read and write JSONL with character-offset spans (Prodigy-style).

Each line: ``{"text", "tokens"?: [{"text"?, "start", "end"}], "spans": [{"start",
"end", "label"}], "meta"?: {"doc_id"?, "sent_index"?}}``. ``tokens``, as
annotation tools export them, fix the tokenization; without them the text is
tokenized by ``nlp``. Records answered ``reject`` or ``ignore`` are skipped.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

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
    """The Docs of the accepted records, what lenient mode repaired, and the
    number of records skipped (answered reject/ignore)."""

    docs: List[Doc]
    repairs: List[Repair] = field(default_factory=list)
    n_skipped: int = 0


def read_jsonl(
    path: Union[str, Path], nlp: Language, *, strict: bool = True, encoding: str = "utf-8"
) -> JsonlCorpus:
    """Read character-offset span annotation into Docs with ``doc.ents`` set.

    path (Union[str, Path]): The JSONL file.
    nlp (Language): The vocab and, for records without tokens, the tokenizer.
    strict (bool): Raise on the first problem. If False, expand spans that cut
        through a token to token boundaries, keep the longest of overlapping
        spans, and report each repair.
    encoding (str): The file's encoding.
    RETURNS (JsonlCorpus): The Docs, repairs and number of skipped records.
    RAISES (CorpusFormatError): For malformed input, naming file and line.
    """
    path = Path(path)
    corpus = JsonlCorpus(docs=[])
    for line_no, line in enumerate(read_text_file(path, encoding).splitlines(), start=1):
        if not line.strip():
            continue

        def fail(message: str, line_no: int = line_no) -> CorpusFormatError:
            return CorpusFormatError(path, line_no, message)

        try:
            record = srsly.json_loads(line)
        except ValueError as err:
            raise fail(f"invalid JSON: {err}") from None
        if not isinstance(record, dict):
            raise fail(f"expected a JSON object, found {type(record).__name__}")
        try:  # "\ud800" parses, but is no character: writing the Docs would fail later
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as err:
            raise fail(
                f"\\u{ord(err.object[err.start]):04x} is half of a UTF-16 surrogate pair, "
                "not a character: fix the export (the text must be valid Unicode)"
            ) from None
        if record.get("answer") in ("reject", "ignore"):
            corpus.n_skipped += 1
            continue
        doc = _record_to_doc(
            record,
            nlp,
            strict,
            fail,
            lambda m: corpus.repairs.append(Repair(str(path), line_no, m)),
        )
        meta = {} if record.get("meta") is None else record["meta"]
        if not isinstance(meta, dict):
            raise fail(f'"meta" must be an object, found {type(meta).__name__}')
        doc_id = meta.get(DOC_ID, f"{path.stem}:{line_no}")
        if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool):
            raise fail(f'"meta.{DOC_ID}" must be a string or integer, got {doc_id!r}')
        sent_index = meta.get(SENT_INDEX, 0)
        if not _is_int(sent_index) or sent_index < 0:
            raise fail(f'"meta.{SENT_INDEX}" must be an integer >= 0, got {sent_index!r}')
        doc.user_data.update({SOURCE: path.name, DOC_ID: str(doc_id), SENT_INDEX: sent_index})
        corpus.docs.append(doc)
    if not corpus.docs:
        raise CorpusFormatError(path, None, "no accepted records found")
    return corpus


def _record_to_doc(
    record: Dict[str, Any],
    nlp: Language,
    strict: bool,
    fail: Callable[[str], CorpusFormatError],
    repair: Callable[[str], None],
) -> Doc:
    """The record's Doc; ``repair`` is told of each repair made."""
    text, tokens, raw_spans = record.get("text"), record.get("tokens"), record.get("spans")
    if not isinstance(text, str):
        raise fail('missing or non-string "text"')
    for name, value in (("tokens", tokens), ("spans", raw_spans)):
        if value is not None and not isinstance(value, list):
            raise fail(f'"{name}" must be a list, found {type(value).__name__}')
    doc = _doc_from_tokens(text, tokens, nlp, fail) if tokens else nlp.make_doc(text)
    spans: List[Span] = []
    for i, raw in enumerate(raw_spans or []):
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
            message = f"span {i} [{start}:{end}] {label} {text[start:end]!r} does not match "
            message += "token boundaries"
            span = doc.char_span(start, end, label=label, alignment_mode="expand")
            if strict or span is None:
                raise fail(message)
            repair(f"{message}: expanded to {span.text!r}")
        spans.append(span)
    kept = filter_spans(spans)
    if len(kept) < len(spans):
        message = "overlapping spans: " + ", ".join(
            f"{s.text!r} {s.label_}" for s in spans if s not in kept
        )
        if strict:
            raise fail(f"{message} overlap longer spans; NER needs non-overlapping entities")
        repair(f"{message}: kept the longest")
    doc.set_ents(kept)
    return doc


def _doc_from_tokens(
    text: str, tokens: List[Any], nlp: Language, fail: Callable[[str], CorpusFormatError]
) -> Doc:
    """The Doc of exported tokens, which must cover the text (single spaces between)."""
    for i, token in enumerate(tokens):  # all first: the gap test reads the next token's start
        if not (
            isinstance(token, dict) and _is_int(token.get("start")) and _is_int(token.get("end"))
        ):
            raise fail(f'token {i} needs integer "start" and "end": {token!r}')
        if not 0 <= token["start"] < token["end"] <= len(text):
            raise fail(
                f"token {i} [{token['start']}:{token['end']}] is outside the text ({len(text)})"
            )
    words, spaces = [], []
    for i, token in enumerate(tokens):
        word = text[token["start"] : token["end"]]
        if token.get("text", word) != word:
            raise fail(f"token {i} text {token['text']!r} differs from the text's {word!r}")
        gap = text[token["end"] : tokens[i + 1]["start"] if i + 1 < len(tokens) else len(text)]
        if gap not in ("", " "):
            raise fail(f"text between token {i} and {i + 1} is {gap!r}: tokens must cover the text")
        words.append(word)
        spaces.append(gap == " ")
    return Doc(nlp.vocab, words=words, spaces=spaces)


def doc_to_record(doc: Doc, spans: Optional[Iterable[Span]] = None) -> Dict[str, Any]:
    """A Doc as a JSONL record with tokens, spans (``doc.ents`` if None) and meta."""
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
            for s in (doc.ents if spans is None else spans)
        ],
    }
    meta = {k: doc.user_data[k] for k in (DOC_ID, SENT_INDEX) if k in doc.user_data}
    if meta:
        record["meta"] = meta
    return record


def write_jsonl(path: Union[str, Path], docs: Iterable[Doc]) -> int:
    """Write Docs as JSONL records, atomically. RETURNS (int): The number written."""
    lines = [srsly.json_dumps(doc_to_record(doc)) + "\n" for doc in docs]
    write_text(path, "".join(lines))
    return len(lines)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
