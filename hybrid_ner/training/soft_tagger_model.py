"""The model of the soft-target NER: a tok2vec (or transformer listener),
optionally beside cased token features, then a per-token softmax over tags."""

from typing import Callable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    Config,
    Maxout,
    Model,
    NumpyOps,
    Optimizer,
    Softmax_v2,
    chain,
    expand_window,
    with_array,
)
from thinc.types import Floats2d

from .architectures import with_cased_features

_NUMPY_OPS = NumpyOps()

#: The default ``model`` of the ``hybrid_ner_soft_ner`` factory.
DEFAULT_MODEL = Config().from_str(
    """
[model]
@architectures = "hybrid_ner.SoftTagger.v1"
hidden_width = 64
window_size = 1
dropout = 0.1
nO = null

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""
)["model"]


@registry.architectures("hybrid_ner.SoftTagger.v1")
def build_soft_tagger(
    tok2vec: Model[List[Doc], List[Floats2d]],
    cased: Optional[Model[List[Doc], List[Floats2d]]] = None,
    width: int = 256,
    hidden_width: int = 0,
    window_size: int = 0,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Per-token tag probabilities for the soft-target NER.

    Unlike ``spacy.Tagger.v2`` the output is always normalized, in training
    and in inference, because constrained decoding needs probabilities.
    ``tok2vec`` stays at the config path ``model.tok2vec``, so
    ``nlp.replace_listeners(..., ["model.tok2vec"])`` works when sourcing.

    The window never crosses a Doc's boundary: a Doc's scores are the same
    alone and in any batch (issue 12).

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        ``spacy.Tok2VecListener.v1`` or ``spacy-transformers.TransformerListener.v1``.
    cased (Optional[Model[List[Doc], List[Floats2d]]]): Cased token features
        combined with ``tok2vec`` (see architectures.with_cased_features), or None.
    width (int): Width of the combined vectors when ``cased`` is set.
    hidden_width (int): Width of a Maxout layer before the softmax (0: none).
    window_size (int): With a hidden layer, also feed it the vectors of this
        many neighbours on each side, inside the same Doc (0: the token alone).
        Neighbours beyond the Doc's edges are zero vectors.
    dropout (float): Dropout of the hidden layer.
    nO (Optional[int]): Number of tags; set by the component's initialize.
    """
    features = tok2vec if cased is None else with_cased_features(tok2vec, cased, width)
    output_layer = Softmax_v2(nO=nO, normalize_outputs=True)
    head = output_layer
    windowed = hidden_width > 0 and window_size > 0
    if hidden_width > 0:
        hidden = Maxout(nO=hidden_width, nP=3, dropout=dropout, normalize=True)
        if windowed:
            hidden = chain(expand_window(window_size=window_size), hidden)
        head = chain(hidden, output_layer)
    model = chain(features, with_padded_array(head, window_size) if windowed else with_array(head))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    # The freshly initialised layers that may learn faster (learn_rate_scale).
    model.set_ref("head", head)
    return model


def with_padded_array(
    layer: Model[Floats2d, Floats2d], pad: int
) -> Model[List[Floats2d], List[Floats2d]]:
    """Run ``layer`` over the sequences concatenated into one array, with
    ``pad`` zero rows before each sequence and after the last one.

    A window of up to ``pad`` neighbours (``expand_window`` inside ``layer``)
    then reads zeros at a sequence's edges, exactly as for the sequence alone,
    instead of the vectors of the neighbouring Doc in the batch. Like
    ``with_array(layer, pad=pad)``, but ``pad`` is kept under its own attribute
    name: thinc restores attributes when deserializing, and a pipeline saved
    before this fix (with ``with_array``'s ``pad`` = 0 at this node) would
    otherwise load with the old, batch-dependent behaviour. The tree has the
    same nodes and dims as ``with_array(layer)``, so such pipelines still load.
    The padding rows cost ``pad`` extra rows per Doc in ``layer``.

    layer (Model[Floats2d, Floats2d]): The per-row model, containing the window.
    pad (int): Zero rows around each sequence: at least the window size.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The model over lists.
    """
    return Model(
        f"with_padded_array({layer.name})",
        _padded_forward,
        init=_padded_init,
        layers=[layer],
        attrs={"window_pad": pad},
        dims={name: layer.maybe_get_dim(name) for name in layer.dim_names},
    )


def _padded_forward(
    model: Model[List[Floats2d], List[Floats2d]], Xs: Sequence[Floats2d], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    layer: Model[Floats2d, Floats2d] = model.layers[0]
    pad = int(model.attrs["window_pad"])
    lengths = _NUMPY_OPS.asarray1i([len(X) for X in Xs])
    Yf, get_dXf = layer(layer.ops.flatten(list(Xs), pad=pad), is_train)

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        # The padding rows' outputs are dropped: they get zero gradient.
        dXf = get_dXf(layer.ops.flatten(dYs, pad=pad))
        return layer.ops.unflatten(dXf, lengths, pad=pad)

    return layer.ops.unflatten(Yf, lengths, pad=pad), backprop


def _padded_init(
    model: Model[List[Floats2d], List[Floats2d]],
    X: Optional[List[Floats2d]] = None,
    Y: Optional[List[Floats2d]] = None,
) -> None:
    layer: Model[Floats2d, Floats2d] = model.layers[0]
    layer.initialize(
        X=layer.ops.flatten(X) if X is not None else None,
        Y=layer.ops.flatten(Y) if Y is not None else None,
    )
    for name in layer.dim_names:
        value = layer.maybe_get_dim(name)
        if value is not None:
            model.set_dim(name, value)


def scaled_update(model: Model, sgd: Optimizer, lr_scale: float) -> None:
    """Update a model's weights, those of its ``head`` reference at
    ``lr_scale`` times the optimizer's rate and the others at the plain rate
    (thinc's ``Model.finish_update`` with a scale). A model without a ``head``
    reference is updated at ``lr_scale`` throughout.

    Why only the head (issue 12): token features learning fast (the cased
    hash embeddings and their projection) memorised the training set within a
    few hundred steps, and the fitted head then sent the transformer almost no
    gradient; at the plain rate they learn as in spaCy's own NER, and the
    encoder is fine-tuned.

    model (Model): The model; its gradients are used.
    sgd (Optimizer): The optimizer.
    lr_scale (float): Multiple of the optimizer's learning rate for the head.
    """
    fast = {node.id for node in model.get_ref("head").walk()} if model.has_ref("head") else None
    for node in model.walk():
        for shim in node.shims:
            shim.finish_update(sgd)
    for node in model.walk():
        scale = lr_scale if fast is None or node.id in fast else 1.0
        for name in node.param_names:
            if node.has_grad(name):
                param, _ = sgd(
                    (node.id, name), node.get_param(name), node.get_grad(name), lr_scale=scale
                )
                node.set_param(name, param)
