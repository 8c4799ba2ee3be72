"""The committed recording of the embedded LLM replays without llama.cpp."""

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import spacy

from hybrid_ner.corpus import read_docbin

from ..conftest import ROOT

RECORDING = ROOT / "assets" / "llm_answers" / "wikigold_qwen2.5-coder-0.5b_v1.jsonl.gz"
# Runs the CLI with llama_cpp made unimportable: a fully cached run must not need it.
NO_LLAMA = (
    "import sys; sys.modules['llama_cpp'] = None; "
    "from hybrid_ner.cli import main; main(sys.argv[1:])"
)


@pytest.mark.slow
def test_recorded_dev_answers_replay_without_llama_cpp(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-c", NO_LLAMA, *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    assert (
        cli("convert", ROOT / "corpus" / "wikigold" / "wikigold.conll.txt", "all.spacy").returncode
        == 0
    )
    assert cli("split", "all.spacy", ".", "--seed", "0").returncode == 0
    result = cli(
        "propose",
        "dev.spacy",
        "dev_llm.spacy",
        "--config",
        ROOT / "configs" / "propose_local.cfg",
        "--k",
        "4",
        "--query",
        "single",
        "--examples",
        "dev.spacy",
        "--recorded",
        RECORDING,
        "--usage-out",
        "usage.json",
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    usage = json.loads((tmp_path / "usage.json").read_text())
    assert usage["requests"] == 0 and usage["cache_hits"] == 173
    docs = read_docbin(tmp_path / "dev_llm.spacy", spacy.blank("en").vocab)
    # What the model itself proposed when the recording was made (405 proposals).
    labels = Counter(span.label_ for doc in docs for span in doc.spans["llm"])
    assert labels == {"LOC": 176, "MISC": 31, "ORG": 109, "PER": 89}
