import itertools

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from spacy.tokens import Doc
from spacy.training import biluo_tags_to_spans, iob_to_biluo
from spacy.vocab import Vocab

from hybrid_ner.tags import (
    biluo_to_bio,
    constrained_decode,
    span_tags,
    tag_names,
    transition_constraints,
)

LABELS = ["LOC", "PER"]


def is_valid(path, allowed, start, end):
    return start[path[0]] and end[path[-1]] and all(allowed[a, b] for a, b in zip(path, path[1:]))


def test_tag_names_and_span_tags():
    assert tag_names(["PER", "LOC"]) == [
        "O",
        "B-LOC",
        "I-LOC",
        "L-LOC",
        "U-LOC",
        "B-PER",
        "I-PER",
        "L-PER",
        "U-PER",
    ]
    assert tag_names(["PER"], "BIO") == ["O", "B-PER", "I-PER"]
    assert span_tags(1, "X") == ["U-X"] and span_tags(3, "X") == ["B-X", "I-X", "L-X"]
    assert span_tags(3, "X", "BIO") == ["B-X", "I-X", "I-X"]
    assert [biluo_to_bio(t) for t in span_tags(3, "X")] == span_tags(3, "X", "BIO")
    with pytest.raises(ValueError, match="scheme"):
        tag_names(["X"], "IOBES")


@pytest.mark.parametrize("scheme", ["BILUO", "BIO"])
def test_decoding_equals_brute_force_over_valid_sequences(scheme):
    tags = tag_names(["PER", "LOC"], scheme)
    allowed, start, end = transition_constraints(tags, scheme)
    rng = numpy.random.default_rng(0)
    for _ in range(20):
        log_probs = numpy.log(rng.dirichlet(numpy.ones(len(tags)), size=3))
        best = max(
            (
                p
                for p in itertools.product(range(len(tags)), repeat=3)
                if is_valid(p, allowed, start, end)
            ),
            key=lambda p: sum(log_probs[i, t] for i, t in enumerate(p)),
        )
        assert tuple(constrained_decode(log_probs, allowed, start, end)) == best


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["BILUO", "BIO"]),
    st.integers(1, 12).flatmap(lambda n: arrays(numpy.float64, (n, 9), elements=st.floats(-20, 0))),
)
def test_decoding_is_always_a_valid_sequence(scheme, log_probs):
    tags = tag_names(LABELS, scheme)
    log_probs = log_probs[:, : len(tags)]
    allowed, start, end = transition_constraints(tags, scheme)
    path = constrained_decode(log_probs, allowed, start, end)
    assert is_valid(list(path), allowed, start, end)
    decoded = [tags[i] for i in path]
    # the spans spaCy reads back (as SoftNER.set_annotations) re-encode to the decoded tags
    doc = Doc(Vocab(), words=["w"] * len(decoded))
    again = ["O"] * len(decoded)
    for span in biluo_tags_to_spans(doc, iob_to_biluo(decoded) if scheme == "BIO" else decoded):
        again[span.start : span.end] = span_tags(len(span), span.label_, scheme)
    assert again == decoded


def test_an_invalid_greedy_choice_is_repaired():
    tags = tag_names(["PER"])
    allowed, start, end = transition_constraints(tags)
    # greedily: I-PER, I-PER (invalid: no B); the best valid path is B-PER L-PER
    log_probs = numpy.log(
        numpy.array([[0.1, 0.3, 0.4, 0.1, 0.1], [0.1, 0.1, 0.45, 0.35, 0.0 + 1e-9]])
    )
    assert [tags[i] for i in constrained_decode(log_probs, allowed, start, end)] == [
        "B-PER",
        "L-PER",
    ]
