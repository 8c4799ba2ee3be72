"""``propose --ray ADDRESS``: Ray workers send the uncached prompts (``map_batches`` with our
client: ``ray.data.llm`` sends one at a time); shards of answers are folded into the cache."""

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

from spacy.tokens import Doc

from ..errors import HybridNerError, Interrupted, OptionError
from .cache import CachedAnswer, PromptCache, read_recorded, write_recorded
from .chat_model import ChatModel
from .openai_client import OpenAICompatibleClient
from .usage import BudgetExceeded, Usage

#: Batches a worker takes per round trip, in multiples of its requests in flight.
BATCH_ROUNDS = 4
_ANSWER_COLUMNS = ("response", "prompt_tokens", "completion_tokens", "failures")


def shard_dir(cache: PromptCache) -> Path:
    """Where the shards of answers received from the cluster wait to be folded."""
    return cache.path.with_name(cache.path.name + ".ray")


def fold_shards(cache: PromptCache, shards: List[Path]) -> int:
    """Add the shards' answers the cache lacks, remove the shards. RETURNS (int): answers added."""
    added = 0
    for shard in shards:
        rows = read_recorded(shard).rows
        have = cache.present(row["key"] for row in rows)
        for row in (row for row in rows if row["key"] not in have):
            answer = CachedAnswer(row["response"], row["prompt_tokens"], row["completion_tokens"])
            cache.put(row["key"], row["model"], row["request"], answer)
            added += 1
        shard.unlink()
    return added


@dataclass
class ClusterUsage(Usage):
    """Usage whose first ``credit`` cache hits are the cluster's answers (counted as requests)."""

    credit: int = 0

    def record_hit(self, tokens_in: int, tokens_out: int) -> None:
        with self._lock:
            if self.credit:
                self.credit -= 1
                return
        super().record_hit(tokens_in, tokens_out)


class RequestWorker:
    """A Ray Data UDF sending a batch of requests; a failed one gets a blank (uncached) answer."""

    def __init__(self, client: Dict[str, Any], params: Dict[str, Any]) -> None:
        self.client = OpenAICompatibleClient(**client)
        self.params = params
        self.pool = ThreadPoolExecutor(self.client.max_in_flight)

    def _one(self, messages: str) -> Dict[str, Any]:
        usage = Usage()
        try:
            answer = self.client.complete(json.loads(messages), self.params, usage)
            text, tokens = answer.response, (answer.prompt_tokens, answer.completion_tokens)
        except HybridNerError:
            text, tokens = "", (0, 0)
        failures = json.dumps(dict(usage.failures))
        return dict(zip(_ANSWER_COLUMNS, (text, *tokens, failures)))

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[Any]]:
        results = list(self.pool.map(self._one, list(batch["messages"])))
        columns = {name: [r[name] for r in results] for name in results[0]}
        return {"key": list(batch["key"]), **columns}


def fill_cache(address: str, task: Any, model: Any, docs: List[Doc], workers: int = 1) -> None:
    """Answer the uncached prompts of ``docs`` on a Ray cluster into the prompt cache;
    ``model`` (the run's ChatModel) counts usage and budget.

    address (str): As ``ray.init`` takes it: "local", "auto", "ray://host:10001".
    workers (int): Ray actors sending requests, each ``--concurrency`` at once.
    """
    try:
        import ray
    except ImportError:
        raise HybridNerError("--ray needs Ray: pip install 'hybrid-ner[ray]'") from None
    backend = getattr(model, "backend", None)
    if not isinstance(backend, OpenAICompatibleClient) or model.cache is None:
        raise OptionError(
            "--ray needs an OpenAI-compatible model (--base-url, --model) and a prompt cache"
        )
    cache: PromptCache = model.cache
    model.usage = usage = ClusterUsage()
    shards = shard_dir(cache)
    fold_shards(cache, sorted(shards.glob("*.jsonl.gz")))  # answers of a killed run
    first = {model.key(p): p for prompts, _ in task.generate_prompts(docs) for p in prompts}
    cached = cache.present(first)
    messages = {key: model.messages(prompt) for key, prompt in first.items() if key not in cached}
    todo: Dict[str, int] = {}  # the keys that fit the budget, in order (as the local run)
    for key, request in messages.items():
        try:
            todo[key] = model.reserve(request)
        except BudgetExceeded:
            break
    if not todo:
        return
    items = [{"key": key, "messages": json.dumps(messages[key])} for key in todo]
    started = not ray.is_initialized()  # else connected already
    if started:  # the API key travels in the job's env
        key = os.environ.get(backend.api_key_env) if backend.api_key_env else None
        env = {"env_vars": {backend.api_key_env: key}} if key else None
        local = {"include_dashboard": False} if address == "local" else {}
        try:
            ray.init(address=address, runtime_env=env, **local)
        except Exception as err:
            raise HybridNerError(f"--ray {address}: cannot start or join Ray ({err})") from None
    try:
        names = ("base_url", "model", "api_key_env", "max_in_flight", "timeout", "max_tries")
        names += ("backoff", "max_backoff", "context_length", "chars_per_token")
        client = {name: getattr(backend, name) for name in names}  # rebuilt on the workers
        size = BATCH_ROUNDS * backend.max_in_flight
        blocks = -(-len(items) // size)  # one block per batch: else a batch may be one block
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            RequestWorker,
            fn_constructor_kwargs={"client": client, "params": model.generation},
            batch_size=size,
            # Two batches at once on each worker (one thread pool): no gap between batches.
            compute=ray.data.ActorPoolStrategy(
                size=workers, max_concurrent_calls_per_actor=2, enable_true_multi_threading=True
            ),
        )
        provenance = {"model": backend.model_id, "made_by": "hybrid-ner propose --ray"}
        answered = 0
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
            shard = shards / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.jsonl.gz"
            write_recorded(shard, _answers(model, rows, messages, todo), provenance)
            answered += fold_shards(cache, [shard])
        usage.credit = answered
    except KeyboardInterrupt:
        raise Interrupted(
            f"Interrupted (Ctrl+C): the answers received are in the prompt cache {cache.path}; "
            "re-run the same command to resume"
        ) from None
    except ray.exceptions.RayError as err:  # a worker died, the cluster went away
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HybridNerError(
            f"--ray {address}: {reason}; the answers received are in the prompt cache "
            f"{cache.path}: re-run the same command to resume"
        ) from None
    finally:
        if started:
            ray.shutdown()


def _answers(model: ChatModel, rows: List[Dict], messages: Dict, reserved: Dict) -> List[Dict]:
    """Count the answers of a batch in the run's usage and budget; the rows to record."""
    out = []
    for row in rows:
        key, response = str(row["key"]), str(row["response"])
        model.usage.failures.update(json.loads(str(row["failures"])))
        if not response.strip():  # failed for good: the local run sends it again
            model.release(reserved[key])
            continue
        used = (int(row["prompt_tokens"]), int(row["completion_tokens"]))
        model.account(reserved[key], *used)
        request = {"messages": messages[key], "params": model.generation}
        row = {"key": key, "model": model.backend.model_id, "request": request}
        out.append({**row, **dict(zip(_ANSWER_COLUMNS, (response, *used)))})
    return out
