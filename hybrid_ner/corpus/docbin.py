"""DocBin input and output that keep every annotation layer (``user_data``, all span groups)."""

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Tuple, Union

import srsly.msgpack
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..atomic import write_bytes
from ..errors import CorpusFormatError

_REGISTRIES = ("msgpack_decoders", "msgpack_encoders")


class _Resolved:
    """srsly's msgpack registry, resolved once: srsly scans entry points for every message
    (per span group and ``user_data``); reads get 18x faster (scripts/bench_docbin_read.py)."""

    def __init__(self, registry: Any) -> None:
        self.registry, self.resolved = registry, registry.get_all()

    def get_all(self) -> Dict[str, Any]:
        return dict(self.resolved)  # a fresh dict, as catalogue returns


@contextmanager
def _resolved_once() -> Iterator[None]:
    """Resolved registries during the block; only the block that swapped them restores them."""
    names = [n for n in _REGISTRIES if not isinstance(getattr(srsly.msgpack, n), _Resolved)]
    for name in names:
        setattr(srsly.msgpack, name, _Resolved(getattr(srsly.msgpack, name)))
    try:
        yield
    finally:
        for name in names:
            current = getattr(srsly.msgpack, name)
            setattr(srsly.msgpack, name, getattr(current, "registry", current))


def read_docbin(path: Union[str, Path], vocab: Vocab) -> List[Doc]:
    """Read all Docs of a ``.spacy`` file. RAISES (CorpusFormatError): If it is not a DocBin."""
    path = Path(path)
    if not path.is_file():
        raise CorpusFormatError(path, None, "file not found (expected a .spacy DocBin)")
    with _resolved_once():
        try:
            doc_bin = DocBin(store_user_data=True).from_disk(path)
        except Exception as err:  # zlib/msgpack errors say nothing about the file
            why = f"not a spaCy DocBin ({type(err).__name__}: {err})"
            raise CorpusFormatError(path, None, why) from None
        try:
            return list(doc_bin.get_docs(vocab))
        except Exception as err:  # a valid wrapper around content spaCy cannot read
            message = " ".join(str(err).split())[:200]
            why = f"a DocBin whose content is unreadable ({type(err).__name__}: {message})"
            why += "; write it again with hybrid-ner convert"
            raise CorpusFormatError(path, None, why) from None


def write_docbin(path: Union[str, Path], docs: Iterable[Doc]) -> int:
    """Write Docs to a ``.spacy`` file atomically. RETURNS (int): The number of Docs written."""
    data, n = docbin_bytes(docs)
    write_bytes(path, data)
    return n


def docbin_bytes(docs: Iterable[Doc]) -> Tuple[bytes, int]:
    """The bytes :func:`write_docbin` writes, and the number of Docs."""
    doc_bin = DocBin(store_user_data=True)
    with _resolved_once():
        for doc in docs:
            doc_bin.add(doc)
        return doc_bin.to_bytes(), len(doc_bin)
