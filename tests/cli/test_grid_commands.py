import json
import re

import click
import pytest
import spacy
from spacy.tokens import Span

from hybrid_ner.cli import main
from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.overrides import parse_cli_overrides


@pytest.fixture
def files(tmp_path):
    nlp = spacy.blank("en")
    docs = []
    for i in range(16):
        doc = nlp.make_doc(f"Ada Lovelace met Charles Babbage in London on day {i} .")
        doc.set_ents(
            [Span(doc, 0, 2, "PER"), Span(doc, 3, 5, "PER"), Span(doc, 6, 7, "LOC")],
            default="outside",
        )
        doc.spans["llm"] = [Span(doc, 0, 2, "PER"), Span(doc, 6, 7, "ORG")]
        doc.user_data["doc_id"] = f"doc{i // 4}"
        docs.append(doc)
    train = tmp_path / "train.spacy"
    write_docbin(train, docs)
    usage = tmp_path / "usage.json"
    usage.write_text(
        json.dumps(
            {"requests": 16, "cache_hits": 0, "prompt_tokens": 16000, "completion_tokens": 1600}
        )
    )
    return train, usage


def test_dry_run_lists_the_cells(files, tmp_path, capsys):
    train, _ = files
    main(
        [
            "grid",
            "toy",
            str(train),
            str(train),
            str(train),
            "--output",
            str(tmp_path / "m"),
            "--rates",
            "0.4",
            "--seeds",
            "0,1",
            "--budgets",
            "",
            "--conditions",
            "human-omit,hybrid-label-mixing",
            "--dry-run",
        ]
    )
    out = capsys.readouterr().out
    assert "to do human-omit_r0.4_b1_s0" in out and "to do hybrid-label-mixing_r0.4_b1_s1" in out
    assert out.count("to do ") == 4


def test_bad_options_and_files_are_one_line_errors(files, tmp_path, capsys):
    train, _ = files
    with pytest.raises(SystemExit) as exit_info:
        main(["grid", "toy", str(tmp_path / "nope.spacy"), str(train), str(train)])
    assert exit_info.value.code == 1 and "nope.spacy: file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["grid", "toy", str(train), str(train), str(train), "--rates", "0.4,x", "--dry-run"])
    assert "--rates: expected comma-separated numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "grid",
                "toy",
                str(train),
                str(train),
                str(train),
                "--conditions",
                "human",
                "--dry-run",
            ]
        )
    assert "Unknown condition(s) human" in capsys.readouterr().err
    grid = ["grid", "toy", str(train), str(train), str(train), "--conditions", "human-budget"]
    main([*grid, "--budgets", "0.1", "--selections", "random,uncertainty", "--dry-run"])
    out = capsys.readouterr().out
    assert "to do human-budget_r0_b0.1_s0_uncertainty" in out and out.count("to do ") == 6
    with pytest.raises(SystemExit):
        main([*grid, "--selections", "uncertainty", "--output", str(tmp_path / "m")])
    assert "--selections uncertainty needs --calibration" in capsys.readouterr().err


