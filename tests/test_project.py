"""End-to-end smoke run of the project template at tiny sizes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from hybrid_ner import add_trained_ner

from .conftest import ROOT


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "configs", project / "configs")
    shutil.copytree(
        ROOT / "corpus" / "wikigold",
        project / "corpus" / "wikigold",
        ignore=shutil.ignore_patterns("*.spacy", "*.jsonl"),
    )
    shutil.copytree(ROOT / "assets", project / "assets")
    return project


def _env() -> dict:
    return dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )


@pytest.mark.slow
def test_project_all_workflow_tiny(tmp_path):
    """The default demo end to end on the full WikiGold training split: the
    embedded LLM's recorded answers replayed (nothing sent, no model loaded),
    calibration on the dev split, the four conditions, scores and the report."""
    project = _project(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "project",
        "run",
        "all",
        str(project),
        "--vars.demo_steps",
        "3",
    ]
    result = subprocess.run(
        cmd, cwd=project, env=_env(), capture_output=True, text=True, timeout=1500
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for usage in ("wikigold_propose_usage.json", "wikigold_propose_usage_dev.json"):
        replayed = json.loads((project / "metrics" / usage).read_text())
        assert replayed["requests"] == 0 and replayed["cache_hits"] > 0, usage
    cells = project / "metrics" / "demo" / "wikigold" / "cells"
    names = sorted(path.stem for path in cells.glob("*.json"))
    assert names == [
        "human-clean_r0_b1_s0",
        "human-omit_r0.4_b1_s0",
        "hybrid-label-mixing_r0.4_b1_s0",
        "hybrid-random_r0.4_b1_s0",
    ]
    mixing = json.loads((cells / "hybrid-label-mixing_r0.4_b1_s0.json").read_text())
    assert (
        0.0 <= mixing["scores"]["f"] <= 1.0
        and mixing["train_sentences"] == 1353
        and mixing["steps"] == 3
    )
    assert mixing["calibration"]["biased"] is False and mixing["calibration"]["source"].endswith(
        "dev_llm.spacy"
    )
    report = (project / "metrics" / "demo" / "report.md").read_text()
    assert "hybrid-label-mixing" in report and "human-omit" in report
    annotators = json.loads(
        (project / "metrics" / "demo" / "wikigold" / "annotators.json").read_text()
    )
    assert annotators["usage"]["requests"] == 0 and annotators["usage"]["cache_hits"] > 0
    assert annotators["annotators"]["simulated"]["simulated"] is True
    # The trained pipeline loads with spacy.load and its NER drops into another pipeline.
    nlp = spacy.load(
        project
        / "training"
        / "demo"
        / "models"
        / "wikigold"
        / "hybrid-label-mixing_r0.4_b1_s0"
        / "model-best"
    )
    # The frozen-encoder soft NER (configs/ner_soft_frozen.cfg): the encoder
    # lives inside the component, nothing to replace_listeners.
    assert nlp.pipe_names == ["ner"]
    doc = nlp("Ada Lovelace visited London in 1840.")
    assert all(ent.label_ in {"PER", "LOC", "ORG", "MISC"} for ent in doc.ents)
    other = spacy.blank("en")
    add_trained_ner(other, nlp)
    other.to_disk(tmp_path / "other")
    reloaded = spacy.load(tmp_path / "other")
    assert [e.text for e in reloaded("Ada Lovelace visited London.").ents] == [
        e.text for e in other("Ada Lovelace visited London.").ents
    ]
    # Unchanged steps are skipped on a second run.
    again = subprocess.run(
        cmd, cwd=project, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0
    assert "Skipping 'demo': nothing changed" in again.stdout


@pytest.mark.slow
def test_project_baseline_workflow_tiny(tmp_path):
    """Human-only baselines with spacy train / spacy evaluate and the transition NER."""
    project = _project(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "project",
        "run",
        "baseline",
        str(project),
        "--vars.max_epochs",
        "1",
        "--vars.train_limit",
        "24",
    ]
    result = subprocess.run(
        cmd, cwd=project, env=_env(), capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for name in ("wikigold_clean.json", "wikigold_human_omit0.4.json"):
        metrics = json.loads((project / "metrics" / name).read_text())
        assert 0.0 <= metrics["ents_f"] <= 1.0 and "ents_per_type" in metrics
    nlp = spacy.load(project / "training" / "wikigold" / "clean" / "model-best")
    assert nlp.pipe_names == ["transformer", "ner"]


def test_packaging_ranges_extras_and_the_templates_pins():
    """install_requires holds ranges only; scripts/setup.sh installs every extra
    and pins every requirement exactly (the template's reproducibility)."""
    from packaging.requirements import Requirement
    from setuptools.config.setupcfg import read_configuration

    options = read_configuration(ROOT / "setup.cfg")["options"]
    core = [Requirement(r) for r in options["install_requires"]]
    assert core and not any("==" in str(r.specifier) for r in core)
    assert {"spacy", "spacy-llm", "httpx"} <= {r.name for r in core}
    heavy = {"torch", "transformers", "spacy-transformers", "matplotlib", "llama-cpp-python"}
    assert not heavy & {r.name for r in core}
    extras = options["extras_require"]
    assert {"llama", "transformers", "report", "test"} <= set(extras)
    setup_sh = (ROOT / "scripts" / "setup.sh").read_text()
    assert f'-e ".[{",".join(extras)}]"' in setup_sh
    for line in options["install_requires"] + [r for reqs in extras.values() for r in reqs]:
        req = Requirement(line)
        assert "==" in str(req.specifier) or f'"{req.name}==' in setup_sh, req.name
