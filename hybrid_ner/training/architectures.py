"""Model architectures registered for configs."""

from typing import List, Literal, Optional

from spacy.ml.models.parser import build_tb_parser_model
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Maxout, Model, chain, concatenate, with_array
from thinc.types import Floats2d


def with_cased_features(
    tok2vec: Model[List[Doc], List[Floats2d]],
    cased: Model[List[Doc], List[Floats2d]],
    width: int,
    maxout_pieces: int = 3,
) -> Model[List[Doc], List[Floats2d]]:
    """``tok2vec`` and ``cased`` side by side, projected to ``width``: the offline
    encoder is uncased, and a cased tok2vec gives back NER's strongest cue."""
    model: Model[List[Doc], List[Floats2d]] = chain(
        concatenate(tok2vec, cased),
        with_array(Maxout(nO=width, nP=maxout_pieces, normalize=True)),
    )
    model.set_dim("nO", width)
    return model


@registry.architectures("hybrid_ner.CasedTransitionBasedParser.v1")
def cased_transition_based_parser(
    tok2vec: Model[List[Doc], List[Floats2d]],
    cased: Model[List[Doc], List[Floats2d]],
    state_type: Literal["parser", "ner"] = "ner",
    width: int = 256,
    extra_state_tokens: bool = False,
    hidden_width: int = 64,
    maxout_pieces: int = 2,
    use_upper: bool = False,
    nO: Optional[int] = None,
) -> Model:
    """``spacy.TransitionBasedParser.v2`` over :func:`with_cased_features`."""
    features = with_cased_features(tok2vec, cased, width)
    args = (state_type, extra_state_tokens, hidden_width, maxout_pieces, use_upper, nO)
    return build_tb_parser_model(features, *args)
