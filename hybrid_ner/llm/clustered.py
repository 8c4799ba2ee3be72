"""Few-shot examples shared by the sentences of a cluster (issue 15.1).

:class:`~hybrid_ner.llm.fewshot.SimilarExamples` picks k examples per
sentence: the prompts of two sentences rarely share more than the
instructions, so a local model evaluates ~170 new tokens per prompt. Here the
pool's sentence embeddings are grouped by k-means into ``clusters`` clusters;
a sentence is shown the k pool sentences nearest the centroid of its cluster.
The sentences of a cluster then share their whole prompt up to the sentence
itself, which llama.cpp evaluates once (``hybrid-ner propose`` sends prompts
sorted, and the embedded backend reuses whole segments).

The examples are less similar to each sentence than its own nearest ones:
a trade of proposal quality for speed, measured by
``scripts/bench_prompt_order.py`` (``--clusters``). Opt-in:
``hybrid_ner.ClusteredExamples.v1`` or ``hybrid-ner propose --clusters N``.
"""

from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy
from spacy.tokens import Doc
from spacy_llm.registry import registry

from ..errors import HybridNerError
from .fewshot import Embedder, SentenceEmbedder, SimilarExamples


def kmeans(vectors: numpy.ndarray, c: int, seed: int, iterations: int = 100) -> numpy.ndarray:
    """Lloyd's k-means with k-means++ seeding, deterministic for a seed.

    vectors (numpy.ndarray): (n, dim) points.
    c (int): Number of clusters (at most n).
    seed (int): Seed of the k-means++ draws.
    iterations (int): At most this many Lloyd steps.
    RETURNS (numpy.ndarray): (c, dim) centroids.
    """
    rng = numpy.random.RandomState(seed)
    x = vectors.astype("float64")
    centroids = x[[rng.randint(len(x))]]
    for _ in range(1, c):
        d2 = ((x[:, None, :] - centroids[None]) ** 2).sum(-1).min(axis=1)
        # All points on centroids already (duplicates): any point will do.
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centroids = numpy.vstack([centroids, x[rng.choice(len(x), p=p)]])
    for _ in range(iterations):
        assign = nearest_centroid(x, centroids)
        moved = numpy.array(
            [x[assign == j].mean(0) if (assign == j).any() else centroids[j] for j in range(c)]
        )
        if numpy.allclose(moved, centroids):
            break
        centroids = moved
    return centroids


def nearest_centroid(x: numpy.ndarray, centroids: numpy.ndarray) -> numpy.ndarray:
    """The index of each point's nearest centroid (Euclidean; first on ties)."""
    return numpy.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)


class ClusteredExamples(SimilarExamples):
    """The k pool sentences nearest the centroid of a sentence's cluster.

    pool (Union[str, Path, Sequence[Doc], None]): As for SimilarExamples.
    k (int): Number of examples per sentence.
    embedder (Embedder): Maps sentences to unit vectors.
    clusters (int): k-means clusters of the pool (at most its size): the
        number of distinct example sets, so of prompt prefixes a local model
        evaluates. Fewer is faster, more is closer to per-sentence retrieval.
    seed (int): Seed of the clustering.
    nearest (int): Of the k examples, this many are the sentence's own most
        similar pool sentences, shown after the cluster's k - nearest: the
        prompts of a cluster then share their prefix up to those.

    Like SimilarExamples, never the sentence itself nor another sentence of
    its document, and in the canonical order: the examples depend on the pool
    and the sentence alone, never on the other sentences of a run.
    """

    #: Clusters of ``hybrid_ner.ClusteredExamples.v1``.
    DEFAULT_CLUSTERS = 16
    DEFAULT_SEED = 0
    DEFAULT_NEAREST = 0

    def __init__(
        self,
        pool: Union[str, Path, Sequence[Doc], None],
        k: int,
        embedder: Embedder,
        clusters: int = DEFAULT_CLUSTERS,
        seed: int = DEFAULT_SEED,
        nearest: int = DEFAULT_NEAREST,
    ) -> None:
        if clusters < 1:
            raise HybridNerError(f"The number of clusters must be >= 1, got {clusters}")
        if not 0 <= nearest <= k:
            raise HybridNerError(f"nearest must be between 0 and k ({k}), got {nearest}")
        super().__init__(pool, k, embedder)
        self.clusters = clusters
        self.seed = seed
        self.nearest = nearest
        self._centroids: Optional[numpy.ndarray] = None

    @property
    def centroids(self) -> numpy.ndarray:
        """The k-means centroids of the pool's embeddings (computed once)."""
        if self._centroids is None:
            vectors = self._pool_vectors()
            self._centroids = kmeans(vectors, min(self.clusters, len(vectors)), self.seed)
        return self._centroids

    def __call__(self, docs: Sequence[Doc]) -> List[List[Doc]]:
        """Per Doc: its cluster's k - nearest examples, then its own nearest."""
        if self.k == 0 or not self.pool or self.nearest == 0:
            return super().__call__(docs)
        chosen = []
        for doc, shared_scores, own_scores in zip(docs, self.scores(docs), super().scores(docs)):
            shared = self.select(doc, shared_scores, self.k - self.nearest)
            chosen.append(shared + self.select(doc, own_scores, self.nearest, exclude=shared))
        return chosen

    def scores(self, docs: Sequence[Doc]) -> numpy.ndarray:
        """Each pool sentence's similarity to the centroid of the Doc's cluster."""
        centroids = self.centroids
        assign = nearest_centroid(self.query_vectors(docs).astype("float64"), centroids)
        return (centroids @ self._pool_vectors().T.astype("float64"))[assign]


@registry.llm_misc("hybrid_ner.ClusteredExamples.v1")
def create_clustered_examples(
    pool: Optional[str] = None,
    k: int = SimilarExamples.DEFAULT_K,
    embedder: Optional[Embedder] = None,
    clusters: int = ClusteredExamples.DEFAULT_CLUSTERS,
    seed: int = ClusteredExamples.DEFAULT_SEED,
    nearest: int = ClusteredExamples.DEFAULT_NEAREST,
) -> ClusteredExamples:
    """Few-shot examples shared per cluster of similar sentences: faster on a
    local LLM (the prompts of a cluster share their prefix), less similar
    than per-sentence retrieval (``hybrid_ner.SimilarExamples.v1``).

    pool (Optional[str]): DocBin of human-annotated sentences; None gives
        zero-shot prompts.
    k (int): Examples per sentence.
    embedder (Optional[Embedder]): Sentence embedder; the offline MiniLM if None.
    clusters (int): Clusters of the pool, i.e. distinct example sets.
    seed (int): Seed of the clustering.
    nearest (int): Of the k examples, this many are the sentence's own most
        similar ones (shown last).
    RETURNS (ClusteredExamples): The retriever.
    """
    return ClusteredExamples(
        pool=pool,
        k=k,
        embedder=embedder or SentenceEmbedder(),
        clusters=clusters,
        seed=seed,
        nearest=nearest,
    )
