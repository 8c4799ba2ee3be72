"""Raw LLM answers to character-offset mentions, counting drops by reason."""

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .labels import label_key

OPEN, CLOSE = "@@", "##"
#: Answers that mean "no entity" in the line format.
NONE_ANSWERS = {"none", "no entities", "no entity", "n/a", "-", "[]", "nothing", "empty"}
LINE_PATTERN = re.compile(
    r"^\s*(?:[-*•]\s*|\d+[.)]\s*)?([A-Za-z][A-Za-z_ -]{0,30}?)\s*[:|=]\s*(.*?)\s*$"
)
ITEM_SPLIT = re.compile(r"[,;]\s*(?=[A-Za-z][A-Za-z_-]{1,30}\s*:)")
FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
# A following "Input:" means the model went on inventing examples.
_CONTINUATION = re.compile(r"\n\s*(?:Input|Sentence|Text)\s*:", re.I)


@dataclass(frozen=True)
class Mention:
    """A proposed entity as a character span of the sentence."""

    start: int
    end: int
    label: str


@dataclass
class ParseResult:
    """Mentions found in one answer and the items dropped, by reason."""

    mentions: List[Mention] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    n_items: int = 0  # entity-like items the answer contained

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n


def cut_answer(response: str) -> str:
    """Strip an ``Output:`` prefix and anything after an invented next example."""
    text = _CONTINUATION.split((response or "").strip(), maxsplit=1)[0]
    text = re.sub(r"^\s*(?:Output|Answer)\s*:\s*", "", text, flags=re.I)
    return text.strip()


def normalise(text: str, case_sensitive: bool) -> Tuple[str, List[int]]:
    """Remove whitespace (and case); return the result and each char's origin."""
    origin = [i for i, char in enumerate(text) if not char.isspace()]
    return "".join(text[i] if case_sensitive else text[i].lower() for i in origin), origin


def _at_word_boundary(text: str, start: int, end: int) -> bool:
    """Whether a span cuts no word (CJK and later scripts, from U+2E80, have no spaces)."""
    padded = f" {text} "
    pairs = (padded[start : start + 2], padded[end : end + 2])
    return not any(p.isalnum() and max(map(ord, p)) < 0x2E80 for p in pairs)


def find_mention(
    text: str,
    mention: str,
    *,
    case_sensitive: bool = False,
    near: Optional[int] = None,
    all_matches: bool = False,
) -> List[Tuple[int, int]]:
    """Spans of a mention at word boundaries, ignoring whitespace (LLMs rejoin "Germany 's")
    and case: the first, the closest to ``near``, or ``all_matches``."""
    norm_text, origin = normalise(text, case_sensitive)
    norm_mention, _ = normalise(mention, case_sensitive)
    if not norm_mention:
        return []
    starts = [m.start() for m in re.finditer(f"(?={re.escape(norm_mention)})", norm_text)]
    spans = [(origin[i], origin[i + len(norm_mention) - 1] + 1) for i in starts]
    matches = [span for span in spans if _at_word_boundary(text, *span)]
    if all_matches or not matches:
        return matches
    if near is None:
        return matches[:1]
    return [min(matches, key=lambda m: (abs(m[0] - near), m[0]))]


def parse_marked(
    text: str, response: str, label: str, *, case_sensitive: bool = False
) -> ParseResult:
    """Parse a GPT-NER answer (``@@entity##``), each at the occurrence nearest its mark."""
    result = ParseResult()
    answer = _rewritten_line(text, cut_answer(response), case_sensitive)
    clean, stack, spans = [], [], []  # type: ignore[var-annotated]
    i = 0
    while i < len(answer):
        if answer.startswith(OPEN, i):
            stack.append(len(clean))
            i += len(OPEN)
        elif answer.startswith(CLOSE, i):
            if stack:
                spans.append((stack.pop(), len(clean)))
            else:
                result.drop("unbalanced_marker")
            i += len(CLOSE)
        else:
            clean.append(answer[i])
            i += 1
    if stack:
        result.drop("unbalanced_marker", len(stack))
    result.n_items = len(spans) + result.dropped["unbalanced_marker"]
    clean_text = "".join(clean)
    to_original = _char_map(clean_text, text, case_sensitive)
    for start, end in sorted(spans):
        mention = clean_text[start:end].strip()
        if not mention:
            result.drop("empty")
            continue
        hint = _mapped(to_original, start)
        found = find_mention(text, mention, case_sensitive=case_sensitive, near=hint)
        if not found:
            result.drop("not_in_text")
            continue
        result.mentions.append(Mention(found[0][0], found[0][1], label))
    return _dedupe(result)


