"""Corpus input and output: CoNLL column files, JSONL spans, DocBins."""

from .conll import read_conll
from .docbin import read_docbin, write_docbin
from .jsonl import doc_to_record, read_jsonl, write_jsonl

__all__ = [
    "doc_to_record",
    "read_conll",
    "read_docbin",
    "read_jsonl",
    "write_docbin",
    "write_jsonl",
]
