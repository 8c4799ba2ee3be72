"""The label set of a proposal run: ``--labels``, else the input's and the example pool's,
else the config's; the config's order first (the same prompts as always), then A-Z."""

import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import srsly
from spacy.tokens import Doc
from wasabi import msg

from ..errors import HybridNerError, OptionError

#: What the answer parser reads as a label (``parsing.LINE_PATTERN``).
LABEL_PATTERN = re.compile(r"[A-Za-z](?:[A-Za-z_-]| (?! )){0,30}")


def label_counts(docs: Iterable[Doc]) -> Counter:
    """Entities per label in ``doc.ents``."""
    return Counter(ent.label_ for doc in docs for ent in doc.ents)


def label_key(label: str) -> str:
    """How a label is matched in answers: case and spaces vs ``_`` ignored."""
    return "_".join(label.split()).upper()


def parse_labels(value: Union[str, Iterable[Any]], option: str = "--labels") -> List[str]:
    """``"a,b, c"`` (as spaCy's NER tasks read it) or a sequence → checked unique labels."""
    parts = value.split(",") if isinstance(value, str) else map(str, value)
    labels = list(dict.fromkeys(part.strip() for part in parts if part.strip()))
    if not labels:
        raise OptionError(f"{option}: no label given, e.g. {option} person,location,product")
    return check_labels(labels, option)


def check_labels(labels: Sequence[str], where: str = "labels") -> List[str]:
    """Refuse labels the parser could never match or that differ only in case or spacing."""
    seen: Dict[str, str] = {}
    for label in labels:
        if not LABEL_PATTERN.fullmatch(label):
            ascii_only = re.sub(r"[^A-Za-z_ -]+", "_", label).strip("_ -")
            suggestion = "_".join(ascii_only.split())[:31].rstrip("_-")
            suggestion = suggestion if suggestion[:1].isalpha() else "LABEL"
            raise OptionError(
                f"{where}: label {label!r} can never be read back from an answer: a label is "
                "an ASCII letter followed by ASCII letters, '_', '-' or single spaces, at most "
                f"31 characters in all (e.g. {suggestion!r})"
            )
        key = label_key(label)
        if key in seen:
            raise OptionError(
                f"{where}: labels {seen[key]!r} and {label!r} differ only in case or spacing: "
                "answers cannot tell them apart; keep one"
            )
        seen[key] = label
    return list(labels)


def read_label_definitions(path: Union[str, Path]) -> Dict[str, str]:
    """Label → definition from a JSON or YAML (``.yml``/``.yaml``) file."""
    path = Path(path)
    if not path.is_file():
        raise HybridNerError(f"{path}: label definitions file not found")
    yaml = path.suffix.lower() in (".yml", ".yaml")
    try:
        data = srsly.read_yaml(path) if yaml else srsly.read_json(path)
    except Exception as err:  # JSON and YAML parsers raise their own types
        first = (str(err).strip() or type(err).__name__).splitlines()[0]
        raise HybridNerError(f"{path}: not valid {'YAML' if yaml else 'JSON'} ({first})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise HybridNerError(
            f"{path}: expected a mapping of label to definition, e.g. "
            '{"person": "names of people"}'
        )
    return {key.strip(): " ".join(value.split()) for key, value in data.items()}


def check_example_labels(
    pool_counts: Mapping[str, int], labels: Sequence[str], pool: Optional[str]
) -> None:
    """Refuse example labels outside the label set (shown as no entity: they teach "none")."""
    lacking = {label: n for label, n in sorted(pool_counts.items()) if label not in labels}
    if lacking:
        listing = ", ".join(f"{label} ({n} entities)" for label, n in lacking.items())
        raise OptionError(
            f"{pool or 'the example pool'}: its examples use labels the label set "
            f"({', '.join(labels)}) lacks: {listing}; add them to --labels, or use an example "
            "pool (--examples) annotated with these labels"
        )


def example_mentions(docs: Iterable[Doc], labels: Sequence[str]) -> Dict[str, str]:
    """The most frequent entity text of each label, for the answer-format example."""
    counts: Dict[str, Counter] = {label: Counter() for label in labels}
    for doc in docs:
        for ent in doc.ents:
            if ent.label_ in counts and "\n" not in ent.text and '"' not in ent.text:
                counts[ent.label_][ent.text] += 1
    return {label: c.most_common(1)[0][0] for label, c in counts.items() if c}


def choose_labels(task: Any, docs: List[Doc], explicit: Optional[str]) -> List[str]:
    """Set and report a task's labels from ``docs`` (``explicit``: the option that gave them)."""
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
        found = set(input_counts) | set(pool_counts)
        labels = [label for label in configured if label in found] + sorted(found - {*configured})
        sources = [("the human annotation of the input", input_counts)]
        sources.append((f"the example pool {pool_name}", pool_counts))
        source = " and ".join(name for name, counts in sources if counts)
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
    if undefined := [label for label in labels if not task.definitions.get(label)]:
        msg.info(
            f'No definition for {", ".join(undefined)}: the prompt says "entities of type <label>" '
            "(give --label-definitions FILE)"
        )
    if unused := sorted(set(task.label_definitions) - set(labels)):
        msg.warn(
            f"Label definitions for labels not in the label set are not used: {', '.join(unused)}"
        )
    if isinstance(task.prompt, SingleQueryPrompt):
        mentions = task.prompt.example_mentions
        if sum(1 for label in labels if mentions.get(label)) < min(2, len(labels)):
            missing = [label for label in labels if not mentions.get(label)]
            mentions.update(example_mentions([*pool, *docs], missing))
    return labels
