"""Build real Docs with human entities and LLM proposals for the merge tests,
and hypothesis strategies that generate them."""

from typing import Iterable, List, Optional, Sequence, Tuple

from hypothesis import strategies as st
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from hybrid_ner.layers import DOC_ID, HUMAN_ANNOTATED, LLM_KEY

SpanTuple = Tuple[int, int, str]
LABELS = ("LOC", "MISC", "ORG", "PER")


def make_doc(
    vocab: Vocab,
    words: Sequence[str],
    human: Iterable[SpanTuple] = (),
    llm: Iterable[SpanTuple] = (),
    annotated: bool = True,
    doc_id: Optional[str] = None,
) -> Doc:
    """A Doc with human ``doc.ents`` (or MISSING ones when not annotated) and
    proposals in ``doc.spans["llm"]``."""
    doc = Doc(vocab, words=list(words))
    if annotated:
        doc.set_ents([Span(doc, s, e, label) for s, e, label in human], default="outside")
    else:
        doc.set_ents([], default="missing")
    doc.user_data[HUMAN_ANNOTATED] = annotated
    if doc_id is not None:
        doc.user_data[DOC_ID] = doc_id
    doc.spans[LLM_KEY] = [Span(doc, s, e, label) for s, e, label in llm]
    return doc


def tuples(spans: Iterable[Span]) -> List[SpanTuple]:
    return [(s.start, s.end, s.label_) for s in spans]


@st.composite
def non_overlapping_spans(draw, n_tokens: int) -> List[SpanTuple]:
    spans, i = [], 0
    while i < n_tokens:
        if draw(st.booleans()):
            length = draw(st.integers(1, min(4, n_tokens - i)))
            spans.append((i, i + length, draw(st.sampled_from(LABELS))))
            i += length
        else:
            i += 1
        i += draw(st.integers(0, 1))
    return spans


@st.composite
def any_spans(draw, n_tokens: int) -> List[SpanTuple]:
    """Possibly overlapping, duplicated, conflicting proposals."""
    n = draw(st.integers(0, 8))
    spans = []
    for _ in range(n):
        start = draw(st.integers(0, n_tokens - 1))
        end = draw(st.integers(start + 1, min(n_tokens, start + 4)))
        spans.append((start, end, draw(st.sampled_from(LABELS))))
    return spans


@st.composite
def annotated_docs(draw, vocab: Vocab) -> Doc:
    """A random Doc: human entities (or an unannotated Doc) plus proposals."""
    n_tokens = draw(st.integers(1, 14))
    words = [f"w{draw(st.integers(0, 30))}" for _ in range(n_tokens)]
    annotated = draw(st.booleans()) or draw(st.booleans())
    return make_doc(
        vocab, words, draw(non_overlapping_spans(n_tokens)), draw(any_spans(n_tokens)), annotated
    )
