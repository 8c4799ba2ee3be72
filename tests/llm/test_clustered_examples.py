"""hybrid_ner.ClusteredExamples.v1: examples shared by the sentences of a cluster."""

import numpy
import pytest
from spacy_llm.registry import registry

from hybrid_ner.errors import HybridNerError
from hybrid_ner.layers import DOC_ID, SOURCE
from hybrid_ner.llm.clustered import ClusteredExamples, kmeans, nearest_centroid
from hybrid_ner.llm.fewshot import SentenceEmbedder, SimilarExamples

from .conftest import make_doc

SPORT = [
    ("The striker scored twice in the final .", []),
    ("The goalkeeper saved a penalty in the second half .", []),
    ("Their midfielder was sent off after a foul .", []),
    ("The team won the cup after extra time .", []),
]
MONEY = [
    ("Shares fell three percent in early trading .", []),
    ("The bank raised its interest rate forecast .", []),
    ("Investors sold bonds as inflation rose .", []),
    ("The company reported a quarterly loss .", []),
]


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder()


def _pool(nlp):
    return [make_doc(nlp, text, ents) for text, ents in SPORT + MONEY]


def test_kmeans_finds_separated_groups_and_is_deterministic():
    rng = numpy.random.RandomState(1)
    a = rng.normal(0, 0.05, (10, 3)) + [1, 0, 0]
    b = rng.normal(0, 0.05, (10, 3)) + [0, 1, 0]
    x = numpy.vstack([a, b])
    centroids = kmeans(x, 2, seed=0)
    assign = nearest_centroid(x, centroids)
    assert len(set(assign[:10])) == 1 and len(set(assign[10:])) == 1
    assert assign[0] != assign[10]
    numpy.testing.assert_array_equal(centroids, kmeans(x, 2, seed=0))
    # Duplicated points: more clusters than distinct points still works.
    assert kmeans(numpy.ones((3, 2)), 3, seed=0).shape == (3, 2)


def test_sentences_of_one_cluster_share_their_examples(nlp, embedder):
    retriever = ClusteredExamples(_pool(nlp), k=2, embedder=embedder, clusters=2)
    queries = [
        make_doc(nlp, "The defender headed the ball into his own goal .", []),
        make_doc(nlp, "The coach praised the striker after the match .", []),
        make_doc(nlp, "Bond yields rose as the central bank met .", []),
    ]
    sport_a, sport_b, money = [[ex.text for ex in exs] for exs in retriever(queries)]
    assert len(sport_a) == 2 and sport_a == sport_b
    assert set(sport_a) <= {text for text, _ in SPORT}
    assert set(money) <= {text for text, _ in MONEY}
    # The examples depend on the sentence alone, not on the others in the call.
    assert [ex.text for ex in retriever([queries[2]])[0]] == money
    # Per-sentence retrieval shows each query its own nearest sentences.
    similar = SimilarExamples(_pool(nlp), k=2, embedder=embedder)
    assert retriever.scores(queries).shape == similar.scores(queries).shape == (3, 8)


def test_never_the_sentence_itself_nor_its_document(nlp, embedder):
    pool = _pool(nlp)
    for i, doc in enumerate(pool):
        doc.user_data[SOURCE], doc.user_data[DOC_ID] = "pool", i // 2  # pairs of sentences
    retriever = ClusteredExamples(pool, k=3, embedder=embedder, clusters=1)
    chosen = retriever(pool)
    for doc, examples in zip(pool, chosen):
        assert len(examples) == 3
        assert all(ex.user_data[DOC_ID] != doc.user_data[DOC_ID] for ex in examples)
    # One cluster: one example set, but for the sentences it would include.
    assert len({tuple(ex.text for ex in exs) for exs in chosen}) > 1


def test_clusters_are_checked_and_capped_by_the_pool(nlp, embedder):
    with pytest.raises(HybridNerError, match="clusters"):
        ClusteredExamples(_pool(nlp), k=2, embedder=embedder, clusters=0)
    retriever = ClusteredExamples(_pool(nlp)[:3], k=1, embedder=embedder, clusters=50)
    assert retriever.centroids.shape[0] == 3
    query = make_doc(nlp, "Shares rose .", [])
    assert len(retriever([query])[0]) == 1
    assert ClusteredExamples(None, k=2, embedder=embedder)([query]) == [[]]


def test_registered_with_the_defaults_of_the_class(nlp, embedder):
    create = registry.llm_misc.get("hybrid_ner.ClusteredExamples.v1")
    retriever = create(pool=None, k=3, embedder=embedder)
    assert isinstance(retriever, ClusteredExamples)
    assert (retriever.k, retriever.clusters, retriever.seed, retriever.nearest) == (3, 16, 0, 0)


def test_nearest_shows_the_sentences_own_nearest_after_the_shared_ones(nlp, embedder):
    pool = _pool(nlp)
    retriever = ClusteredExamples(pool, k=3, embedder=embedder, clusters=2, nearest=1)
    shared_only = ClusteredExamples(pool, k=2, embedder=embedder, clusters=2)
    similar = SimilarExamples(pool, k=len(pool), embedder=embedder)
    queries = [
        make_doc(nlp, "The defender headed the ball into his own goal .", []),
        make_doc(nlp, "The coach praised the striker after the match .", []),
    ]
    for query, examples, shared in zip(queries, retriever(queries), shared_only(queries)):
        texts = [ex.text for ex in examples]
        # The cluster's examples first (the prompts of a cluster share them), ...
        assert texts[:2] == [ex.text for ex in shared]
        # ... then the most similar pool sentence not already shown.
        ranked = sorted(pool, key=lambda ex: -float(similar.scores([query])[0][pool.index(ex)]))
        assert texts[2] == next(ex.text for ex in ranked if ex.text not in texts[:2])
    with pytest.raises(HybridNerError, match="nearest"):
        ClusteredExamples(pool, k=2, embedder=embedder, nearest=3)
