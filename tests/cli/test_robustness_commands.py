"""Never lose, never lie (issue #10), the other commands: an input is never
replaced without --overwrite-input, unwritable outputs and out-of-range options
are one line before any work, and JSONL values are never coerced."""

import pytest
import spacy

from hybrid_ner.corpus import read_docbin, write_docbin

from .robustness_helpers import (
    assert_outcome,
    case,
    in_unchanged,
    keep_in,
    make_ctx,
    make_docs,
    run_cli,
)


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


def _convert(c, out):
    return ["convert", c.conll, out]


OTHER_CASES = [
    # 6. An input is never replaced by a derived file without --overwrite-input.
    case(
        "convert-onto-its-source",
        lambda c: ["convert", c.conll, c.conll],
        1,
        "--overwrite-input",
        setup=lambda c: setattr(c, "before", c.conll.read_bytes()),
        check=lambda c: c.conll.read_bytes() == c.before or pytest.fail("source replaced"),
    ),
    case(
        "noise-onto-the-gold",
        lambda c: ["noise", c.inp, c.inp, "--omit-rate", 0.5],
        1,
        "is the input",
        setup=keep_in,
        check=in_unchanged,
    ),
    case(
        "budget-onto-the-input",
        lambda c: ["budget", c.inp, c.inp, "--fraction", 0.5],
        1,
        "is the input",
        setup=keep_in,
        check=in_unchanged,
    ),
    case(
        "merge-onto-the-input",
        lambda c: ["merge", c.inp, c.inp],
        1,
        "is the input",
        setup=keep_in,
        check=in_unchanged,
    ),
    case(
        "split-onto-the-input",
        lambda c: ["split", c.tmp / "train.spacy", c.tmp],
        1,
        "is the input",
        setup=lambda c: write_docbin(c.tmp / "train.spacy", make_docs(3)),
    ),
    case(
        "simulate-annotator-onto-the-input",
        lambda c: ["simulate-annotator", c.inp, c.inp],
        1,
        "is the input",
        setup=keep_in,
        check=in_unchanged,
    ),
    case(
        "noise-overwrite-input-allowed",
        lambda c: ["noise", c.inp, c.inp, "--omit-rate", 1, "--overwrite-input"],
        0,
        "",
        check=lambda c: (
            sum(len(d.ents) for d in read_docbin(c.inp, spacy.blank("en").vocab)) == 0
            or pytest.fail("not written")
        ),
    ),
    # 2. Unwritable outputs: one line, before any work.
    case(
        "convert-to-proc", lambda c: _convert(c, "/proc/x.spacy"), 1, "/proc/x.spacy: cannot write"
    ),
    case("convert-to-a-dir", lambda c: _convert(c, c.tmp / "a_dir"), 1, "is a directory"),
    case(
        "convert-jsonl-parent-is-a-file",
        lambda c: _convert(c, c.tmp / "a_file" / "x.jsonl"),
        1,
        "is a file",
    ),
    case(
        "noise-to-proc",
        lambda c: ["noise", c.inp, "/proc/n.spacy", "--omit-rate", 0.5],
        1,
        "cannot write",
    ),
    case(
        "merge-to-parent-file",
        lambda c: ["merge", c.inp, c.tmp / "a_file" / "m.spacy"],
        1,
        "is a file",
    ),
    case(
        "stats-json-to-proc",
        lambda c: ["stats", c.inp, "--json", "/proc/s.json"],
        1,
        "/proc/s.json: cannot write",
    ),
    case(
        "stats-json-onto-input",
        lambda c: ["stats", c.inp, "--json", c.inp],
        1,
        "is the input",
        setup=keep_in,
        check=in_unchanged,
    ),
    case(
        "report-to-a-dir",
        lambda c: ["report", c.tmp, "--output", c.tmp / "a_dir"],
        1,
        "is a directory",
    ),
    # Ranges.
    case(
        "merge-min-precision-7",
        lambda c: ["merge", c.inp, c.out, "--accept", "reliable", "--min-precision", 7],
        1,
        "--min-precision must be in [0, 1], got 7.0",
    ),
    case(
        "noise-rate-nan",
        lambda c: ["noise", c.inp, c.out, "--omit-rate", "nan"],
        1,
        "--omit-rate must be in [0, 1]",
    ),
    case(
        "split-fraction-negative",
        lambda c: ["split", c.inp, c.tmp / "s", "--dev", -0.1],
        1,
        "--dev must be in",
    ),
    case(
        "grid-steps-0",
        lambda c: ["grid", "toy", c.inp, c.inp, c.inp, "--steps", 0],
        1,
        "--steps must be >= 1",
    ),
    case(
        "grid-usage-not-json",
        lambda c: [
            "grid",
            "toy",
            c.inp,
            c.inp,
            c.inp,
            "--config",
            c.conll,
            "--usage",
            c.tmp / "a_file",
            "--output",
            c.tmp / "g",
            "--work-dir",
            c.tmp / "w",
        ],
        1,
        "not a usage report",
    ),
    case(
        "convert-unknown-lang",
        lambda c: ["convert", c.tmp / "x.jsonl", c.out, "--lang", "zz"],
        1,
        "--lang 'zz'",
        setup=lambda c: (c.tmp / "x.jsonl").write_text('{"text": "Ada"}\n'),
    ),
]


