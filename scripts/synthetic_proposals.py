"""Write SYNTHETIC proposals (not an LLM) into doc.spans["llm"] of a DocBin.

For benchmarks and for testing the merge / mixing / training path when no
LLM proposals are available. Proposals are derived from the gold entities
(``doc.ents`` plus the ones the omission simulation moved to
``doc.spans["omitted"]``), with the error types a real LLM makes: recall
0.7; among found entities 10% boundary errors and 10% label confusions; 8%
get a second, conflicting label on the same tokens (per-type queries
disagreeing); 3% duplicates; false positives on 5% of capitalised
non-entity tokens, biased towards MISC. Always report results on these
proposals as "synthetic", never as an LLM's.

    python scripts/synthetic_proposals.py corpus/wikigold/train_omit0.4.spacy OUT.spacy --seed 0
"""

import argparse
import random
from pathlib import Path
from typing import List

import spacy
from spacy.tokens import Doc, Span

from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.layers import LLM_KEY, OMITTED_KEY

LABELS = ["LOC", "MISC", "ORG", "PER"]


def synthetic_proposals(doc: Doc, gold: List[Span], rng: random.Random) -> List[Span]:
    """LLM-like proposals on ``doc`` for one sentence, from its gold entities."""
    proposals = []
    gold_tokens = {i for ent in gold for i in range(ent.start, ent.end)}
    for ent in gold:
        if rng.random() > 0.7:
            continue
        start, end, label = ent.start, ent.end, ent.label_
        draw = rng.random()
        if draw < 0.1:  # boundary error
            start, end = max(0, start - 1), min(len(doc), end + (rng.random() < 0.5))
        elif draw < 0.2:  # label confusion
            label = rng.choice(LABELS)
        proposals.append(Span(doc, start, end, label))
        if rng.random() < 0.08:  # a per-type query disagrees on the same tokens
            proposals.append(Span(doc, start, end, rng.choice([x for x in LABELS if x != label])))
        if rng.random() < 0.03:
            proposals.append(Span(doc, start, end, label))  # duplicate
    for token in doc:
        if token.i not in gold_tokens and token.is_title and rng.random() < 0.05:  # false positives
            proposals.append(Span(doc, token.i, token.i + 1, rng.choice(LABELS + ["MISC", "MISC"])))
    return proposals


def add_synthetic_proposals(docs: List[Doc], seed: int) -> List[Doc]:
    """Set ``doc.spans["llm"]`` of every Doc, in place; the same seed gives the same proposals."""
    rng = random.Random(seed)
    for doc in docs:
        gold = list(doc.ents) + (list(doc.spans[OMITTED_KEY]) if OMITTED_KEY in doc.spans else [])
        doc.spans[LLM_KEY] = synthetic_proposals(
            doc, sorted(gold, key=lambda s: (s.start, s.end)), rng
        )
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "input", type=Path, help="DocBin with gold (or omission-simulated) entities"
    )
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    docs = add_synthetic_proposals(read_docbin(args.input, spacy.blank("en").vocab), args.seed)
    write_docbin(args.output, docs)
    print(
        f"{len(docs)} docs, {sum(len(d.spans[LLM_KEY]) for d in docs)} synthetic proposals → {args.output}"
    )


if __name__ == "__main__":
    main()
