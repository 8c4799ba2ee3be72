"""The soft-target NER's model: a tok2vec (optionally beside cased features), a softmax."""

from typing import List, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Config, Maxout, Model, Optimizer, Softmax_v2, chain, expand_window, with_array
from thinc.types import Floats2d

from .architectures import with_cased_features

#: The default ``model`` of the ``hybrid_ner_soft_ner`` factory.
DEFAULT_MODEL = Config().from_str(
    """
[model]
@architectures = "hybrid_ner.SoftTagger.v1"

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
    hidden_width: int = 64,
    window_size: int = 1,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Per-token tag probabilities, normalized in training too (unlike
    ``spacy.Tagger.v2``): constrained decoding needs them.

    cased (Optional[Model]): Cased token features beside ``tok2vec``, projected to ``width``.
    hidden_width (int): Width of a Maxout layer before the softmax (0: none).
    window_size (int): Neighbours on each side, zero-padded: batch-independent scores.
    """
    features = tok2vec if cased is None else with_cased_features(tok2vec, cased, width)
    output_layer = Softmax_v2(nO=nO, normalize_outputs=True)
    head = output_layer
    pad = window_size if hidden_width > 0 else 0
    if hidden_width > 0:
        hidden = Maxout(nO=hidden_width, nP=3, dropout=dropout, normalize=True)
        if window_size > 0:
            hidden = chain(expand_window(window_size=window_size), hidden)
        head = chain(hidden, output_layer)
    model = chain(features, with_array(head, pad=pad))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    # The freshly initialised layers that may learn faster (learn_rate_scale).
    model.set_ref("head", head)
    return model


def scaled_update(model: Model, sgd: Optimizer, lr_scale: float) -> None:
    """``Model.finish_update``, the ``head`` only (fast features memorise) at ``lr_scale``×."""
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
