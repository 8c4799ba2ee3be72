"""The spacy-llm task: LLM entity proposals that never touch human labels.

Unlike spacy-llm's NER tasks (which call ``doc.set_ents`` and erase the
human entities), this task writes its proposals to ``doc.spans["llm"]``, one
labelled Span per proposal, and leaves ``doc.ents`` (including MISSING
annotation) and every other span group alone. Proposals from different
per-type queries may overlap or disagree: all are kept, the merge step
resolves them.

Each Doc also gets ``doc.user_data["llm_parse"]``: per query the raw answer,
the number of items, how many were kept and what was dropped and why.
(The prompts are kept by spacy-llm's ``save_io`` in ``user_data["llm_io"]``.)
"""

from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from spacy.tokens import Doc, Span
from spacy_llm.registry import registry

from ..errors import HybridNerError
from ..layers import LLM_KEY
from .fewshot import SimilarExamples
from .labels import check_example_labels, check_labels, label_counts, labels_of
from .prompts import DEFAULT_DEFINITIONS, PromptFormat, SingleQueryPrompt

#: ``doc.user_data`` key of the per-Doc parse statistics.
PARSE_STATS_KEY = "llm_parse"
ALIGNMENT_MODES = ("strict", "contract", "expand")


class EntityProposalTask:
    """Generate entity prompts and write the answers as a span group.

    labels (Union[List[str], str]): Entity labels to ask for (a string is
        comma-separated); checked by :func:`hybrid_ner.llm.labels.check_labels`.
    prompt (PromptFormat): How prompts are written and answers parsed.
    examples (Optional[SimilarExamples]): Few-shot retrieval; None for zero-shot.
    label_definitions (Dict[str, str]): A definition per label.
    spans_key (str): The span group for the proposals.
    alignment_mode (str): How mentions that cut tokens are snapped to
        tokens: "strict" (dropped), "contract" or "expand".
    """

    def __init__(
        self,
        labels: Union[List[str], str],
        prompt: PromptFormat,
        examples: Optional[SimilarExamples] = None,
        label_definitions: Optional[Dict[str, str]] = None,
        spans_key: str = LLM_KEY,
        alignment_mode: str = "expand",
    ) -> None:
        if alignment_mode not in ALIGNMENT_MODES:
            raise HybridNerError(
                f"alignment_mode must be one of {ALIGNMENT_MODES}, got {alignment_mode!r}"
            )
        self._labels = labels_of(labels, "[components.llm.task] labels")
        if not self._labels:
            raise HybridNerError("The proposal task needs at least one label")
        self.prompt = prompt
        self.examples = examples
        #: The definitions the config gave (the defaults fill in the others).
        self.label_definitions = dict(label_definitions or {})
        self.definitions = {**DEFAULT_DEFINITIONS, **self.label_definitions}
        self.spans_key = spans_key
        self.alignment_mode = alignment_mode
        self._pool_checked = False
        #: Sentences whose prompt got fewer examples than asked for (text → how many it got).
        self.short_of_examples: Dict[str, int] = {}

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self._labels)

    def add_label(self, label: str, label_definition: Optional[str] = None) -> int:
        if label in self._labels:
            return 0
        self._labels = check_labels([*self._labels, label], "add_label")
        if label_definition:
            self.definitions[label] = label_definition
        return 1

    def clear(self) -> None:
        self._labels = []

    def set_labels(self, labels: List[str], where: str = "labels") -> None:
        """Replace the label set (checked by :func:`~hybrid_ner.llm.labels.check_labels`)."""
        self._labels = check_labels(list(labels), where)
        self._pool_checked = False

    def check_example_labels(self) -> None:
        """Refuse an example pool with labels outside the label set (checked
        once): its entities of those labels would be shown as no entity.

        RAISES (OptionError): Naming the pool and the labels.
        """
        if self._pool_checked or self.examples is None or self.examples.k == 0:
            return
        check_example_labels(
            label_counts(self.examples.pool), self._labels, _pool_name(self.examples.pool_source)
        )
        self._pool_checked = True

    def queries(self) -> List[Optional[str]]:
        """The query of each prompt of a Doc (a label, or None for all)."""
        return self.prompt.queries(self._labels)

    def generate_prompts(
        self, docs: Iterable[Doc], context_length: Optional[int] = None
    ) -> Iterable[Tuple[Iterable[str], Iterable[Doc]]]:
        """One prompt per query for each Doc, each paired with the Doc itself.

        This is spacy-llm's public protocol for a task that sends several
        prompts per Doc (a "sharding" task, recognised by this signature):
        the only way to hand it the per-type queries of one sentence. The
        "shards" are the Doc itself; :meth:`parse_responses` merges them.

        docs (Iterable[Doc]): The Docs.
        context_length (Optional[int]): Unused: sentences are short; a prompt
            that does not fit fails with a clear error at the backend.
        RETURNS (Iterable[Tuple[Iterable[str], Iterable[Doc]]]): Prompts and Docs.
        """
        docs = list(docs)
        self.check_example_labels()
        examples = self.examples(docs) if self.examples is not None else [[] for _ in docs]
        queries = self.queries()
        wanted = self.examples.k if self.examples is not None else 0
        for doc, doc_examples in zip(docs, examples):
            if len(doc_examples) < wanted:
                self.short_of_examples[doc.text] = len(doc_examples)
            prompts = [
                self.prompt.render(doc.text, doc_examples, self._labels, self.definitions, query)
                for query in queries
            ]
            yield prompts, [doc] * len(prompts)

    def parse_responses(
        self, shards: Iterable[Iterable[Doc]], responses: Iterable[Iterable[str]]
    ) -> Iterable[Doc]:
        """Write the proposals of each Doc to ``doc.spans[spans_key]``.

        shards (Iterable[Iterable[Doc]]): Per Doc, the Doc once per query.
        responses (Iterable[Iterable[str]]): Per Doc, one answer per query.
        RETURNS (Iterable[Doc]): The Docs, with ``doc.ents`` untouched.
        """
        queries = self.queries()
        for doc_shards, doc_responses in zip(shards, responses):
            doc = list(doc_shards)[0]
            self.set_proposals(doc, list(doc_responses), queries)
            yield doc

    def set_proposals(self, doc: Doc, responses: List[str], queries: List[Optional[str]]) -> None:
        """Parse one Doc's answers and set its proposal span group and stats."""
        spans: Dict[Tuple[int, int, str], Span] = {}
        totals: Counter = Counter()
        per_query = []
        n_items = 0
        for query, response in zip(queries, responses):
            result = self.prompt.parse(doc.text, response, self._labels, query)
            kept = 0
            for mention in result.mentions:
                span = doc.char_span(
                    mention.start,
                    mention.end,
                    label=mention.label,
                    alignment_mode=self.alignment_mode,
                )
                if span is None or len(span) == 0:
                    result.drop("misaligned")
                elif (span.start, span.end, mention.label) in spans:
                    result.drop("duplicate")
                else:
                    spans[(span.start, span.end, mention.label)] = span
                    kept += 1
            n_items += result.n_items
            totals.update(result.dropped)
            per_query.append(
                {
                    "query": query or "*",
                    "response": response,
                    "items": result.n_items,
                    "kept": kept,
                    "dropped": dict(result.dropped),
                }
            )
        doc.spans[self.spans_key] = [spans[key] for key in sorted(spans)]
        doc.user_data[PARSE_STATS_KEY] = {
            "items": n_items,
            "kept": len(spans),
            "dropped": dict(totals),
            "queries": per_query,
        }


