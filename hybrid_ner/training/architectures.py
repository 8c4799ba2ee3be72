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
    """Token vectors from ``tok2vec`` and ``cased`` side by side, projected to
    ``width``.

    The only encoder whose weights ship offline (all-MiniLM-L6-v2) is uncased,
    and capitalisation is NER's strongest cue: a small cased tok2vec (NORM,
    PREFIX, SUFFIX, SHAPE) gives it back.
    """
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
    """spaCy's transition-based NER/parser model over a (transformer) tok2vec
    plus cased token features (see :func:`with_cased_features`).

    ``tok2vec`` stays at the usual config path ``model.tok2vec``, so
    ``nlp.replace_listeners("transformer", "ner", ["model.tok2vec"])`` works
    as for spaCy's own architectures when sourcing the component elsewhere.

    tok2vec (Model): Usually ``spacy-transformers.TransformerListener.v1``.
    cased (Model): Usually ``spacy.Tok2Vec.v2`` over MultiHashEmbed with SHAPE.
    width (int): Width of the combined token vectors.
    Other arguments: as ``spacy.TransitionBasedParser.v2``.
    """
    combined = with_cased_features(tok2vec, cased, width)
    return build_tb_parser_model(
        tok2vec=combined,
        state_type=state_type,
        extra_state_tokens=extra_state_tokens,
        hidden_width=hidden_width,
        maxout_pieces=maxout_pieces,
        use_upper=use_upper,
        nO=nO,
    )
