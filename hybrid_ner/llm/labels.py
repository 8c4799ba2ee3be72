"""The label set of a proposal run: from the user, from the data, or from
the config, and what the prompts need to know about it.

``hybrid-ner propose`` asks for ``--labels`` if given; otherwise for the
labels of the human annotation of its input and of the example pool (their
union); only if neither has an entity, for the config's labels. Labels the
config also has keep the config's order (so the CoNLL labels give the same
prompts as always); the others follow in alphabetical order.
"""

import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import srsly
from spacy.tokens import Doc

from ..errors import HybridNerError, OptionError


def label_counts(docs: Iterable[Doc]) -> Counter:
    """Entities per label in ``doc.ents``."""
    return Counter(ent.label_ for doc in docs for ent in doc.ents)


def order_labels(labels: Iterable[str], preferred: Sequence[str]) -> List[str]:
    """The labels in ``preferred``'s order first, the rest alphabetically.

    labels (Iterable[str]): The labels to order (duplicates dropped).
    preferred (Sequence[str]): An order to keep, e.g. the config's labels.
    RETURNS (List[str]): The ordered labels.
    """
    wanted = set(labels)
    return [label for label in preferred if label in wanted] + sorted(wanted - set(preferred))


#: What the answer parser reads as a label (``LINE_PATTERN`` of
#: :mod:`hybrid_ner.llm.parsing`): an ASCII letter, then ASCII letters,
#: ``_``, ``-`` or single spaces; 31 characters at most.
LABEL_PATTERN = re.compile(r"[A-Za-z](?:[A-Za-z_-]| (?! )){0,30}")


def label_key(label: str) -> str:
    """How a label is matched in answers: case and spaces vs ``_`` ignored
    ("product type", "PRODUCT_TYPE" and "Product Type" are one label)."""
    return "_".join(label.split()).upper()


def parse_labels(value: str, option: str = "--labels") -> List[str]:
    """``"a,b, c"`` → ``["a", "b", "c"]``, checked by :func:`check_labels`.
    RAISES (OptionError): If empty, or a label cannot be read back from an
    answer."""
    labels = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not labels:
        raise OptionError(f"{option}: no label given, e.g. {option} person,location,product")
    return check_labels(labels, option)


def labels_of(value: Union[str, Iterable[Any], None], where: str = "labels") -> List[str]:
    """A configured label set as a list: a string is comma-separated (as
    spaCy's NER tasks read it: ``labels = "PER"`` is one label, never P, E,
    R), anything else a sequence of labels. Checked by :func:`check_labels`.

    value: The configured value; None for no labels.
    where (str): The option or config setting, for messages.
    RETURNS (List[str]): The labels, duplicates dropped.
    RAISES (OptionError): For a label that cannot be read back from an answer.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return parse_labels(value, where)
    labels = list(dict.fromkeys(str(label).strip() for label in value))
    return check_labels(labels, where)


def check_labels(labels: Sequence[str], where: str = "labels") -> List[str]:
    """Refuse labels the answer parser could never match (every answer
    naming them would be dropped) and labels that only differ in case or
    spacing (all proposals would land on one of them).

    labels (Sequence[str]): The label set.
    where (str): The option or config setting, for messages.
    RETURNS (List[str]): The labels.
    RAISES (OptionError): Naming the label and what is allowed.
    """
    seen: Dict[str, str] = {}
    for label in labels:
        if not LABEL_PATTERN.fullmatch(label):
            raise OptionError(
                f"{where}: label {label!r} can never be read back from an answer: a label is "
                "an ASCII letter followed by ASCII letters, '_', '-' or single spaces, at most "
                f"31 characters in all (e.g. {_suggest(label)!r})"
            )
        key = label_key(label)
        if key in seen:
            raise OptionError(
                f"{where}: labels {seen[key]!r} and {label!r} differ only in case or spacing: "
                "answers cannot tell them apart; keep one"
            )
        seen[key] = label
    return list(labels)


def _suggest(label: str) -> str:
    """A label close to ``label`` that the parser can read."""
    ascii_only = re.sub(r"[^A-Za-z_ -]+", "_", label).strip("_ -")
    suggestion = "_".join(ascii_only.split())[:31].rstrip("_-")
    return suggestion if suggestion and suggestion[0].isalpha() else "LABEL"


def read_label_definitions(path: Union[str, Path]) -> Dict[str, str]:
    """A mapping label → definition from a JSON or YAML file (by extension:
    ``.yml``/``.yaml`` is YAML, anything else JSON).

    RAISES (HybridNerError): If the file is missing, unreadable or not a
        mapping of strings to strings, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise HybridNerError(f"{path}: label definitions file not found")
    try:
        data = (
            srsly.read_yaml(path)
            if path.suffix.lower() in (".yml", ".yaml")
            else srsly.read_json(path)
        )
    except Exception as err:  # JSON and YAML parsers raise their own types
        kind = "YAML" if path.suffix.lower() in (".yml", ".yaml") else "JSON"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HybridNerError(f"{path}: not valid {kind} ({first})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise HybridNerError(
            f"{path}: expected a mapping of label to definition, e.g. "
            f'{{"person": "names of people"}}'
        )
    return {key.strip(): " ".join(value.split()) for key, value in data.items()}