def _pool_name(source: object) -> str:
    return str(source) if isinstance(source, (str, Path)) else "the example pool"


@registry.llm_tasks("hybrid_ner.EntityProposals.v1")
def create_entity_proposal_task(
    labels: Union[List[str], str] = ["PER", "ORG", "LOC", "MISC"],
    prompt: Optional[PromptFormat] = None,
    examples: Optional[SimilarExamples] = None,
    label_definitions: Dict[str, str] = {},
    spans_key: str = LLM_KEY,
    alignment_mode: str = "expand",
) -> EntityProposalTask:
    """LLM entity proposals written to ``doc.spans[spans_key]``, never to ``doc.ents``.

    labels (Union[List[str], str]): Labels to propose; a string is
        comma-separated ("PER" is one label).
    prompt (Optional[PromptFormat]): Prompt format; single query if None.
    examples (Optional[SimilarExamples]): Few-shot retrieval; zero-shot if None.
    label_definitions (Dict[str, str]): Definitions that override the defaults.
    spans_key (str): Span group for the proposals.
    alignment_mode (str): "strict", "contract" or "expand" for mentions that
        cut through tokens.
    RETURNS (EntityProposalTask): The task.
    """
    return EntityProposalTask(
        labels=labels,
        prompt=prompt or SingleQueryPrompt(),
        examples=examples,
        label_definitions=label_definitions,
        spans_key=spans_key,
        alignment_mode=alignment_mode,
    )
