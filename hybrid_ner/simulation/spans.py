"""Span errors of the simulated annotator: off-by-one boundaries and
spurious spans on tokens no entity covers."""

import random
from typing import Optional, Sequence, Tuple

from spacy.tokens import Doc

SpanTuple = Tuple[int, int, str]


def shift_boundary(doc: Doc, start: int, end: int, rng: random.Random) -> Tuple[int, int]:
    """The span one token shorter or longer at one end, staying inside the Doc."""
    options = []
    if end - start > 1:
        options += [(start + 1, end), (start, end - 1)]
    if start > 0:
        options.append((start - 1, end))
    if end < len(doc):
        options.append((start, end + 1))
    return rng.choice(options) if options else (start, end)


def spurious_span(
    doc: Doc, taken: Sequence[SpanTuple], rng: random.Random
) -> Optional[Tuple[int, int]]:
    """A span on tokens that are neither gold entities nor already proposed:
    a run of capitalised words if there is one, else one word token."""
    blocked = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    blocked.update(i for start, end, _ in taken for i in range(start, end))
    # String tests, not lexeme flags: a Doc on a bare Vocab has no lexical attributes.
    free = [t for t in doc if t.i not in blocked and t.text.isalpha()]
    if not free:
        return None
    capitalised = [t for t in free if t.text[:1].isupper()]
    if capitalised:
        token = rng.choice(capitalised)
        end = token.i + 1
        while (
            end < len(doc)
            and end not in blocked
            and doc[end].text[:1].isupper()
            and doc[end].text.isalpha()
        ):
            end += 1
        return token.i, end
    token = rng.choice(free)
    return token.i, token.i + 1
