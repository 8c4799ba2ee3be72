import os
from pathlib import Path

import pytest
import spacy

ROOT = Path(__file__).resolve().parent.parent
WIKIGOLD = ROOT / "corpus" / "wikigold" / "wikigold.conll.txt"
CONLL_DIR = Path(
    os.environ.get("HYBRID_NER_CONLL_DIR", ROOT.parent / "shared" / "data" / "conll2003")
)

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture
def write_file(tmp_path):
    """Write text (or bytes) to a file in tmp_path and return its path."""

    def write(name: str, content) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write
