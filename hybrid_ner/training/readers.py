"""Corpus readers for ``spacy train``: Examples keep the corpus's tokens on both sides."""

from itertools import islice
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from ..corpus import read_conll, read_docbin, read_jsonl
from ..errors import HybridNerError
from ..simulation.omissions import DEFAULT_OMISSION_MODEL, simulate_budget, simulate_omissions

Reader = Callable[[Language], Iterable[Example]]


def examples_from_docs(nlp: Language, docs: Iterable[Doc], limit: int = 0) -> Iterator[Example]:
    """Pair each of the first ``limit`` (0: all) Docs with an unannotated copy of its tokens."""
    for reference in islice(docs, limit if limit > 0 else None):
        words = [token.text for token in reference]
        spaces = [bool(token.whitespace_) for token in reference]
        yield Example(Doc(nlp.vocab, words=words, spaces=spaces), reference)


def prepared_docbin(
    path: Path, limit: int, prepare: Callable[[List[Doc]], List[Doc]]
) -> Callable[[Language], Iterator[Example]]:
    """A reader of a DocBin's first ``limit`` Docs (0: all) after ``prepare``: spacy
    train calls it every epoch, so the file is prepared once per vocab and version."""
    cache: Dict[object, List[Doc]] = {}

    def read(nlp: Language) -> Iterator[Example]:
        key = (id(nlp.vocab), path.stat().st_mtime_ns if path.exists() else None)
        if key not in cache:
            docs = read_docbin(path, nlp.vocab)[: limit if limit > 0 else None]
            if not docs:
                raise HybridNerError(f"{path}: the corpus holds no documents")
            cache.clear()
            cache[key] = prepare(docs)
        return examples_from_docs(nlp, cache[key])

    return read


@registry.readers("hybrid_ner.ConllCorpus.v1")
def create_conll_corpus(
    path: Path,
    token_column: int = 0,
    tag_column: int = -1,
    scheme: str = "auto",
    strict: bool = True,
    encoding: str = "utf-8",
    limit: int = 0,
) -> Reader:
    """A CoNLL-style column file, as ``corpus.read_conll``; ``limit`` sentences (0: all)."""

    def read(nlp: Language) -> Iterable[Example]:
        docs = read_conll(
            path,
            nlp.vocab,
            token_column=token_column,
            tag_column=tag_column,
            scheme=scheme,
            strict=strict,
            encoding=encoding,  # type: ignore[arg-type]
        ).docs
        return examples_from_docs(nlp, docs, limit)

    return read


@registry.readers("hybrid_ner.JsonlCorpus.v1")
def create_jsonl_corpus(path: Path, strict: bool = True, limit: int = 0) -> Reader:
    """JSONL with character-offset spans, as ``corpus.read_jsonl``; ``limit`` records."""

    def read(nlp: Language) -> Iterable[Example]:
        return examples_from_docs(nlp, read_jsonl(path, nlp, strict=strict).docs, limit)

    return read


@registry.readers("hybrid_ner.SimulatedAnnotationCorpus.v1")
def create_simulated_annotation_corpus(
    path: Path,
    omit_rate: float = 0.0,
    budget_fraction: float = 1.0,
    seed: int = 0,
    label_rates: Dict[str, float] = {},
    limit: int = 0,
    omission_model: str = DEFAULT_OMISSION_MODEL,
) -> Reader:
    """A gold DocBin with ``hybrid-ner noise`` then ``budget`` simulated on the fly."""

    def prepare(docs: List[Doc]) -> List[Doc]:
        if omit_rate > 0 or label_rates:
            docs = simulate_omissions(docs, omit_rate, seed, label_rates, omission_model)  # type: ignore[arg-type]
        return simulate_budget(docs, budget_fraction, seed) if budget_fraction < 1.0 else docs

    return prepared_docbin(Path(path), limit, prepare)
