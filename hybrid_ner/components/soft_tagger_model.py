"""The model of the soft-target NER: a tok2vec (or transformer listener),
optionally beside cased token features, then a per-token softmax over tags."""
from typing import List, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Maxout, Model, Softmax_v2, chain, expand_window, with_array
from thinc.types import Floats2d

from ..architectures import with_cased_features


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

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        ``spacy.Tok2VecListener.v1`` or ``spacy-transformers.TransformerListener.v1``.
    cased (Optional[Model[List[Doc], List[Floats2d]]]): Cased token features
        combined with ``tok2vec`` (see architectures.with_cased_features), or None.
    width (int): Width of the combined vectors when ``cased`` is set.
    hidden_width (int): Width of a Maxout layer before the softmax (0: none).
    window_size (int): With a hidden layer, also feed it the vectors of this
        many neighbours on each side (0: the token alone).
    dropout (float): Dropout of the hidden layer.
    nO (Optional[int]): Number of tags; set by the component's initialize.
    """
    features = tok2vec if cased is None else with_cased_features(tok2vec, cased, width)
    output_layer = Softmax_v2(nO=nO, normalize_outputs=True)
    head = output_layer
    if hidden_width > 0:
        hidden = Maxout(nO=hidden_width, nP=3, dropout=dropout, normalize=True)
        if window_size > 0:
            hidden = chain(expand_window(window_size=window_size), hidden)
        head = chain(hidden, output_layer)
    model = chain(features, with_array(head))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    return model