def _rewritten_line(text: str, answer: str, case_sensitive: bool) -> str:
    """The answer line closest to the sentence (small models may repeat the examples)."""
    lines = [line for line in answer.splitlines() if line.strip()]

    def similarity(line: str) -> float:
        plain = line.replace(OPEN, "").replace(CLOSE, "")
        a, b = (plain, text) if case_sensitive else (plain.lower(), text.lower())
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()

    return max(lines, key=similarity, default="")


def _char_map(source: str, target: str, case_sensitive: bool) -> Dict[int, int]:
    """Map positions of ``source`` to ``target`` where the two agree (difflib)."""
    a, b = (source, target) if case_sensitive else (source.lower(), target.lower())
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return {m.a + k: m.b + k for m in matcher.get_matching_blocks() for k in range(m.size)}


def _mapped(mapping: Mapping[int, int], position: int) -> Optional[int]:
    """The target position of ``position`` or of the nearest aligned char."""
    for distance in range(0, 200):
        for candidate in (position + distance, position - distance):
            if candidate in mapping:
                return mapping[candidate] - (candidate - position)
    return None


def parse_lines(
    text: str,
    response: str,
    labels: Sequence[str],
    *,
    aliases: Optional[Mapping[str, str]] = None,
    case_sensitive: bool = False,
) -> ParseResult:
    """Parse ``LABEL: mention`` lines (or JSON, bullets, ``|``, ``=``); every occurrence is
    marked (the format cannot say which). ``aliases``: "PERSON" → "PER"."""
    answer = cut_answer(response)
    items = _json_items(answer)
    result = ParseResult()
    if items is None:
        items = []
        # Several items on one line ("PER: A, LOC: B") are split at each "LABEL:".
        segments = [part for line in answer.splitlines() for part in ITEM_SPLIT.split(line)]
        for line in segments:
            if not line.strip() or line.strip().lower().strip(".") in NONE_ANSWERS:
                continue
            match = LINE_PATTERN.match(line)
            if not match:
                result.drop("garbage")
                continue
            items.append((match.group(1), match.group(2)))
    find = partial(find_mention, text, case_sensitive=case_sensitive, all_matches=True)
    label_of = {label_key(label): label for label in labels}
    for alias, label in (aliases or {}).items():
        if label in labels:
            label_of.setdefault(label_key(alias), label)
    for raw_label, mention in items:
        result.n_items += 1
        mention = mention.strip().strip("\"'`").strip()
        if not mention or mention.lower().strip(".") in NONE_ANSWERS:
            result.drop("empty")
            continue
        label = label_of.get(label_key(raw_label))
        if label is None:
            result.drop("unknown_label")
            continue
        parts = [mention]
        if "," in mention and not find(mention):  # "PER: Anna, Ben"
            parts = [p.strip() for p in mention.split(",") if p.strip()]
            result.n_items += len(parts) - 1
        for part in parts:
            found = find(part)
            if not found:
                result.drop("not_in_text")
            result.mentions.extend(Mention(s, e, label) for s, e in found)
    return _dedupe(result)


def _json_items(answer: str) -> Optional[List[Tuple[str, str]]]:
    """(label, mention) pairs from a JSON answer, or None if it is not JSON."""
    fenced = FENCE.search(answer)
    candidate = fenced.group(1) if fenced else answer
    start = min((i for i in (candidate.find("["), candidate.find("{")) if i != -1), default=-1)
    if start == -1 or (not fenced and not candidate.lstrip().startswith(("[", "{"))):
        return None
    try:
        data = json.loads(candidate[start:])
    except ValueError:
        return None
    if isinstance(data, dict):
        # {"entities": [...]} or {"PER": ["a", "b"], "LOC": [...]}
        data = data.get("entities", data)
    pairs: List[Tuple[str, str]] = []
    if isinstance(data, dict):
        for label, mentions in data.items():
            for mention in mentions if isinstance(mentions, list) else [mentions]:
                pairs.append((str(label), str(mention)))
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                mention = item.get("text", item.get("entity", item.get("mention", "")))
                label = item.get("label", item.get("type", ""))
                pairs.append((str(label), str(mention)))
            else:
                pairs.append(("", ""))  # counted as empty
    return pairs


def _dedupe(result: ParseResult) -> ParseResult:
    kept = list(dict.fromkeys(result.mentions))
    if len(kept) < len(result.mentions):
        result.drop("duplicate", len(result.mentions) - len(kept))
    result.mentions = kept
    return result
