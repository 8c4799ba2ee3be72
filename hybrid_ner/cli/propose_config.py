"""The proposal config of ``hybrid-ner propose``: the config file (or the
built-in default) with the convenience options and the dotted overrides
applied through one mechanism (:func:`hybrid_ner.llm.config.apply_overrides`),
and the checks that need it before anything is read or sent.
"""

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import spacy
from confection import Config
from spacy.tokens import Doc
from spacy.vocab import Vocab
from wasabi import msg

from ..corpus import read_docbin
from ..errors import HybridNerError, OptionError
from ..llm import config as cfg
from ..llm.openai_client import OpenAICompatibleClient

QUERY_FORMATS = {"single": cfg.SINGLE_QUERY, "per-type": cfg.PER_TYPE}
#: The API key variable with --base-url when --api-key-env is not given.
DEFAULT_API_KEY_ENV = OpenAICompatibleClient.DEFAULT_API_KEY_ENV
LABELS_PATH = cfg.LABELS
#: The convenience options of ``propose``: each sets one config path, through
#: the same mechanism as a dotted override (``--components.llm.task.examples.k 8``
#: is ``--k 8``). Giving both for one path is an error.
FLAG_PATHS: Dict[str, str] = {
    "--labels": cfg.LABELS,
    "--label-definitions": cfg.LABEL_DEFINITIONS,
    "--query": cfg.PROMPT,
    "--examples": cfg.POOL,
    "--k": cfg.K,
    "--clusters": cfg.CLUSTERS,
    "--base-url": f"{cfg.MODEL}.base_url",
    "--model": f"{cfg.MODEL}.model",
    "--api-key-env": f"{cfg.MODEL}.api_key_env",
    "--concurrency": f"{cfg.MODEL}.concurrency",
    "--threads": f"{cfg.MODEL}.n_threads",
    "--cache": cfg.CACHE_PATH,
    "--recorded": f"{cfg.CACHE}.recorded",
    "--max-requests": f"{cfg.BUDGET_BLOCK}.max_requests",
    "--max-tokens": f"{cfg.BUDGET_BLOCK}.max_tokens",
    "--max-cost": f"{cfg.BUDGET_BLOCK}.max_cost",
    "--price-in": f"{cfg.BUDGET_BLOCK}.price_per_1k_input",
    "--price-out": f"{cfg.BUDGET_BLOCK}.price_per_1k_output",
}


def configure(
    config_path: Optional[Path], flags: Mapping[str, Any], overrides: Mapping[str, Any]
) -> Config:
    """The proposal config: file or built-in default, with the convenience
    options and the dotted overrides applied (one mechanism: the options are
    names for config paths). ``--base-url`` first switches the model block
    to the OpenAI-compatible backend (keeping generation, cache and budget).

    config_path (Optional[Path]): The config file; None for the default.
    flags (Mapping[str, Any]): Option name → value; None for not given.
    overrides (Mapping[str, Any]): Dotted path → value.
    RETURNS (Config): The interpolated config.
    RAISES (HybridNerError): For options that do not fit, or a path given twice.
    """
    from ..overrides import check_no_conflicts

    config = cfg.load_config(config_path, interpolate=False)
    if (flags.get("--base-url") is None) != (flags.get("--model") is None):
        raise HybridNerError("--base-url and --model go together")
    if not isinstance(model_block(config, config_path), dict):
        raise HybridNerError(f"{config_path}: [components.llm.model] is not a block")
    values = flag_overrides(config, flags)
    check_no_conflicts(values, overrides, FLAG_PATHS)
    if flags.get("--base-url") is not None:
        cfg.use_backend(config, cfg.OPENAI_COMPATIBLE)
    if flags.get("--clusters") is not None:  # 0: per-sentence retrieval
        clustered = flags["--clusters"] > 0
        cfg.use_examples(config, cfg.CLUSTERED_EXAMPLES if clustered else cfg.SIMILAR_EXAMPLES)
        if not clustered:  # (given to check_no_conflicts; SimilarExamples has no clusters)
            values.pop(cfg.CLUSTERS, None)
    where = str(config_path or "the default config")
    cfg.apply_overrides(config, {**values, **overrides}, where)
    try:
        return config.interpolate()
    except Exception as err:
        raise HybridNerError(
            f"{config_path or 'default config'}: invalid config ({' '.join(str(err).split())})"
        ) from None