@pytest.mark.parametrize("argv,code,fragment,script,setup,check,model", OTHER_CASES)
def test_other_commands(ctx, capsys, argv, code, fragment, script, setup, check, model):
    if setup:
        setup(ctx)
    ctx.result = run_cli(capsys, argv(ctx))
    assert_outcome(ctx.result, code, fragment)
    if check:
        check(ctx)


# 7. JSONL values are never coerced: each is an error naming file and line.
JSONL_CASES = [
    ('{"text": "Ada", "meta": [1, 2]}', '"meta" must be an object'),
    ('{"text": "Ada", "meta": {"sent_index": "x"}}', '"meta.sent_index" must be an integer'),
    ('{"text": "Ada", "meta": {"sent_index": 1.5}}', '"meta.sent_index" must be an integer'),
    ('{"text": "Ada", "meta": {"doc_id": {"a": 1}}}', '"meta.doc_id" must be a string or integer'),
    (
        '{"text": "Ada is", "tokens": [{"start": "a", "end": 3}, {"start": 4, "end": 6}]}',
        "token 0 needs integer",
    ),
    (
        '{"text": "Ada is", "tokens": [{"start": 0, "end": 3}, {"start": "4", "end": 6}]}',
        "token 1 needs integer",
    ),
    (
        '{"text": "Ada is", "tokens": [{"start": 0, "end": 3}, {"start": 4, "end": 60}]}',
        "outside the text",
    ),
    (
        '{"text": "Ada is", "spans": [{"start": "0", "end": 3, "label": "PER"}]}',
        "span 0 needs integer",
    ),
    (
        '{"text": "Ada is", "spans": [{"start": 0, "end": 4.5, "label": "PER"}]}',
        "span 0 needs integer",
    ),
    (
        '{"text": "Ada is", "spans": [{"start": 0, "end": 3, "label": 5}]}',
        'non-empty string "label"',
    ),
    ('{"text": "Ada is", "spans": {"start": 0}}', '"spans" must be a list'),
    ('{"text": "Ada is", "spans": ["PER"]}', "span 0 needs integer"),
]


@pytest.mark.parametrize("line,fragment", JSONL_CASES)
def test_jsonl_is_never_coerced(ctx, capsys, line, fragment):
    path = ctx.tmp / "in.jsonl"
    path.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    result = run_cli(capsys, ["convert", path, ctx.out])
    assert_outcome(result, 1, f"{path}:2: ")
    assert fragment in result.err and not ctx.out.exists()
