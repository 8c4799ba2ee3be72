"""The spacy-llm task: proposals go to ``doc.spans["llm"]`` (never the human ``doc.ents``),
parse statistics to ``doc.user_data["llm_parse"]``."""

from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from spacy.tokens import Doc, Span
from spacy_llm.registry import registry

from ..errors import HybridNerError
from ..layers import LLM_KEY
from .fewshot import SimilarExamples
from .labels import check_example_labels, check_labels, label_counts, parse_labels
from .prompts import DEFAULT_DEFINITIONS, PromptFormat, SingleQueryPrompt

#: ``doc.user_data`` key of the per-Doc parse statistics.
PARSE_STATS_KEY = "llm_parse"
ALIGNMENT_MODES = ("strict", "contract", "expand")


class EntityProposalTask:
    """LLM entity proposals written to ``doc.spans[spans_key]``, never to ``doc.ents``.

    labels (Union[List[str], str]): Labels to propose; a string is comma-separated.
    prompt, examples: Prompt format (None: single query), few-shot retrieval (None: zero-shot).
    alignment_mode (str): "strict", "contract" or "expand" for mentions cutting tokens.
    """

    def __init__(
        self,
        labels: Union[List[str], str] = ["PER", "ORG", "LOC", "MISC"],
        prompt: Optional[PromptFormat] = None,
        examples: Optional[SimilarExamples] = None,
        label_definitions: Optional[Dict[str, str]] = None,
        spans_key: str = LLM_KEY,
        alignment_mode: str = "expand",
    ) -> None:
        if alignment_mode not in ALIGNMENT_MODES:
            raise HybridNerError(
                f"alignment_mode must be one of {ALIGNMENT_MODES}, got {alignment_mode!r}"
            )
        self.labels = tuple(parse_labels(labels, "[components.llm.task] labels"))
        self.prompt = prompt or SingleQueryPrompt()
        self.examples = examples
        #: The definitions the config gave (the defaults fill in the others).
        self.label_definitions = dict(label_definitions or {})
        self.definitions = {**DEFAULT_DEFINITIONS, **self.label_definitions}
        self.spans_key = spans_key
        self.alignment_mode = alignment_mode
        self._pool_checked = False
        #: Sentences whose prompt got fewer examples than asked for (text → how many).
        self.short_of_examples: Dict[str, int] = {}

    def set_labels(self, labels: List[str], where: str = "labels") -> None:
        """Replace the label set (checked by :func:`~hybrid_ner.llm.labels.check_labels`)."""
        self.labels = tuple(check_labels(list(labels), where))
        self._pool_checked = False

    def queries(self) -> List[Optional[str]]:
        """The query of each prompt of a Doc (a label, or None for all)."""
        return self.prompt.queries(self.labels)

    def generate_prompts(
        self, docs: Iterable[Doc], context_length: Optional[int] = None
    ) -> Iterable[Tuple[Iterable[str], Iterable[Doc]]]:
        """One prompt per query for each Doc, with the Doc once per prompt (spacy-llm's
        "sharding" protocol; sentences are short: ``context_length`` is unused)."""
        docs = list(docs)
        examples = self.examples
        if examples is not None and examples.k > 0 and not self._pool_checked:
            source = examples.pool_source
            name = str(source) if isinstance(source, (str, Path)) else None
            check_example_labels(label_counts(examples.pool), self.labels, name)
            self._pool_checked = True
        shown = examples(docs) if examples is not None else [[] for _ in docs]
        wanted = examples.k if examples is not None else 0
        for doc, doc_examples in zip(docs, shown):
            if len(doc_examples) < wanted:
                self.short_of_examples[doc.text] = len(doc_examples)
            prompts = [
                self.prompt.render(doc.text, doc_examples, self.labels, self.definitions, query)
                for query in self.queries()
            ]
            yield prompts, [doc] * len(prompts)

    def parse_responses(
        self, shards: Iterable[Iterable[Doc]], responses: Iterable[Iterable[str]]
    ) -> Iterable[Doc]:
        """Write each Doc's proposals to ``doc.spans[spans_key]`` and its parse statistics."""
        queries, mode = self.queries(), self.alignment_mode
        for doc_shards, doc_responses in zip(shards, responses):
            doc = list(doc_shards)[0]
            spans: Dict[Tuple[int, int, str], Span] = {}
            totals: Counter = Counter()
            per_query = []
            for query, response in zip(queries, doc_responses):
                result = self.prompt.parse(doc.text, response, self.labels, query)
                kept = 0
                for m in result.mentions:
                    span = doc.char_span(m.start, m.end, m.label, alignment_mode=mode)
                    if span is None or len(span) == 0:
                        result.drop("misaligned")
                    elif (span.start, span.end, m.label) in spans:
                        result.drop("duplicate")
                    else:
                        spans[(span.start, span.end, m.label)] = span
                        kept += 1
                totals.update(result.dropped)
                stats = {"query": query or "*", "response": response, "items": result.n_items}
                per_query.append({**stats, "kept": kept, "dropped": dict(result.dropped)})
            doc.spans[self.spans_key] = [spans[key] for key in sorted(spans)]
            doc.user_data[PARSE_STATS_KEY] = {
                "items": sum(q["items"] for q in per_query),
                "kept": len(spans),
                "dropped": dict(totals),
                "queries": per_query,
            }
            yield doc


create_entity_proposal_task = registry.llm_tasks("hybrid_ner.EntityProposals.v1")(
    EntityProposalTask
)