def missing_labels(used: Mapping[str, int], labels: Sequence[str]) -> Dict[str, int]:
    """The labels in ``used`` (label → count) that ``labels`` lacks."""
    return {label: n for label, n in sorted(used.items()) if label not in labels}


def check_example_labels(
    pool_counts: Mapping[str, int], labels: Sequence[str], pool: Optional[str]
) -> None:
    """Refuse examples whose entities the prompts could not show: an example
    entity of a label outside the label set would be rendered as no entity
    (``Output: None``), teaching the LLM to find nothing.

    pool_counts (Mapping[str, int]): Entities per label in the usable pool.
    labels (Sequence[str]): The task's labels.
    pool (Optional[str]): The pool's name, for the message.
    RAISES (OptionError): Naming the labels and how to fix it.
    """
    lacking = missing_labels(pool_counts, labels)
    if lacking:
        listing = ", ".join(f"{label} ({n} entities)" for label, n in lacking.items())
        raise OptionError(
            f"{pool or 'the example pool'}: its examples use labels the label set "
            f"({', '.join(labels)}) lacks: "
            f"{listing}; add them to --labels, or use an example pool (--examples) annotated with "
            "these labels"
        )


def example_mentions(docs: Iterable[Doc], labels: Sequence[str]) -> Dict[str, str]:
    """The most frequent entity text of each label (ties: the first seen), for
    the answer-format example of the instructions.

    docs (Iterable[Doc]): Annotated Docs (pool and input).
    labels (Sequence[str]): The labels wanted.
    RETURNS (Dict[str, str]): label → entity text, for the labels that have one.
    """
    counts: Dict[str, Counter] = {label: Counter() for label in labels}
    for doc in docs:
        for ent in doc.ents:
            if ent.label_ in counts and "\n" not in ent.text and '"' not in ent.text:
                counts[ent.label_][ent.text] += 1
    return {label: c.most_common(1)[0][0] for label, c in counts.items() if c}


def choose_labels(task: Any, docs: List[Doc], explicit: Optional[str]) -> List[str]:
    """Settle the label set of a built proposal task and say where it came from.

    Given (``--labels`` or its config path): kept, and the example pool
    must not use other labels. Else the labels of IN's human annotation and
    of the example pool; if neither has any, the config's. Labels without a
    definition are named; for the single-query format, labels without an
    example entity for the answer-format example get one from the data.

    task (EntityProposalTask): The built task; its labels (and the
        single-query prompt's example mentions) are set.
    docs (List[Doc]): The input.
    explicit (Optional[str]): The option that gave the labels, if any.
    RETURNS (List[str]): The labels.
    """
    from wasabi import msg

    from .prompts import SingleQueryPrompt

    configured = list(task.labels)
    retriever = task.examples
    has_pool = retriever is not None and retriever.k > 0 and retriever.pool_source is not None
    pool = retriever.pool if has_pool else []
    pool_name = str(retriever.pool_source) if has_pool else None
    input_counts, pool_counts = label_counts(docs), label_counts(pool)
    if explicit is not None:
        labels, source = configured, explicit
        check_example_labels(pool_counts, labels, pool_name)
    elif input_counts or pool_counts:
        labels = order_labels(set(input_counts) | set(pool_counts), configured)
        source = " and ".join(
            name
            for name, counts in (
                ("the human annotation of the input", input_counts),
                (f"the example pool {pool_name}", pool_counts),
            )
            if counts
        )
    else:
        labels, source = configured, "the config (no entity in the input or the example pool)"
    task.set_labels(labels, f"the labels from {source}")
    msg.info(f"Labels: {', '.join(labels)} (from {source})")
    left_out = [label for label in configured if label not in labels]
    if explicit is None and left_out:
        msg.info(
            f"Not asked for: {', '.join(left_out)} (in the config, not in the data); "
            "give --labels to ask for them"
        )
    undefined = [label for label in labels if not task.definitions.get(label)]
    if undefined:
        msg.info(
            f'No definition for {", ".join(undefined)}: the prompt says "entities of type <label>" '
            "(give --label-definitions FILE)"
        )
    unused = sorted(set(task.label_definitions) - set(labels))
    if unused:
        msg.warn(
            f"Label definitions for labels not in the label set are not used: {', '.join(unused)}"
        )
    prompt = task.prompt
    if isinstance(prompt, SingleQueryPrompt):
        mentions = prompt.example_mentions
        if sum(1 for label in labels if mentions.get(label)) < min(2, len(labels)):
            missing = [label for label in labels if not mentions.get(label)]
            mentions.update(example_mentions([*pool, *docs], missing))
    return labels
