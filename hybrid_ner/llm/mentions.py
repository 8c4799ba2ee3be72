"""Mentions in LLM answers: the result types, and finding a mention in the
sentence (:mod:`hybrid_ner.llm.parsing` parses the answer formats).

Pure functions over strings; the reasons a mention is dropped are listed in
:mod:`hybrid_ner.llm.parsing`.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

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
    text = (response or "").strip()
    match = _CONTINUATION.search(text)
    if match:
        text = text[: match.start()]
    text = re.sub(r"^\s*(?:Output|Answer)\s*:\s*", "", text, flags=re.I)
    return text.strip()


def normalise(text: str, case_sensitive: bool) -> Tuple[str, List[int]]:
    """Remove whitespace (and case); return the result and each char's origin."""
    chars, origin = [], []
    for i, char in enumerate(text):
        if not char.isspace():
            chars.append(char if case_sensitive else char.lower())
            origin.append(i)
    return "".join(chars), origin


def _in_word(a: str, b: str) -> bool:
    """Whether two adjacent characters belong to one word. Scripts written
    without spaces (CJK and beyond, from U+2E80) have no word boundaries to
    respect."""
    return a.isalnum() and b.isalnum() and ord(a) < 0x2E80 and ord(b) < 0x2E80


def _at_word_boundary(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not _in_word(before, text[start]) and not _in_word(text[end - 1], after)


def find_mention(
    text: str,
    mention: str,
    *,
    case_sensitive: bool = False,
    near: Optional[int] = None,
    all_matches: bool = False,
) -> List[Tuple[int, int]]:
    """Find a mention in a sentence, ignoring whitespace (and case) differences.

    LLMs rejoin tokens ("Germany's" for "Germany 's") and change case, so the
    search runs on whitespace-free text. Only matches at word boundaries
    count: "Ira" is never found inside "Iran" (an entity the LLM did not
    name), and a mention nowhere whole in the sentence is not found.

    text (str): The sentence.
    mention (str): The string the LLM returned.
    case_sensitive (bool): Whether case must match.
    near (Optional[int]): Character offset the mention should be near: the
        closest match is returned (the right one of repeated mentions).
    all_matches (bool): Return every match instead of one.
    RETURNS (List[Tuple[int, int]]): Character spans in ``text``; empty if none.
    """
    norm_text, origin = normalise(text, case_sensitive)
    norm_mention, _ = normalise(mention, case_sensitive)
    if not norm_mention:
        return []
    matches = []
    position = norm_text.find(norm_mention)
    while position != -1:
        start = origin[position]
        end = origin[position + len(norm_mention) - 1] + 1
        matches.append((start, end))
        position = norm_text.find(norm_mention, position + 1)
    matches = [m for m in matches if _at_word_boundary(text, *m)]
    if all_matches or not matches:
        return matches
    if near is None:
        return matches[:1]
    return [min(matches, key=lambda m: (abs(m[0] - near), m[0]))]
