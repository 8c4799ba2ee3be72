"""`hybrid-ner propose --clusters N`: examples shared per cluster (ClusteredExamples)."""

import pytest

from hybrid_ner.cli.propose_config import configure
from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm import config as cfg
from hybrid_ner.llm.clustered import ClusteredExamples
from hybrid_ner.llm.fewshot import SimilarExamples

from .conftest import gold_answers, lines_answerer
from .test_propose_cli import backend, run_cli


def test_clusters_switches_the_retriever_keeping_pool_and_k(tmp_path):
    config = configure(None, {"--examples": tmp_path / "pool.spacy", "--k": 2, "--clusters": 8}, {})
    block = cfg.setting(config, cfg.EXAMPLES)
    assert block["@llm_misc"] == cfg.CLUSTERED_EXAMPLES
    assert (block["pool"], block["k"], block["clusters"]) == (str(tmp_path / "pool.spacy"), 2, 8)
    task = cfg.build_pipeline(config).get_pipe("llm").task
    assert isinstance(task.examples, ClusteredExamples) and task.examples.clusters == 8
    # 0: back to per-sentence retrieval, without the clustered-only setting.
    path = tmp_path / "clustered.cfg"
    config.to_disk(path)
    config = configure(path, {"--clusters": 0}, {})
    block = cfg.setting(config, cfg.EXAMPLES)
    assert block["@llm_misc"] == cfg.SIMILAR_EXAMPLES and "clusters" not in block
    assert type(cfg.build_pipeline(config).get_pipe("llm").task.examples) is SimilarExamples


def test_clusters_and_its_override_together_are_refused():
    with pytest.raises(HybridNerError, match="clusters"):
        configure(None, {"--clusters": 4}, {cfg.CLUSTERS: 8})


def test_propose_with_clusters_shows_one_example_set_per_cluster(
    server,
    tmp_path,
    gold_file,
    gold_docs,  # noqa: F811
):
    server.answer = lines_answerer(gold_answers(gold_docs))
    out = tmp_path / "out.spacy"
    args = ["propose", gold_file, out, *backend(server, tmp_path), "--examples", gold_file]
    assert run_cli(*args, "--k", 2, "--clusters", 1) == 0
    prompts = [r["messages"][-1]["content"] for r in server.requests]
    examples = {p[: p.rindex("Input:")] for p in prompts}
    # One cluster: the two pool sentences nearest its centroid, unless one of
    # them is the sentence itself (the next nearest then stands in).
    assert len(prompts) == 5 and len(examples) <= 3
    assert run_cli(*args, "--clusters", -1) == 1
