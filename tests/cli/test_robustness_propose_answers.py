"""Never lose, never lie (issue #10), ``propose``: limits and option ranges are
checked before any request, and no fault of the server (null, blank, garbage,
oversized or late answers, a corrupt cache, a spent budget) is a silent loss."""

import re
import sqlite3

import pytest
import spacy
import srsly

from hybrid_ner.corpus import read_docbin
from hybrid_ner.layers import LLM_KEY
from scripts.fake_openai_server import chat, error

from .robustness_helpers import (
    N_DOCS,
    both,
    cache_rows,
    case,
    keep_out,
    make_ctx,
    n_docs,
    no_request,
    ok,
    out_unchanged,
    propose,
    run_propose_case,
)


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


def _null_retried_then_ok():
    answers = iter([chat(None)])
    return lambda payload: next(answers, None) or ok(payload)


def _nothing_cached(ctx):
    assert cache_rows(ctx.cache) == 0


def _partial_holds_what_it_says(ctx):
    held = int(re.search(r"holds only the (\d+) of 40", ctx.result.err).group(1))
    assert 0 < held < N_DOCS and n_docs(ctx.out) == held


def _oversized_clipped(ctx):
    usage = srsly.read_json(ctx.tmp / "usage.json")
    assert usage["failures"] == {"oversized_answer": 3}
    with sqlite3.connect(str(ctx.cache)) as conn:
        longest = conn.execute("SELECT MAX(LENGTH(response)) FROM answers").fetchone()[0]
    assert longest <= 160 * 32  # max_tokens of the built-in config × the chars-per-token bound
    docs = read_docbin(ctx.out, spacy.blank("en").vocab)
    assert len(docs) == 3 and all(
        {s.label_ for s in doc.spans[LLM_KEY]} == {"PER", "LOC"} for doc in docs
    )


PROPOSE_CASES = [
    # 3. A cost limit without prices is no limit: refused.
    case(
        "max-cost-without-prices",
        lambda c: propose(c, "--max-cost", 1),
        1,
        "needs --price-in",
        check=no_request,
    ),
    case(
        "token-limit-without-max-tokens",
        lambda c: propose(c, "--max-tokens", 10_000),
        1,
        "need generation.max_tokens",
        model={"generation": {"temperature": 0.0}},
        check=no_request,
    ),
    case(
        "max-cost-nan",
        lambda c: propose(c, "--max-cost", "nan", "--price-in", 1, "--price-out", 1),
        1,
        "--max-cost must be >= 0",
        check=no_request,
    ),
    # 5. No silent loss with exit 0.
    case(
        "batch-size-0",
        lambda c: propose(c, "--batch-size", 0),
        1,
        "--batch-size must be >= 1",
        check=no_request,
    ),
    case(
        "limit-negative",
        lambda c: propose(c, "--limit", -5),
        1,
        "--limit must be >= 0",
        check=no_request,
    ),
    case(
        "concurrency-0",
        lambda c: propose(c, "--concurrency", 0),
        1,
        "--concurrency must be >= 1",
        check=no_request,
    ),
    case(
        "content-null-is-a-failure",
        lambda c: propose(c),
        4,
        "(empty: the answer has no content (null))",
        script=lambda p: chat(None),
        setup=keep_out,
        check=both(out_unchanged, _nothing_cached),
    ),
    case(
        "blank-answer-is-a-failure", lambda c: propose(c), 4, "blank", script=lambda p: chat("  \n")
    ),
    case(
        "null-retried-counted-not-cached",
        lambda c: propose(c, "--usage-out", c.tmp / "usage.json"),
        0,
        "",
        script=None,
        setup=lambda c: setattr(c.server, "script", _null_retried_then_ok()),
        check=lambda c: (
            (
                srsly.read_json(c.tmp / "usage.json")["failures"] == {"empty": 1}
                and cache_rows(c.cache) == N_DOCS
            )
            or pytest.fail("not counted or not cached")
        ),
    ),
    case(
        "garbage-answers",
        lambda c: propose(c),
        1,
        "0 proposals for 40 sentences",
        script=lambda p: chat("<html>proxy error</html>"),
        check=lambda c: (
            ("no answer could be read" in c.result.err and not c.out.exists())
            or pytest.fail(c.result.err)
        ),
    ),
    case(
        "garbage-answers-allowed",
        lambda c: propose(c, "--allow-empty"),
        0,
        "",
        script=lambda p: chat("<html>proxy error</html>"),
        check=lambda c: (
            ("of 0" not in c.result.out and "No answer held a usable entity item" in c.result.out)
            or pytest.fail(c.result.out)
        ),
    ),
    # 7. Retry-After in 2099: not silently shortened to max_backoff; a 1.6 MB answer is cut
    # to max_tokens.
    case(
        "retry-after-2099",
        lambda c: propose(c),
        4,
        "asks to retry after",
        script=lambda p: error(429, "slow down", {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
    ),
    case(
        "oversized-answer-clipped",
        lambda c: propose(c, "--usage-out", c.tmp / "usage.json", "--limit", 3),
        0,
        "",
        script=lambda p: chat("PER: Ada Lovelace\n" + "LOC: Paris\n" * 150_000),
        check=_oversized_clipped,
    ),
    case(
        "corrupt-cache",
        lambda c: propose(c),
        1,
        "cache.sqlite: cannot open the prompt cache",
        setup=lambda c: c.cache.write_bytes(b"not a database" * 400),
        check=no_request,
    ),
    # The budget stop writes what it finished, atomically, and says how much.
    case(
        "budget-partial",
        lambda c: propose(c, "--max-requests", 3, "--batch-size", 2),
        3,
        "PARTIAL",
        check=_partial_holds_what_it_says,
    ),
    case(
        "complete-run",
        lambda c: propose(c, "--usage-out", c.tmp / "usage.json"),
        0,
        "",
        setup=keep_out,
        check=lambda c: n_docs(c.out) == N_DOCS or pytest.fail("incomplete"),
    ),
]


@pytest.mark.parametrize("argv,code,fragment,script,setup,check,model", PROPOSE_CASES)
def test_propose(ctx, capsys, argv, code, fragment, script, setup, check, model):
    run_propose_case(ctx, capsys, argv, code, fragment, script, setup, check, model)
