"""Never lose, never lie (issue #10), ``propose``: a failed run keeps OUT and the
input, and unwritable or clashing output paths are refused before any request."""

from pathlib import Path

import pytest

from scripts.fake_openai_server import error

from .robustness_helpers import (
    both,
    case,
    in_unchanged,
    keep_in,
    keep_out,
    make_ctx,
    no_request,
    out_unchanged,
    propose,
    run_propose_case,
)


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


PROPOSE_CASES = [
    # 1. A failed run never replaces OUT, even over a complete result or the input.
    case(
        "400-keeps-complete-out",
        lambda c: propose(c),
        4,
        "left unchanged",
        script=lambda p: error(400),
        setup=keep_out,
        check=out_unchanged,
    ),
    case(
        "400-names-the-cache", lambda c: propose(c), 4, "cache.sqlite", script=lambda p: error(400)
    ),
    case(
        "out-is-in-refused",
        lambda c: propose(c, out=c.inp),
        1,
        "--overwrite-input",
        setup=keep_in,
        check=both(in_unchanged, no_request),
    ),
    case(
        "out-is-in-400-keeps-in",
        lambda c: propose(c, "--overwrite-input", out=c.inp),
        4,
        "left unchanged",
        script=lambda p: error(400),
        setup=keep_in,
        check=in_unchanged,
    ),
    case(
        "out-is-in-budget-keeps-in",
        lambda c: propose(
            c, "--overwrite-input", "--max-requests", 3, "--batch-size", 2, out=c.inp
        ),
        3,
        "it is the input",
        setup=keep_in,
        check=in_unchanged,
    ),
    # 2. Unwritable outputs are found before any request.
    case(
        "out-in-proc",
        lambda c: propose(c, out=Path("/proc/x.spacy")),
        1,
        "cannot write",
        check=no_request,
    ),
    case(
        "out-is-a-dir",
        lambda c: propose(c, out=c.tmp / "a_dir"),
        1,
        "is a directory",
        check=no_request,
    ),
    case(
        "out-parent-is-a-file",
        lambda c: propose(c, out=c.tmp / "a_file" / "o.spacy"),
        1,
        "is a file",
        check=no_request,
    ),
    case(
        "usage-out-unwritable",
        lambda c: propose(c, "--usage-out", "/proc/u.json"),
        1,
        "/proc/u.json",
        setup=keep_out,
        check=both(no_request, out_unchanged),
    ),
    case(
        "usage-out-is-out",
        lambda c: propose(c, "--usage-out", c.out),
        1,
        "same file",
        check=no_request,
    ),
    case(
        "cache-is-a-dir",
        lambda c: ["propose", c.inp, c.out, "--config", c.cfg, "--cache", c.tmp / "a_dir"],
        1,
        "is a directory",
        check=no_request,
    ),
    case(
        "cache-is-the-input",
        lambda c: [
            "propose",
            c.inp,
            c.out,
            "--config",
            c.cfg,
            "--cache",
            c.inp,
            "--overwrite-input",
        ],
        1,
        "give it a file of its own",
        check=no_request,
    ),
    case(
        "usage-out-is-the-input",
        lambda c: propose(c, "--usage-out", c.inp, "--overwrite-input"),
        1,
        "give it a file of its own",
        setup=keep_in,
        check=both(in_unchanged, no_request),
    ),
]


@pytest.mark.parametrize("argv,code,fragment,script,setup,check,model", PROPOSE_CASES)
def test_propose(ctx, capsys, argv, code, fragment, script, setup, check, model):
    run_propose_case(ctx, capsys, argv, code, fragment, script, setup, check, model)
