"""Benchmark: reading DocBins with span groups, against the same Docs without
them, measured in the same run.

Target (issue 15.3): ``hybrid_ner.corpus.read_docbin`` on Docs with three
span groups takes at most 2x the plain read (the same Docs without span
groups). spaCy's own path (``DocBin.from_disk(...).get_docs(vocab)``) is timed
too: it asks srsly's msgpack decoder registry (a catalogue entry-point scan)
once per msgpack message, i.e. per span group, per Doc's span groups and per
Doc's ``user_data``; the issue measured 59 s against 12 s for the plain read
on CoNLL-2003 train. The plain read goes through ``read_docbin`` (the fair
baseline: the fix speeds it up too) and, for reference, through spaCy.

The input is built here: CoNLL-2003 train is read with
``hybrid_ner.corpus.read_conll``, each Doc gets three span groups (copies of
``doc.ents`` under "human", "llm" and "omitted"), and both variants are written
with ``hybrid_ner.corpus.write_docbin`` into a temporary directory.

    python scripts/bench_docbin_read.py [--conll PATH] [--limit N] [--repeats 1]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, List

from spacy.tokens import Doc, DocBin, SpanGroup
from spacy.vocab import Vocab

from hybrid_ner.corpus import read_conll, read_docbin, write_docbin
from hybrid_ner.layers import HUMAN_KEY, LLM_KEY, OMITTED_KEY

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONLL = (
    Path(os.environ.get("HYBRID_NER_CONLL_DIR", ROOT.parent / "shared" / "data" / "conll2003"))
    / "train.iob"
)
SPAN_KEYS = (HUMAN_KEY, LLM_KEY, OMITTED_KEY)


def build_inputs(conll: Path, limit: int, plain: Path, grouped: Path) -> int:
    """Write the Docs twice: without span groups and with three per Doc.

    RETURNS (int): The number of Docs.
    """
    docs = read_conll(conll).docs
    if limit:
        docs = docs[:limit]
    write_docbin(plain, docs)
    for doc in docs:
        for key in SPAN_KEYS:
            doc.spans[key] = SpanGroup(doc, name=key, spans=list(doc.ents))
    return write_docbin(grouped, docs)


def read_spacy(path: Path, vocab: Vocab) -> List[Doc]:
    """spaCy's own DocBin read: the path read_docbin used before issue 15.3."""
    return list(DocBin(store_user_data=True).from_disk(path).get_docs(vocab))


def best_time(read: Callable[[Path, Vocab], List[Doc]], path: Path, repeats: int) -> float:
    """Fastest of ``repeats`` full reads, each into a fresh vocab."""
    times = []
    for _ in range(repeats):
        vocab = Vocab()
        start = time.perf_counter()
        read(path, vocab)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL)
    parser.add_argument("--limit", type=int, default=0, help="Sentences (0: all)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="Reads per variant; the fastest counts"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, grouped = Path(tmp) / "plain.spacy", Path(tmp) / "grouped.spacy"
        n_docs = build_inputs(args.conll, args.limit, plain, grouped)
        print(
            f"input: {n_docs} Docs from {args.conll}; plain {plain.stat().st_size / 1e6:.1f} MB, "
            f"with span groups {'/'.join(SPAN_KEYS)} {grouped.stat().st_size / 1e6:.1f} MB"
        )
        t_plain = best_time(read_docbin, plain, args.repeats)
        t_plain_spacy = best_time(read_spacy, plain, args.repeats)
        t_spacy = best_time(read_spacy, grouped, args.repeats)
        t_ours = best_time(read_docbin, grouped, args.repeats)
    print(f"plain read (read_docbin, no span groups):  {t_plain:7.2f} s")
    print(
        f"plain read, spaCy DocBin.get_docs:         {t_plain_spacy:7.2f} s  "
        f"({t_plain_spacy / t_plain:.2f}x plain)"
    )
    print(
        f"span groups, spaCy DocBin.get_docs:        {t_spacy:7.2f} s  "
        f"({t_spacy / t_plain:.2f}x plain)"
    )
    print(
        f"span groups, hybrid_ner read_docbin:       {t_ours:7.2f} s  "
        f"({t_ours / t_plain:.2f}x plain)"
    )
    print(
        f"read_docbin speed-up over spaCy's path:    {t_spacy / t_ours:.1f}x   "
        "(target: <= 2.00x plain)"
    )


if __name__ == "__main__":
    main()