@pytest.mark.slow
def test_grid_writes_cells_annotators_samples_and_run_log_with_overrides(files, tmp_path):
    train, usage = files
    out = tmp_path / "m"
    main(
        [
            "grid",
            "toy",
            str(train),
            str(train),
            str(train),
            "--output",
            str(out),
            "--work-dir",
            str(tmp_path / "w"),
            "--rates",
            "0.4",
            "--seeds",
            "0",
            "--budgets",
            "0.5",
            "--conditions",
            "hybrid-budget",
            "--steps",
            "4",
            "--usage",
            str(usage),
            "--human-cost",
            "0.5",
            "--price-in",
            "1.0",
            "--price-out",
            "2.0",
            "--keep-models",
            "--training.dropout",
            "0.2",
        ]
    )
    cell = json.loads((out / "toy" / "cells" / "hybrid-budget_r0_b0.5_s0.json").read_text())
    # 8 of 16 sentences annotated by a human at 0.5 each; the LLM: (16 + 3.2) / 16
    # per sentence for 16 sentences
    assert cell["cost"]["human"] == pytest.approx(4.0) and cell["cost"]["llm"] == pytest.approx(
        19.2
    )
    annotators = json.loads((out / "toy" / "annotators.json").read_text())
    assert annotators["annotators"]["llm"]["per_label"]["ORG"]["fp"] == 16
    assert (
        annotators["annotators"]["simulated"]["simulated"] is True
        and annotators["usage"]["requests"] == 16
    )
    assert len(read_docbin(out / "toy" / "samples.spacy", spacy.blank("en").vocab)) == 10
    run = json.loads((out / "toy" / "run.json").read_text())
    assert run["cells_done"] == 1 and run["wall_seconds"] > 0
    assert (tmp_path / "w" / "logs" / "toy" / "hybrid-budget_r0_b0.5_s0.log").exists()
    model = tmp_path / "w" / "models" / "toy" / "hybrid-budget_r0_b0.5_s0" / "model-best"
    assert (
        spacy.load(model).config["training"]["dropout"] == 0.2
    )  # the extra override reached training


def test_simulate_annotator_command(files, tmp_path, capsys):
    train, _ = files
    out = tmp_path / "sim.spacy"
    main(["simulate-annotator", str(train), str(out), "--preset", "gpt-3.5-class", "--seed", "2"])
    docs = read_docbin(out, spacy.blank("en").vocab)
    assert all("simulated" in doc.spans for doc in docs)
    assert "simulated gpt-3.5-class" in capsys.readouterr().out


@pytest.mark.slow
def test_a_killed_grid_keeps_its_cells_and_run_log_and_resumes(files, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    train, _ = files
    out = tmp_path / "m"
    cmd = [
        sys.executable,
        "-m",
        "hybrid_ner",
        "grid",
        "toy",
        str(train),
        str(train),
        str(train),
        "--output",
        str(out),
        "--work-dir",
        str(tmp_path / "w"),
        "--rates",
        "0.4",
        "--seeds",
        "0,1,2",
        "--budgets",
        "",
        "--conditions",
        "human-omit",
        "--steps",
        "300",
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cells = out / "toy" / "cells"
    deadline = time.time() + 300
    while not list(cells.glob("*.json")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert "interrupted; run the same command again to resume" in output
    done = len(list(cells.glob("*.json")))
    assert 1 <= done < 3
    run = json.loads((out / "toy" / "run.json").read_text())
    assert (
        run["cells_done"] == done and run["cells_planned"] == 3 and "grid toy" in run["commands"][0]
    )


def test_overrides_are_read_by_spacy_train_rules(monkeypatch):
    ctx = click.Context(click.Command("grid"))
    ctx.args = ["--training.dropout", "0.2", "--paths.vectors=null", "--a.max-steps=5", "--b.flag"]
    ctx.args += ["--paths.encoder", "roberta-base", "--c.list", '["x", 1]']
    monkeypatch.setenv("SPACY_CONFIG_OVERRIDES", "--training.dropout 0.5")
    assert parse_cli_overrides(ctx) == {
        "training.dropout": 0.5,  # the environment wins, as in `spacy train`
        "paths.vectors": None,
        "a.max_steps": 5,
        "b.flag": True,
        "paths.encoder": "roberta-base",
        "c.list": ["x", 1],
    }
    for args, message in (
        (["--nodot", "1"], "No such option: --nodot"),
        (["stray"], "unexpected extra argument (stray)"),
    ):
        ctx.args = args
        with pytest.raises(click.UsageError, match=re.escape(message)):
            parse_cli_overrides(ctx)


def test_grid_refuses_an_option_without_a_dot(files, capsys):
    train, _ = files
    with pytest.raises(SystemExit) as exit_info:
        main(["grid", "toy", str(train), str(train), str(train), "--dry-run", "--dropout", "0.2"])
    assert exit_info.value.code == 2 and "No such option: --dropout" in capsys.readouterr().err
