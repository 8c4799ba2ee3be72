"""Dry run: what a proposal run would send and cost, before any request."""

from dataclasses import asdict, dataclass
from typing import Any, Dict, Sequence

from spacy.tokens import Doc

from .model import ChatModel
from .task import EntityProposalTask


@dataclass
class RunEstimate:
    """Prompts and tokens of a run. Completion tokens are a rough "expected"
    figure and a hard upper bound (``max_tokens`` per request). ``cached``
    and ``repeated`` are free: the run's usage report counts them as
    ``cache_hits`` and ``repeated``."""

    docs: int
    prompts: int
    cached: int
    repeated: int
    to_send: int
    prompt_tokens: int
    completion_tokens_expected: int
    completion_tokens_max: int
    cost_expected: float
    cost_max: float

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def estimate_run(task: EntityProposalTask, model: ChatModel, docs: Sequence[Doc]) -> RunEstimate:
    """Render every prompt and count tokens; send nothing.

    task (EntityProposalTask): The task (renders prompts, retrieves examples).
    model (ChatModel): The model (cache lookups, token counts, prices).
    docs (Sequence[Doc]): The Docs of the run.
    RETURNS (RunEstimate): Counts for the prompts not in the cache.
    """
    max_tokens = int(model.generation.get("max_tokens") or 0)
    n_prompts = cached = repeated = to_send = prompt_tokens = expected = 0
    seen = set()
    for (prompts, _), doc in zip(task.generate_prompts(docs), docs):
        for prompt in prompts:
            n_prompts += 1
            key = model.key(prompt)
            if key in seen:  # sent once, answers every occurrence (usage report: "repeated")
                repeated += 1
                continue
            if model.is_cached(prompt):  # usage report: "cache_hits"
                cached += 1
                continue
            seen.add(key)
            to_send += 1
            prompt_tokens += model.prompt_tokens(prompt)
            answer = task.prompt.expected_answer(doc.text, len(task.labels))
            expected += min(max_tokens or 10**9, model.backend.count_tokens(answer))
    budget = model.budget
    price = budget.cost_of if budget is not None else (lambda p, c: 0.0)
    return RunEstimate(
        docs=len(docs),
        prompts=n_prompts,
        cached=cached,
        repeated=repeated,
        to_send=to_send,
        prompt_tokens=prompt_tokens,
        completion_tokens_expected=expected,
        completion_tokens_max=to_send * max_tokens,
        cost_expected=round(price(prompt_tokens, expected), 6),
        cost_max=round(price(prompt_tokens, to_send * max_tokens), 6),
    )
