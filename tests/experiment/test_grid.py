"""The experiment grid: which cells, on which data, and a real (tiny) cell run."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Span

from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.errors import HybridNerError
from hybrid_ner.experiment.cells import Cell, plan_cells, teacher_cell
from hybrid_ner.experiment.costs import Costs
from hybrid_ner.experiment.data import GridData
from hybrid_ner.experiment.run import run_grid, sample_docs
from hybrid_ner.experiment.training import TrainSettings, train_overrides
from hybrid_ner.simulation.annotator import create_simulated_annotator

from ..conftest import ROOT

LABELS = ("PER", "LOC", "ORG", "MISC")


def test_plan_puts_the_main_comparison_first_and_skips_duplicates():
    cells = plan_cells("wg", [0.0, 0.2, 0.4], [0, 1], budgets=[0.25], conditions=None)
    ids = [c.cell_id for c in cells]
    assert len(ids) == len(set(ids))
    assert "human-omit_r0_b1_s0" not in ids  # same as human-clean
    first = cells[:14]
    assert {c.condition for c in first} == {
        "human-clean",
        "human-omit",
        "hybrid-label-mixing",
        "hybrid-random",
        "sim-hybrid-label-mixing",
        "human-negsample",
        "human-silence",
    }
    assert all(c.omit_rate in (0.0, 0.4) for c in first) and {c.seed for c in first} == {0, 1}
    assert [c.condition for c in cells[-8:]].count("hybrid-budget") == 2 and cells[
        -1
    ].budget == 0.25
    fixed = [c for c in cells if c.condition in ("llm-only", "sim-only", "human-clean")]
    assert len(fixed) == 6 and all(c.omit_rate == 0.0 and c.budget == 1.0 for c in fixed)
    # 3 fixed + 9 rate conditions x 3 rates - 1 + 4 budget conditions, per seed
    assert len(cells) == 2 * (3 + 9 * 3 - 1 + 4)


def test_plan_adds_hard_omission_cells_with_their_own_ids_and_teachers():
    from hybrid_ner.experiment.cells import needs_teacher

    conditions = ["human-omit", "human-silence", "hybrid-label-mixing", "human-selftrain"]
    cells = plan_cells(
        "wg", [0.0, 0.4], [0], [0.1], conditions=conditions, omission_models=["uniform", "hard"]
    )
    ids = [c.cell_id for c in cells]
    assert "human-omit_r0.4_b1_s0" in ids and "human-omit_r0.4_b1_s0_hard" in ids
    assert "human-silence_r0_b1_s0_hard" not in ids  # no omissions: one model is enough
    assert "human-selftrain_r0_b0.1_s0" in ids and not any(
        c.omission_model == "hard" for c in cells if c.budget < 1
    )
    hard = Cell("wg", "hybrid-label-mixing", 0.4, 1.0, 0, "hard")
    assert teacher_cell(hard).cell_id == "human-omit_r0.4_b1_s0_hard"
    assert not needs_teacher(hard)  # every token annotated: the teacher would predict none
    assert needs_teacher(Cell("wg", "hybrid-budget", 0.0, 0.1, 0))
    assert not needs_teacher(Cell("wg", "human-silence", 0.4, 1.0, 0))
    assert needs_teacher(Cell("wg", "human-selftrain", 0.0, 0.1, 0))
    assert teacher_cell(Cell("wg", "human-selftrain", 0.0, 0.1, 0)).condition == "human-budget"
    with pytest.raises(HybridNerError, match="Unknown omission model"):
        plan_cells("wg", [0.4], [0], omission_models=["sloppy"])


def test_plan_adds_uncertainty_selection_to_the_budget_cells_only():
    cells = plan_cells("wg", [0.4], [0], [0.1], selections=["random", "uncertainty"])
    chosen = {c.cell_id for c in cells if c.selection == "uncertainty"}
    assert chosen == {
        f"{c}_r0_b0.1_s0_uncertainty"
        for c in (
            "human-budget",
            "hybrid-budget",
            "sim-hybrid-budget",
            "sim-human-budget",
            "human-selftrain",
        )
    }
    assert "hybrid-budget_r0_b0.1_s0" in {c.cell_id for c in cells}  # random: ids as before
    selftrain = Cell("wg", "human-selftrain", 0.0, 0.1, 0, selection="uncertainty")
    assert teacher_cell(selftrain).cell_id == "human-budget_r0_b0.1_s0_uncertainty"
    # The simulated annotator chooses other documents: its teacher trains on those.
    sim = Cell("wg", "sim-hybrid-budget", 0.0, 0.1, 0, selection="uncertainty")
    assert teacher_cell(sim).cell_id == "sim-human-budget_r0_b0.1_s0_uncertainty"
    assert teacher_cell(replace(sim, selection="random")).cell_id == "human-budget_r0_b0.1_s0"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"selections": ["best"]}, "Unknown selection"),
        ({"conditions": ["human", "llm-only"]}, "Unknown condition"),
        ({"budgets": [1.0]}, "Budget fraction"),
        ({"rates": [1.5]}, "Omission rate"),
    ],
)
def test_plan_rejects_bad_settings(kwargs, message):
    args = {"dataset": "wg", "rates": [0.4], "seeds": [0], **kwargs}
    with pytest.raises(HybridNerError, match=message):
        plan_cells(**args)


def test_costs_follow_budget_and_annotator():
    costs = Costs(human_per_sentence=0.1, llm_per_sentence=0.002)
    assert costs.of(Cell("wg", "human-omit", 0.4, 1.0, 0), 100) == {
        "human": pytest.approx(10.0),
        "llm": 0.0,
        "total": pytest.approx(10.0),
    }
    assert costs.of(Cell("wg", "hybrid-budget", 0.0, 0.25, 0), 100) == {
        "human": pytest.approx(2.5),
        "llm": pytest.approx(0.2),
        "total": pytest.approx(2.7),
    }
    assert costs.of(Cell("wg", "llm-only", 0.0, 1.0, 0), 100)["human"] == 0.0
    chosen = Cell("wg", "human-budget", 0.0, 0.25, 0, selection="uncertainty")
    assert costs.of(chosen, 100)["llm"] == pytest.approx(0.2)  # the LLM chose the documents
    assert Costs(0.1, None).of(Cell("wg", "hybrid-random", 0.4, 1.0, 0), 10)["total"] is None
    usage = {"requests": 10, "cache_hits": 0, "prompt_tokens": 4000, "completion_tokens": 1000}
    assert Costs.from_usage(0.1, usage, 0.5, 1.5).llm_per_sentence == pytest.approx(0.35)
    assert Costs.from_usage(0.1, {"requests": 0}, 0.5, 1.5).llm_per_sentence is None
    # A replay from the cache costs what the answers cost when they were paid for.
    replay = {"requests": 0, "cache_hits": 8, "cached_prompt_tokens": 4000, "sentences_done": 4}
    assert Costs.from_usage(
        0.1, {**replay, "cached_completion_tokens": 1000}, 0.5, 1.5
    ).llm_per_sentence == pytest.approx(0.875)


def _corpus(path: Path, n: int = 40) -> Path:
    nlp = spacy.blank("en")
    docs = []
    for i in range(n):
        doc = nlp.make_doc(f"Ada Lovelace met Charles Babbage in London on day {i} .")
        doc.set_ents(
            [Span(doc, 0, 2, "PER"), Span(doc, 3, 5, "PER"), Span(doc, 6, 7, "LOC")],
            default="outside",
        )
        doc.spans["llm"] = [
            Span(doc, 0, 2, "PER"),
            Span(doc, 6, 7, "ORG"),
            Span(doc, 9, 10, "MISC"),
        ]
        doc.user_data["doc_id"] = f"doc{i // 4}"
        doc.user_data["sent_index"] = i % 4
        docs.append(doc)
    write_docbin(path, docs)
    return path


def _data(tmp_path: Path, train: Path, require_llm: bool = True) -> GridData:
    return GridData(
        "toy",
        train,
        tmp_path / "work",
        simulated=lambda seed: create_simulated_annotator("gpt-3.5-class", seed=seed),
        require_llm=require_llm,
    )


def test_data_variants_keep_layers_and_apply_omissions_budget_and_unannotated(tmp_path):
    train = _corpus(tmp_path / "train.spacy")
    data = _data(tmp_path, train)
    vocab = spacy.blank("en").vocab
    clean = read_docbin(data.path(Cell("toy", "human-clean", 0.0, 1.0, 0)), vocab)
    assert sum(len(d.ents) for d in clean) == 120 and all(
        "simulated" in d.spans and "llm" in d.spans for d in clean
    )
    omitted = read_docbin(data.path(Cell("toy", "hybrid-random", 0.5, 1.0, 0)), vocab)
    kept = sum(len(d.ents) for d in omitted)
    assert 30 < kept < 90 and kept + sum(len(d.spans["omitted"]) for d in omitted) == 120
    # The human-only and hybrid cells of one rate and seed train on the same file.
    assert data.path(Cell("toy", "human-omit", 0.5, 1.0, 0)) == data.path(
        Cell("toy", "hybrid-random", 0.5, 1.0, 0)
    )
    unannotated = read_docbin(data.path(Cell("toy", "llm-only", 0.0, 1.0, 0)), vocab)
    assert all(d.user_data["human_annotated"] is False and not d.ents for d in unannotated)
    budget = read_docbin(data.path(Cell("toy", "hybrid-budget", 0.0, 0.5, 1)), vocab)
    annotated_docs = {d.user_data["doc_id"] for d in budget if d.user_data["human_annotated"]}
    assert len(annotated_docs) == 5  # half of the 10 documents, whole documents only


def test_uncertainty_budget_data_follows_the_annotator_s_calibration(tmp_path):
    dev = _corpus(tmp_path / "dev.spacy")
    vocab = spacy.blank("en").vocab
    docs = read_docbin(dev, vocab)
    for doc in docs[:8]:  # documents 0 and 1: PER and ORG on London, in conflict
        doc.spans["llm"] = [*doc.spans["llm"], Span(doc, 6, 7, "PER")]
    write_docbin(tmp_path / "train.spacy", docs)
    data = _data(tmp_path, tmp_path / "train.spacy")
    data.llm_calibration = data.dev = dev
    human, hybrid, sim = (
        Cell("toy", condition, 0.0, 0.2, 0, selection="uncertainty")
        for condition in ("human-budget", "hybrid-budget", "sim-hybrid-budget")
    )
    random_path = data.path(Cell("toy", "hybrid-budget", 0.0, 0.2, 0))
    assert len({data.path(human), data.path(hybrid), random_path}) == 2
    assert data.path(sim) not in (data.path(hybrid), random_path)  # its own annotator chose
    chosen = {
        d.user_data["doc_id"]
        for d in read_docbin(data.path(hybrid), vocab)
        if d.user_data["human_annotated"]
    }
    assert chosen == {"doc0", "doc1"}  # the documents with the conflicting proposals
    assert data.selection(sim).spans_key == "simulated"
    assert data.selection(sim).calibration != data.llm_calibration
    assert data.selection(Cell("toy", "hybrid-budget", 0.0, 0.2, 0)) is None


def test_missing_proposals_are_an_error_naming_the_file(tmp_path):
    nlp = spacy.blank("en")
    doc = nlp.make_doc("Ada met Bob .")
    path = tmp_path / "gold_only.spacy"
    write_docbin(path, [doc])
    with pytest.raises(HybridNerError, match="gold_only.spacy: 1 of 1 Docs have no doc.spans"):
        _data(tmp_path, path).annotated(0)
    assert len(_data(tmp_path, path, require_llm=False).annotated(0)) == 1


def test_overrides_point_the_merge_at_the_annotator_s_span_group(tmp_path):
    cell = Cell("x", "sim-hybrid-label-mixing", 0.4, 1.0, 2)
    sim = train_overrides(
        cell,
        tmp_path / "t",
        tmp_path / "d",
        300,
        calibration=tmp_path / "c",
        teacher=tmp_path / "h",
    )
    assert sim["training.train_corpus"] == "corpora.hybrid_calibrated"
    assert (
        sim["corpora.hybrid_calibrated.merger.llm_key"] == "simulated" and sim["system.seed"] == 2
    )
    assert sim["corpora.hybrid_calibrated.mixing.calibration"] == str(tmp_path / "c")
    assert sim["corpora.hybrid_calibrated.mixing.teacher"] == str(tmp_path / "h")
    assert sim["training.max_steps"] == 300
    # The teacher of a calibrated cell is the human-only model of its setting.
    assert teacher_cell(cell).cell_id == "human-omit_r0.4_b1_s2"
    assert (
        teacher_cell(Cell("x", "hybrid-budget", 0.0, 0.1, 1)).cell_id == "human-budget_r0_b0.1_s1"
    )
    assert (
        teacher_cell(Cell("x", "hybrid-label-mixing", 0.0, 1.0, 0)).cell_id
        == "human-clean_r0_b1_s0"
    )
    old = train_overrides(
        Cell("x", "sim-hybrid-lambda-mixing", 0.4, 1.0, 2), tmp_path / "t", tmp_path / "d", 300
    )
    assert (
        old["training.train_corpus"] == "corpora.hybrid_mixing"
        and old["corpora.hybrid_mixing.merger.llm_key"] == "simulated"
    )
    llm = train_overrides(Cell("x", "llm-only", 0.0, 1.0, 0), tmp_path / "t", tmp_path / "d", 300)
    assert (
        llm["training.train_corpus"] == "corpora.hybrid_random"
        and llm["corpora.hybrid_random.merger.llm_key"] == "llm"
    )


def test_samples_show_every_layer(tmp_path):
    data = _data(tmp_path, _corpus(tmp_path / "train.spacy"))
    samples = sample_docs(data, 0, 0.4, n=3)
    assert len(samples) == 3
    for doc in samples:
        assert {"gold", "omitted", "llm", "human", "llm_added", "llm_rejected"} <= set(doc.spans)
        assert len(doc.spans["gold"]) == 3


@pytest.mark.slow
def test_run_grid_trains_scores_writes_and_resumes(tmp_path):
    train = _corpus(tmp_path / "train.spacy", 24)
    data = _data(tmp_path, train)
    cells = [
        Cell("toy", "hybrid-label-mixing", 0.4, 1.0, 0),
        Cell("toy", "human-omit", 0.4, 1.0, 0),
        Cell("toy", "hybrid-lambda-mixing", 0.4, 1.0, 0),
    ]
    config = ROOT / "configs" / "ner_soft_cpu.cfg"
    out = tmp_path / "metrics"
    results = run_grid(cells, data, TrainSettings(train, train, config, 6, Costs(0.1, 0.01)), out)
    assert len(results) == 3
    written = json.loads((out / "cells" / "hybrid-label-mixing_r0.4_b1_s0.json").read_text())
    assert (
        written["condition"] == "hybrid-label-mixing"
        and written["annotator"] == "llm"
        and written["steps"] == 6
    )
    # No calibration file given: the biased fallback, said in the result; every
    # token was annotated, so no teacher is needed (the human-only model is
    # still kept as the teacher of budget cells).
    assert 0.0 <= written["scores"]["f"] <= 1.0 and written["calibration"]["biased"] is True
    assert written["calibration"]["teacher"] is None
    assert (data.teacher_dir(Cell("toy", "human-omit", 0.4, 1.0, 0)) / "meta.json").exists()
    lambdas = json.loads((out / "cells" / "hybrid-lambda-mixing_r0.4_b1_s0.json").read_text())[
        "lambdas"
    ]
    assert set(lambdas) == {"PER", "LOC", "ORG", "MISC"}
    assert "lambdas" not in json.loads((out / "cells" / "human-omit_r0.4_b1_s0.json").read_text())
    assert written["cost"]["llm"] == pytest.approx(0.24) and written["train_sentences"] == 24
    assert not (tmp_path / "work" / "models" / "toy" / "human-omit_r0.4_b1_s0").exists()
    assert (
        run_grid(cells, data, TrainSettings(train, train, config, 6, Costs()), out) == []
    )  # resumes: nothing left


@pytest.mark.slow
def test_cells_trained_in_parallel_processes_score_as_one_after_the_other(tmp_path):
    train = _corpus(tmp_path / "train.spacy", 16)
    config = ROOT / "configs" / "ner_soft_cpu.cfg"
    # The budget cell needs its teacher (the human-only budget cell), trained first.
    cells = [
        Cell("toy", "hybrid-budget", 0.0, 0.5, 0),
        Cell("toy", "human-omit", 0.4, 1.0, 0),
        Cell("toy", "human-silence", 0.4, 1.0, 0),
    ]
    scores = {}
    for jobs in (1, 2):
        data = _data(tmp_path / f"jobs{jobs}", train)
        out = tmp_path / f"metrics{jobs}"
        results = run_grid(
            cells, data, TrainSettings(train, train, config, 4, Costs()), out, jobs=jobs
        )
        assert sorted(r.condition for r in results) == sorted(c.condition for c in cells)
        assert data.has_teacher(Cell("toy", "human-budget", 0.0, 0.5, 0))
        scores[jobs] = {
            path.stem: json.loads(path.read_text())["scores"]["f"]
            for path in (out / "cells").glob("*.json")
        }
    assert scores[2] == pytest.approx(scores[1], abs=1e-6)


def test_a_failing_training_names_the_cell_and_its_log(tmp_path):
    train = _corpus(tmp_path / "train.spacy", 8)
    data = _data(tmp_path, train)
    cell = Cell("toy", "human-omit", 0.4, 1.0, 0)
    config = ROOT / "configs" / "ner_soft_cpu.cfg"
    with pytest.raises(
        HybridNerError,
        match=r"human-omit_r0.4_b1_s0: training with .*ner_soft_cpu.cfg failed "
        r".*human-omit_r0.4_b1_s0.log",
    ):
        overrides = {"components.ner.factory": "no_such_factory"}
        run_grid(
            [cell],
            data,
            TrainSettings(train, train, config, 2, Costs(), overrides=overrides),
            tmp_path / "m",
        )
    assert (tmp_path / "work" / "logs" / "toy" / "human-omit_r0.4_b1_s0.log").exists()
    assert not (tmp_path / "m" / "cells" / "human-omit_r0.4_b1_s0.json").exists()


def test_lambdas_come_back_from_the_reader_of_the_cell_s_config(tmp_path):
    """λ is read from the reader object of the same config and overrides (no module global)."""
    from hybrid_ner.experiment.training import fitted_lambdas

    train = _corpus(tmp_path / "train.spacy", 12)
    cell = Cell("toy", "hybrid-lambda-mixing", 0.4, 1.0, 0)
    overrides = train_overrides(cell, train, train, 6)
    lambdas = fitted_lambdas(ROOT / "configs" / "ner_soft_cpu.cfg", overrides)
    assert lambdas is not None and set(lambdas) >= {"PER", "LOC"}
    # The LLM's PER proposals agree with the human, its ORG and MISC never do:
    # both get the same, lower λ (the lower clip).
    assert lambdas["ORG"] == lambdas["MISC"] < lambdas["PER"], lambdas
    assert fitted_lambdas(ROOT / "configs" / "ner_soft_cpu.cfg", overrides) == lambdas


def test_a_cell_result_round_trips_through_its_json(tmp_path):
    from hybrid_ner.experiment.result import CellResult

    result = CellResult(
        dataset="toy",
        condition="hybrid-lambda-mixing",
        annotator="llm",
        omit_rate=0.4,
        budget=1.0,
        seed=1,
        p=0.5,
        r=0.25,
        f=1 / 3,
        per_type={"PER": {"p": 0.5, "r": 0.25, "f": 1 / 3}},
        cost={"human": 1.0, "llm": None, "total": None},
        lambdas={"PER": 0.4},
        train_sentences=12,
        train_seconds=3.2,
        steps=6,
        config="configs/ner_soft_cpu.cfg",
    )
    data = json.loads(json.dumps(result.to_json()))
    assert data["cell_id"] == "hybrid-lambda-mixing_r0.4_b1_s1" and "calibration" not in data
    assert data["omission_model"] == "uniform"
    hard = CellResult.from_json(tmp_path / "hard.json", {**data, "omission_model": "hard"})
    assert hard.cell.cell_id == "hybrid-lambda-mixing_r0.4_b1_s1_hard"
    with pytest.raises(HybridNerError, match="omission_model"):
        CellResult.from_json(tmp_path / "bad.json", {**data, "omission_model": "sloppy"})
    assert data["selection"] == "random"
    old = {k: v for k, v in data.items() if k != "selection"}  # cells from before selections
    assert CellResult.from_json(tmp_path / "old.json", old).cell == result.cell
    chosen = CellResult.from_json(tmp_path / "u.json", {**data, "selection": "uncertainty"})
    assert chosen.cell.cell_id == "hybrid-lambda-mixing_r0.4_b1_s1_uncertainty"
    with pytest.raises(HybridNerError, match="selection"):
        CellResult.from_json(tmp_path / "bad.json", {**data, "selection": "best"})
    assert data["scores"]["per_type"]["PER"]["r"] == 0.25 and data["cost"]["llm"] is None
    back = CellResult.from_json(tmp_path / "cell.json", data)
    assert back.name == "cell" and back.lambdas == {"PER": 0.4} and back.cost == {"human": 1.0}
    assert (back.f, back.steps, back.train_seconds, back.group) == (
        result.f,
        6,
        3.2,
        ("hybrid-lambda-mixing", "rate", 0.4),
    )