def flag_overrides(config: Config, flags: Mapping[str, Any]) -> Dict[str, Any]:
    """The dotted config overrides the convenience options stand for
    (``FLAG_PATHS``), with their values as the config wants them.

    config (Config): The config before the overrides (for checks that
        depend on the backend).
    flags (Mapping[str, Any]): Option name → value; None for not given.
    RETURNS (Dict[str, Any]): Dotted path → value.
    RAISES (HybridNerError): For an option that does not fit the config.
    """
    from ..llm.labels import parse_labels, read_label_definitions

    given = {flag: value for flag, value in flags.items() if value is not None}
    backend = model_block(config).get("@llm_models")
    if "--base-url" in given:
        backend = cfg.OPENAI_COMPATIBLE
        given.setdefault("--api-key-env", DEFAULT_API_KEY_ENV)
    if "--concurrency" in given and backend != cfg.OPENAI_COMPATIBLE:
        msg.warn(
            "--concurrency applies to OpenAI-compatible backends; "
            "the embedded LLM runs one request at a time"
        )
        del given["--concurrency"]
    if "--api-key-env" in given and backend != cfg.OPENAI_COMPATIBLE:
        msg.warn("--api-key-env applies to OpenAI-compatible backends (--base-url); ignored")
        del given["--api-key-env"]
    if "--threads" in given and backend != cfg.LLAMA_CPP:
        raise HybridNerError(f"--threads applies to the embedded LLM ({cfg.LLAMA_CPP}) only")
    values: Dict[str, Any] = {}
    for flag, value in given.items():
        if flag == "--labels":
            value = parse_labels(value)
        elif flag == "--label-definitions":
            value = read_label_definitions(value)
        elif flag == "--query":
            if value not in QUERY_FORMATS:
                raise HybridNerError(f"Unknown --query {value!r}: use single or per-type")
            current = cfg.setting(config, cfg.PROMPT)
            if isinstance(current, dict) and current.get("@llm_misc") == QUERY_FORMATS[value]:
                continue  # the config's own settings of that format stay
            value = {"@llm_misc": QUERY_FORMATS[value]}
        elif flag == "--recorded":
            value = _recorded(config, value, given.get("--cache"))
            if value is None and not has_prompt_cache(config):
                continue  # nothing to clear
        elif flag == "--cache":
            value = str(value)
            if not has_prompt_cache(config):  # replaces another cache
                values[cfg.CACHE] = {"@llm_misc": cfg.PROMPT_CACHE}
        elif flag == "--api-key-env":
            value = value or None
        elif flag == "--examples":
            value = str(value)
        values[FLAG_PATHS[flag]] = value
    return values


def _recorded(config: Config, recorded: str, cache: Optional[Path]) -> Optional[str]:
    """The value of the cache's ``recorded`` for ``--recorded``: "" clears
    it; a recording must exist and needs the prompt cache (a path)."""
    if not recorded:
        return None
    path = Path(recorded)
    if not path.is_file():
        raise HybridNerError(f"{path}: recorded answers not found")
    if cache is None and cache_path(config) is None:
        raise HybridNerError(
            "--recorded replays answers through the prompt cache: "
            "the config has none (give --cache)"
        )
    return str(path)


def has_prompt_cache(config: Config) -> bool:
    """Whether the config's model uses hybrid_ner's prompt cache."""
    block = cfg.setting(config, cfg.CACHE)
    return isinstance(block, dict) and block.get("@llm_misc") == cfg.PROMPT_CACHE


def cache_path(config: Config) -> Optional[Path]:
    """The prompt cache file of the config, if it uses hybrid_ner's cache."""
    path = cfg.setting(config, cfg.CACHE_PATH) if has_prompt_cache(config) else None
    return Path(str(path)) if path else None


def pool_path(config: Config) -> Optional[Path]:
    """The example pool of the config, if it has one."""
    pool = cfg.setting(config, cfg.POOL)
    return Path(str(pool)) if pool else None


def pool_k(config: Config) -> int:
    """Examples per sentence (0 without an examples block)."""
    if not isinstance(cfg.setting(config, cfg.EXAMPLES), dict):
        return 0
    return int(cfg.setting(config, cfg.K, 0))


def pool_docs(path: Path) -> List[Doc]:
    """The pool's sentences the retriever may show (fully annotated ones)."""
    from ..llm.fewshot import usable_as_example

    if not path.is_file():
        raise HybridNerError(f"{path}: example pool not found")
    return [doc for doc in read_docbin(path, Vocab()) if usable_as_example(doc)]


def blank_vocab(config: Config) -> Vocab:
    """The vocab of the config's language, for the Docs and the pipeline."""
    lang = str(config.get("nlp", {}).get("lang") or "en")
    try:
        return spacy.blank(lang).vocab
    except ImportError:
        raise HybridNerError(f"[nlp] lang = {lang!r}: not a language spaCy knows") from None


def model_block(config: Config, config_path: Optional[Path] = None) -> Any:
    """The config's ``[components.llm.model]`` block.
    RAISES (HybridNerError): If there is none."""
    try:
        return config["components"][cfg.COMPONENT]["model"]
    except (KeyError, TypeError):
        raise HybridNerError(
            f"{config_path or 'config'}: no [components.llm.model] block"
        ) from None


def check_cost_limit(config: Config) -> None:
    """Refuse a limit that cannot be kept: without prices every request costs
    0, so all of them would be sent; without generation.max_tokens one answer
    has no bound, so a request's worst case cannot be reserved."""
    budget = cfg.setting(config, cfg.BUDGET_BLOCK) or {}
    max_cost = budget.get("max_cost")
    # Left out: the model's default, which has max_tokens.
    generation = model_block(config).get("generation")
    if (
        (max_cost is not None or budget.get("max_tokens") is not None)
        and isinstance(generation, dict)
        and not generation.get("max_tokens")
    ):
        raise OptionError(
            "--max-tokens and --max-cost need generation.max_tokens in the config: "
            "without it an answer has no bound and the limit could be exceeded"
        )
    if max_cost is None:
        return
    prices = {
        "--price-in": budget.get("price_per_1k_input") or 0,
        "--price-out": budget.get("price_per_1k_output") or 0,
    }
    if not any(prices.values()):
        raise OptionError(
            f"--max-cost {max_cost} needs --price-in and --price-out (per 1,000 tokens): "
            "without prices every request costs 0 and no cost limit applies"
        )
    for option, price in prices.items():
        if not price:
            msg.warn(f"{option} is 0: --max-cost {max_cost} counts only the other side's tokens")
