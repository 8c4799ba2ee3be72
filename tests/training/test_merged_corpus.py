import numpy
import pytest
import spacy
from spacy.util import registry
from thinc.api import Config

from hybrid_ner.corpus import write_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.layers import LLM_ADDED_KEY
from hybrid_ner.merge.merger import Merger
from hybrid_ner.merge.mixing import LabelMixing
from hybrid_ner.tags import TAG_LIKELIHOODS
from hybrid_ner.training.merged_corpus import MergedCorpus, create_merged_corpus

from ..conftest import ROOT
from ..doc_builders import make_doc, tuples

WORDS = "Ann met Bob in Rome and Acme in Oslo .".split()


def corpus_docs(vocab, n=12):
    """Human entities with an omission (Oslo), proposals that find it, and conflicts."""
    docs = []
    for i in range(n):
        docs.append(
            make_doc(
                vocab,
                WORDS,
                human=[(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (6, 7, "ORG")],
                llm=[(0, 1, "PER"), (4, 5, "ORG"), (6, 7, "ORG"), (8, 9, "LOC"), (8, 9, "ORG")],
                doc_id=f"d{i}",
            )
        )
    return docs


@pytest.fixture
def train_path(tmp_path):
    path = tmp_path / "train.spacy"
    write_docbin(path, corpus_docs(spacy.blank("en").vocab))
    return path


def test_examples_keep_tokens_and_carry_the_merge_and_targets(train_path):
    nlp = spacy.blank("en")
    reader = create_merged_corpus(train_path, Merger(), LabelMixing(prior=0.5))
    assert reader.lambdas is None  # type: ignore[attr-defined]
    examples = list(reader(nlp))
    assert len(examples) == 12
    # The fitted λ travel on the reader object, for an experiment to record.
    assert set(reader.lambdas) >= {"LOC", "ORG"}  # type: ignore[attr-defined]
    eg = examples[0]
    assert [t.text for t in eg.predicted] == WORDS == [t.text for t in eg.reference]
    assert not eg.predicted.ents and not eg.predicted.spans
    assert tuples(eg.reference.spans[LLM_ADDED_KEY]) == [
        (8, 9, "ORG")
    ]  # same length: the more reliable label
    # The targets, as fixed rows of the one target format (tags of every label seen).
    targets = eg.reference.user_data[TAG_LIKELIHOODS]
    assert targets["fixed"].all() and targets["mask"].tolist() == [1.0] * len(WORDS)
    rows = [
        {tag: float(p) for tag, p in zip(targets["tags"], row) if p} for row in targets["values"]
    ]
    assert rows[0] == {"U-PER": 1.0}
    # Oslo: LOC and ORG candidates, λ from reliability (LOC never confirmed, ORG half the time)
    assert set(rows[8]) == {"U-LOC", "U-ORG", "O"} and sum(rows[8].values()) == pytest.approx(1.0)


def test_without_mixing_the_targets_are_the_merged_entities_and_random_is_seeded(train_path):
    nlp = spacy.blank("en")
    read = create_merged_corpus(train_path, Merger(overlap="random", seed=1))
    first = [tuples(eg.reference.ents) for eg in read(nlp)]
    assert all(TAG_LIKELIHOODS not in eg.reference.user_data for eg in read(nlp))
    assert [tuples(eg.reference.ents) for eg in read(nlp)] == first
    oslo = {ents[-1] for ents in first}
    assert oslo == {(8, 9, "LOC"), (8, 9, "ORG")}  # both candidates are picked somewhere


@pytest.mark.parametrize("config_name", ["ner_soft_cpu.cfg", "ner_soft.cfg"])
def test_the_configs_three_training_corpora(config_name, train_path):
    config = Config().from_disk(
        ROOT / "configs" / config_name,
        overrides={"paths.train": str(train_path), "paths.dev": str(train_path)},
    )
    corpora = registry.resolve(config["corpora"])
    nlp = spacy.blank("en")
    human = list(corpora["human"](nlp))
    assert tuples(human[0].reference.ents) == [
        (0, 1, "PER"),
        (2, 3, "PER"),
        (4, 5, "LOC"),
        (6, 7, "ORG"),
    ]
    random_ = list(corpora["hybrid_random"](nlp))
    assert {tuples(eg.reference.ents)[-1] for eg in random_} == {(8, 9, "LOC"), (8, 9, "ORG")}
    mixing = list(corpora["hybrid_mixing"](nlp))
    assert all(TAG_LIKELIHOODS in eg.reference.user_data for eg in mixing)


@pytest.mark.slow
@pytest.mark.parametrize(
    "corpus", ["corpora.human", "corpora.hybrid_random", "corpora.hybrid_mixing"]
)
def test_spacy_train_each_condition_and_load_the_result(corpus, train_path, tmp_path):
    from spacy.cli.train import train

    output = tmp_path / "model"
    overrides = {
        "paths.train": str(train_path),
        "paths.dev": str(train_path),
        "training.train_corpus": corpus,
        "training.max_steps": 30,
        "training.eval_frequency": 10,
        "training.max_epochs": 0,
    }
    train(ROOT / "configs" / "ner_soft_cpu.cfg", output, overrides=overrides)
    nlp = spacy.load(output / "model-last")
    doc = nlp("Ann met Bob in Rome and Acme in Oslo .")
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert ("Ann", "PER") in [(e.text, e.label_) for e in doc.ents]
    assert all(t.ent_iob_ in ("B", "I", "O") for t in doc)


def test_reads_and_merges_once_per_training_run_but_sees_a_changed_file(train_path, monkeypatch):
    """spacy train calls the reader every epoch: the file is read once, each
    call gets fresh Examples with the same references, a rewritten file is re-read."""
    import hybrid_ner.training.readers as module

    calls = []
    real_read = module.read_docbin
    monkeypatch.setattr(
        module, "read_docbin", lambda path, vocab: calls.append(path) or real_read(path, vocab)
    )
    nlp = spacy.blank("en")
    reader = create_merged_corpus(train_path, Merger(), LabelMixing(prior=0.5))
    first, second = list(reader(nlp)), list(reader(nlp))
    assert len(calls) == 1
    assert [e.reference for e in first] == [e.reference for e in second]
    assert all(a.predicted is not b.predicted for a, b in zip(first, second))
    assert numpy.array_equal(
        first[0].reference.user_data[TAG_LIKELIHOODS]["values"],
        second[0].reference.user_data[TAG_LIKELIHOODS]["values"],
    )
    import os

    write_docbin(train_path, corpus_docs(spacy.blank("en").vocab, n=5))
    os.utime(train_path, ns=(1, 1))  # a different mtime, whatever the clock resolution
    assert len(list(reader(nlp))) == 5 and len(calls) == 2


def test_an_empty_corpus_or_calibration_file_is_one_line_not_a_silent_training(tmp_path):
    import spacy

    from hybrid_ner.corpus import write_docbin
    from hybrid_ner.errors import HybridNerError
    from hybrid_ner.merge.calibration.mixing import CalibratedMixing
    from hybrid_ner.merge.merger import Merger
    from hybrid_ner.training.merged_corpus import MergedCorpus
    from hybrid_ner.training.readers import create_simulated_annotation_corpus

    from ..doc_builders import make_doc

    nlp = spacy.blank("en")
    write_docbin(tmp_path / "empty.spacy", [])
    write_docbin(tmp_path / "train.spacy", [make_doc(nlp.vocab, ["Ann"], human=[(0, 1, "PER")])])
    with pytest.raises(HybridNerError, match="empty.spacy: the corpus holds no documents"):
        list(create_simulated_annotation_corpus(tmp_path / "empty.spacy")(nlp))
    with pytest.raises(HybridNerError, match="empty.spacy: the corpus holds no documents"):
        list(MergedCorpus(tmp_path / "empty.spacy", Merger())(nlp))
    mixing = CalibratedMixing(tmp_path / "empty.spacy")
    with pytest.raises(HybridNerError, match="the calibration file holds no documents"):
        list(MergedCorpus(tmp_path / "train.spacy", Merger(), mixing)(nlp))


def test_calibrated_evidence_reads_the_proposals_without_a_merge(train_path):
    """With calibrated evidence no merge happens: the human annotation stays as
    it is, the proposals of merger.llm_key are the evidence, and the merge
    settings that could not act are refused instead of ignored."""
    from hybrid_ner.merge.acceptance import AcceptLabels
    from hybrid_ner.merge.calibration.mixing import CalibratedMixing

    nlp = spacy.blank("en")
    mixing = CalibratedMixing(omission_rate=0.2, min_posterior=0)  # every label's evidence
    (eg, *_) = MergedCorpus(train_path, Merger(), mixing)(nlp)
    assert tuples(eg.reference.ents) == [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (6, 7, "ORG")]
    assert LLM_ADDED_KEY not in eg.reference.spans
    (other, *_) = MergedCorpus(train_path, Merger(llm_key="none"), mixing)(nlp)
    rows = [e.reference.user_data[TAG_LIKELIHOODS] for e in (eg, other)]
    oslo, silent = (dict(zip(row["tags"], row["values"][8])) for row in rows)
    # Oslo: proposed LOC and ORG in "llm" (evidence, here against them: the biased
    # calibration saw the human leave Oslo out every time); no proposals in "none"
    assert oslo["U-ORG"] < silent["U-ORG"] == pytest.approx(0.2)  # ω alone
    for merger, mixing, names in [
        (Merger(overlap="random"), CalibratedMixing(), "merger.overlap"),
        (
            Merger(accept=AcceptLabels(("PER",)), uncovered="missing"),
            CalibratedMixing(),
            "accept, merger.uncovered",
        ),
        # λ mixing mixes all the candidates of an overlap: the rule picks none
        (Merger(overlap="first"), LabelMixing(), "merger.overlap"),
    ]:
        with pytest.raises(HybridNerError, match=names):
            MergedCorpus(train_path, merger, mixing)
    MergedCorpus(train_path, Merger(overlap="random"), None)  # the merge's own targets
