"""DocBin input and output that keep every annotation layer.

``user_data`` (document ids, provenance) and all span groups are stored, so
the Docs written by one step reach the next step whole.
"""
from pathlib import Path
from typing import Iterable, List, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..errors import CorpusFormatError


def read_docbin(path: Union[str, Path], vocab: Vocab) -> List[Doc]:
    """Read all Docs of a ``.spacy`` file.

    path (Union[str, Path]): The DocBin file.
    vocab (Vocab): The vocab to attach the Docs to.
    RETURNS (List[Doc]): The Docs, in file order.
    RAISES (CorpusFormatError): If the file is missing or not a DocBin.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusFormatError(path, None, "file not found (expected a .spacy DocBin)")
    try:
        doc_bin = DocBin(store_user_data=True).from_disk(path)
    except Exception as err:  # zlib/msgpack errors say nothing about the file
        raise CorpusFormatError(
            path, None, f"not a spaCy DocBin ({type(err).__name__}: {err})"
        ) from None
    return list(doc_bin.get_docs(vocab))


def write_docbin(path: Union[str, Path], docs: Iterable[Doc]) -> int:
    """Write Docs to a ``.spacy`` file, creating parent directories.

    The bytes depend only on the Docs (DocBin sorts its strings), so the same
    input and seed give byte-identical files.

    path (Union[str, Path]): The output file.
    docs (Iterable[Doc]): The Docs.
    RETURNS (int): The number of Docs written.
    """
    path = Path(path)
    doc_bin = DocBin(store_user_data=True)
    n = 0
    for doc in docs:
        doc_bin.add(doc)
        n += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    doc_bin.to_disk(path)
    return n
