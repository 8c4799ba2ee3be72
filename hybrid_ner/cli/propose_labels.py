"""The label set of ``hybrid-ner propose``: given, else the labels of the
input's human annotation and of the example pool, else the config's."""

from typing import List, Optional

from confection import Config
from spacy.tokens import Doc
from wasabi import msg

from ..llm import config as cfg
from .propose_config import QUERY_FORMATS, pool_docs, pool_k, pool_path


def choose_labels(config: Config, docs: List[Doc], explicit: Optional[str]) -> List[str]:
    """Settle the label set (in the config) and say where it came from.

    Given (``--labels`` or its config path): kept, and the example pool
    must not use other labels. Else the labels of IN's human annotation and
    of the example pool; if neither has any, the config's. Labels without a
    definition are named; for the single-query format, labels without an
    example entity for the answer-format example get one from the data.

    config (Config): The proposal config; its labels (and the single-query
        prompt's example mentions) are set.
    docs (List[Doc]): The input.
    explicit (Optional[str]): The option that gave the labels, if any.
    RETURNS (List[str]): The labels.
    """
    from ..llm.labels import (
        check_example_labels,
        check_labels,
        example_mentions,
        label_counts,
        labels_of,
        order_labels,
    )
    from ..llm.prompts import DEFAULT_DEFINITIONS, DEFAULT_EXAMPLE_MENTIONS

    # A config without labels means the registered task's default labels; a
    # string is comma-separated ('"PER"' is one label, not P, E, R).
    configured = labels_of(cfg.setting(config, cfg.LABELS), explicit or f"--{cfg.LABELS}")
    pool_file = pool_path(config)
    pool = pool_docs(pool_file) if pool_file is not None and pool_k(config) > 0 else []
    input_counts, pool_counts = label_counts(docs), label_counts(pool)
    if explicit is not None:
        labels, source = configured, explicit
        check_example_labels(pool_counts, labels, str(pool_file))
    elif input_counts or pool_counts:
        labels = order_labels(set(input_counts) | set(pool_counts), configured)
        source = " and ".join(
            name
            for name, counts in (
                ("the human annotation of the input", input_counts),
                (f"the example pool {pool_file}", pool_counts),
            )
            if counts
        )
    else:
        labels, source = configured, "the config (no entity in the input or the example pool)"
    check_labels(labels, f"the labels from {source}")
    given = {}
    given[cfg.LABELS] = labels
    msg.info(f"Labels: {', '.join(labels)} (from {source})")
    left_out = [label for label in configured if label not in labels]
    if explicit is None and left_out:
        msg.info(
            f"Not asked for: {', '.join(left_out)} (in the config, not in the data); "
            "give --labels to ask for them"
        )
    own_definitions = cfg.setting(config, cfg.LABEL_DEFINITIONS) or {}
    definitions = {**DEFAULT_DEFINITIONS, **own_definitions}
    undefined = [label for label in labels if not definitions.get(label)]
    if undefined:
        msg.info(
            f'No definition for {", ".join(undefined)}: the prompt says "entities of type <label>" '
            "(give --label-definitions FILE)"
        )
    unused = sorted(set(own_definitions) - set(labels))
    if unused:
        msg.warn(
            f"Label definitions for labels not in the label set are not used: {', '.join(unused)}"
        )
    # The task's default format is the single query.
    prompt = cfg.setting(config, cfg.PROMPT) or {"@llm_misc": QUERY_FORMATS["single"]}
    if isinstance(prompt, dict) and prompt.get("@llm_misc") == QUERY_FORMATS["single"]:
        mentions = dict(prompt.get("example_mentions") or DEFAULT_EXAMPLE_MENTIONS)
        if sum(1 for label in labels if mentions.get(label)) < min(2, len(labels)):
            found = example_mentions(
                [*pool, *docs], [label for label in labels if not mentions.get(label)]
            )
            given[cfg.PROMPT] = {**prompt, "example_mentions": {**mentions, **found}}
    cfg.apply_overrides(config, given)
    return labels
