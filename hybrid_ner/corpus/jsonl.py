"""Read and write JSONL with character-offset spans (Prodigy-style): ``{"text", "tokens"?,
"spans", "meta"?: {"doc_id"?, "sent_index"?}}``; exported ``tokens`` fix the tokenization.
Records answered ``reject`` or ``ignore`` are skipped."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..atomic import write_text
from ..errors import CorpusFormatError
from ..layers import DOC_ID, SENT_INDEX, SOURCE
from .conll import read_text_file


@dataclass
class JsonlCorpus:
    """The Docs of the accepted records, the repairs, and the records skipped."""

    docs: List[Doc]
    repairs: List[CorpusFormatError] = field(default_factory=list)
    n_skipped: int = 0


def read_jsonl(
    path: Union[str, Path], nlp: Language, *, strict: bool = True, encoding: str = "utf-8"
) -> JsonlCorpus:
    """Read character-offset span annotation into Docs with ``doc.ents`` set.

    strict (bool): Raise on the first problem; else expand spans that cut through a
        token, keep the longest of overlapping spans, and report each repair.
    RAISES (CorpusFormatError): For malformed input, naming file and line.
    """
    path = Path(path)
    corpus = JsonlCorpus(docs=[])
    for line_no, line in enumerate(read_text_file(path, encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = srsly.json_loads(line)
        except ValueError as err:
            raise CorpusFormatError(path, line_no, f"invalid JSON: {err}") from None
        if not isinstance(record, dict):
            why = f"expected a JSON object, found {type(record).__name__}"
            raise CorpusFormatError(path, line_no, why)
        if record.get("answer") in ("reject", "ignore"):
            corpus.n_skipped += 1
            continue
        corpus.docs.append(_record_to_doc(path, line_no, record, nlp, strict, corpus.repairs))
    if not corpus.docs:
        raise CorpusFormatError(path, None, "no accepted records found")
    return corpus


def _record_to_doc(
    path: Path, line_no: int, record: dict, nlp: Language, strict: bool, repairs: list
) -> Doc:
    def fail(message: str) -> CorpusFormatError:
        return CorpusFormatError(path, line_no, message)

    def offsets(what: str, item: Any, label: bool = False) -> Tuple[int, int]:
        # No coercion: "0", 4.5 or a numeric label are export bugs, not offsets to guess.
        if not (
            isinstance(item, dict)
            and _is_int(item.get("start"))
            and _is_int(item.get("end"))
            and (not label or (isinstance(item.get("label"), str) and item["label"].strip()))
        ):
            wanted = ' and a non-empty string "label"' if label else ""
            raise fail(f'{what} needs integer "start" and "end"{wanted}: {item!r}')
        if not 0 <= item["start"] < item["end"] <= len(text):
            where = f"[{item['start']}:{item['end']}]"
            raise fail(f"{what} {where} is outside the text (length {len(text)})")
        return item["start"], item["end"]

    try:  # "\ud800" parses, but is no character: writing the Docs would fail later
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise fail(
            f"\\u{ord(err.object[err.start]):04x} is half of a UTF-16 surrogate pair, "
            "not a character: fix the export (the text must be valid Unicode)"
        ) from None
    text, tokens, raw_spans = record.get("text"), record.get("tokens"), record.get("spans")
    meta = {} if record.get("meta") is None else record["meta"]
    if not isinstance(text, str):
        raise fail('missing or non-string "text"')
    kinds = (("tokens", tokens, list), ("spans", raw_spans, list), ("meta", meta, dict))
    for name, value, kind in kinds:
        if value is not None and not isinstance(value, kind):
            wanted = "a list" if kind is list else "an object"
            raise fail(f'"{name}" must be {wanted}, found {type(value).__name__}')
    if tokens:  # exported tokens must cover the text, single spaces between
        bounds = [offsets(f"token {i}", token) for i, token in enumerate(tokens)]
        words = [text[start:end] for start, end in bounds]
        gaps = [text[end:nxt] for (_, end), (nxt, _) in zip(bounds, bounds[1:] + [(len(text), 0)])]
        for i, (token, word, gap) in enumerate(zip(tokens, words, gaps)):
            if token.get("text", word) != word:
                raise fail(f"token {i} text {token['text']!r} differs from the text's {word!r}")
            if gap not in ("", " "):
                why = "tokens must cover the text"
                raise fail(f"text between token {i} and {i + 1} is {gap!r}: {why}")
        doc = Doc(nlp.vocab, words=words, spaces=[gap == " " for gap in gaps])
    else:
        doc = nlp.make_doc(text)
    spans: List[Span] = []
    for i, raw in enumerate(raw_spans or []):
        start, end = offsets(f"span {i}", raw, label=True)
        span = doc.char_span(start, end, label=raw["label"])
        if span is None:
            message = f"span {i} {text[start:end]!r} {raw['label']} does not match token boundaries"
            span = doc.char_span(start, end, label=raw["label"], alignment_mode="expand")
            if strict or span is None:
                raise fail(message)
            repairs.append(fail(f"{message}: expanded to {span.text!r}"))
        spans.append(span)
    kept = filter_spans(spans)
    if len(kept) < len(spans):
        dropped = ", ".join(f"{s.text!r} {s.label_}" for s in spans if s not in kept)
        if strict:
            why = "overlap longer ones (NER needs non-overlapping ones)"
            raise fail(f"overlapping spans: {dropped} {why}")
        repairs.append(fail(f"overlapping spans: {dropped}: kept the longest"))
    doc.set_ents(kept)
    doc_id = meta.get(DOC_ID, f"{path.stem}:{line_no}")
    if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool):
        raise fail(f'"meta.{DOC_ID}" must be a string or integer, got {doc_id!r}')
    sent_index = meta.get(SENT_INDEX, 0)
    if not _is_int(sent_index) or sent_index < 0:
        raise fail(f'"meta.{SENT_INDEX}" must be an integer >= 0, got {sent_index!r}')
    doc.user_data.update({SOURCE: path.name, DOC_ID: str(doc_id), SENT_INDEX: sent_index})
    return doc


def doc_to_record(doc: Doc, spans: Optional[Iterable[Span]] = None) -> Dict[str, Any]:
    """A Doc as a JSONL record with tokens, spans (``doc.ents`` if None) and meta."""
    tokens = [
        dict(text=t.text, start=t.idx, end=t.idx + len(t), id=t.i, ws=bool(t.whitespace_))
        for t in doc
    ]
    span_records = [
        dict(
            start=s.start_char,
            end=s.end_char,
            token_start=s.start,
            token_end=s.end - 1,
            label=s.label_,
        )
        for s in (doc.ents if spans is None else spans)
    ]
    record: Dict[str, Any] = {"text": doc.text, "tokens": tokens, "spans": span_records}
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
