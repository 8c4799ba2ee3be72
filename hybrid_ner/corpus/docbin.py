"""DocBin input and output that keep every annotation layer.

``user_data`` (document ids, provenance) and all span groups are stored, so
the Docs written by one step reach the next step whole.
"""

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Tuple, Union

import srsly.msgpack
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..atomic import write_bytes
from ..errors import CorpusFormatError


class _ResolvedDecoders:
    """Stands in for srsly's msgpack decoder registry while Docs are read.

    srsly looks its decoders up (``msgpack_decoders.get_all()``, a catalogue
    entry-point scan plus a walk of the whole function registry) once per
    msgpack message, and spaCy decodes one message per span group, one per
    Doc's ``doc.spans`` and one per Doc's ``user_data``: with three span groups
    that lookup was ~90% of the read. This object answers the lookup from one
    resolution made when reading starts: the same decoders in the same order,
    so the Docs are exactly what spaCy's own path gives.
    """

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.decoders: Dict[str, Any] = registry.get_all()

    def get_all(self) -> Dict[str, Any]:
        """The decoders, as the registry's ``get_all``."""
        return dict(self.decoders)  # a fresh dict, as catalogue returns

    def __getattr__(self, name: str) -> Any:
        # register(), get(), ... still reach the real registry.
        if name == "registry":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.registry, name)


_DECODERS_LOCK = threading.Lock()
_decoders_users = 0


@contextmanager
def _decoders_resolved_once() -> Iterator[None]:
    """Resolve srsly's msgpack decoders once for the duration of the block.

    The module attribute srsly's ``unpackb`` reads is swapped for a
    :class:`_ResolvedDecoders` and put back afterwards, also on errors.
    Nested and concurrent reads share one swap (reference-counted), so the
    real registry is always restored by the last one out. Other code that
    decodes msgpack meanwhile gets the same decoders, only faster; a decoder
    registered during a read is used from the next read on. If srsly's
    internals ever change shape, nothing is swapped (just slower).
    """
    global _decoders_users
    with _DECODERS_LOCK:
        if _decoders_users == 0:
            # Encoders too: writing looks them up once per message the same way.
            for name in ("msgpack_decoders", "msgpack_encoders"):
                current = getattr(srsly.msgpack, name, None)
                if callable(getattr(current, "get_all", None)) and not isinstance(
                    current, _ResolvedDecoders
                ):
                    setattr(srsly.msgpack, name, _ResolvedDecoders(current))
        _decoders_users += 1
    try:
        yield
    finally:
        with _DECODERS_LOCK:
            _decoders_users -= 1
            if _decoders_users == 0:
                for name in ("msgpack_decoders", "msgpack_encoders"):
                    current = getattr(srsly.msgpack, name, None)
                    if isinstance(current, _ResolvedDecoders):
                        setattr(srsly.msgpack, name, current.registry)


def read_docbin(path: Union[str, Path], vocab: Vocab) -> List[Doc]:
    """Read all Docs of a ``.spacy`` file.

    The Docs are those of spaCy's ``DocBin.get_docs`` (span groups and
    ``user_data`` included); only msgpack's decoder lookup is made once per
    read instead of once per span group (issue 15.3).

    path (Union[str, Path]): The DocBin file.
    vocab (Vocab): The vocab to attach the Docs to.
    RETURNS (List[Doc]): The Docs, in file order.
    RAISES (CorpusFormatError): If the file is missing or not a DocBin.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusFormatError(path, None, "file not found (expected a .spacy DocBin)")
    with _decoders_resolved_once():
        try:
            doc_bin = DocBin(store_user_data=True).from_disk(path)
        except Exception as err:  # zlib/msgpack errors say nothing about the file
            raise CorpusFormatError(
                path, None, f"not a spaCy DocBin ({type(err).__name__}: {err})"
            ) from None
        try:
            return list(doc_bin.get_docs(vocab))
        except Exception as err:  # a valid wrapper around content spaCy cannot read
            message = " ".join(str(err).split())[:200]
            raise CorpusFormatError(
                path,
                None,
                f"a DocBin whose content is unreadable ({type(err).__name__}: {message}); "
                "write it again with hybrid-ner convert",
            ) from None


def write_docbin(path: Union[str, Path], docs: Iterable[Doc]) -> int:
    """Write Docs to a ``.spacy`` file, creating parent directories.

    The bytes depend only on the Docs (DocBin sorts its strings), so the same
    input and seed give byte-identical files. The file is replaced atomically
    (hybrid_ner.atomic): a failed or interrupted write leaves the old one.

    path (Union[str, Path]): The output file.
    docs (Iterable[Doc]): The Docs.
    RETURNS (int): The number of Docs written.
    """
    data, n = docbin_bytes(docs)
    write_bytes(Path(path), data)
    return n


def docbin_bytes(docs: Iterable[Doc]) -> Tuple[bytes, int]:
    """The bytes of a ``.spacy`` file holding the Docs (as :func:`write_docbin`
    writes them), for callers that write several files all or nothing.

    docs (Iterable[Doc]): The Docs.
    RETURNS (Tuple[bytes, int]): The file's bytes and the number of Docs.
    """
    doc_bin = DocBin(store_user_data=True)
    n = 0
    with _decoders_resolved_once():  # encoders looked up once, not per message
        for doc in docs:
            doc_bin.add(doc)
            n += 1
        return doc_bin.to_bytes(), n
