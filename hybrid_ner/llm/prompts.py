"""Prompt formats: how a sentence and its examples become a prompt and the answer is read."""

from typing import Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, runtime_checkable

from spacy.tokens import Doc
from spacy_llm.registry import registry

from .parsing import CLOSE, OPEN, ParseResult, parse_lines, parse_marked

#: Label definitions for the CoNLL-2003 / WikiGold label set.
DEFAULT_DEFINITIONS: Dict[str, str] = {
    "PER": "names of people, including first names, surnames and fictional characters",
    "ORG": (
        "names of organisations: companies, institutions, government bodies, political "
        "parties, sports teams, bands and clubs"
    ),
    "LOC": (
        "names of locations: countries, cities, states, regions, continents, rivers, "
        "mountains and other geographical or political places"
    ),
    "MISC": (
        "other proper names: nationalities, languages, events, works of art, products, "
        "titles, and adjectives or words derived from names (e.g. German, Olympic)"
    ),
}
#: Other names LLMs use for these labels.
DEFAULT_ALIASES: Dict[str, str] = {
    "PERSON": "PER",
    "PEOPLE": "PER",
    "ORGANIZATION": "ORG",
    "ORGANISATION": "ORG",
    "LOCATION": "LOC",
    "PLACE": "LOC",
    "GPE": "LOC",
    "MISCELLANEOUS": "MISC",
    "OTHER": "MISC",
}

PER_TYPE_INSTRUCTIONS = (
    "You are an excellent linguist. The task is to label {label} entities in the given "
    "sentence. {label} entities are {definition}.\n"
    "Copy the sentence exactly and surround every {label} entity with @@ and ##, like "
    "@@entity##. Change nothing else. If the sentence has no {label} entity, copy it unchanged."
)
SINGLE_QUERY_INSTRUCTIONS = (
    "You are an excellent linguist. The task is to find the named entities in the given "
    "sentence and give the type of each.\nEntity types:\n{definitions}\n"
    "Write one line per entity: its type, a colon and the entity copied exactly from the "
    "sentence, e.g. {format_example}, in order of appearance. If the sentence "
    'has no entity, answer "None".'
)
#: Entities of the single-query answer-format example (the first two labels with one).
DEFAULT_EXAMPLE_MENTIONS: Dict[str, str] = {"PER": "John Smith", "LOC": "Paris"}
#: Stands in for the entity of a label without an example mention.
PLACEHOLDER_MENTION = "..."


@runtime_checkable
class PromptFormat(Protocol):
    """Queries per sentence (a label, or None: all), prompts, parsing, a typical answer."""

    def queries(self, labels: Sequence[str]) -> List[Optional[str]]: ...

    def render(
        self,
        text: str,
        examples: Sequence[Doc],
        labels: Sequence[str],
        definitions: Mapping[str, str],
        query: Optional[str],
    ) -> str: ...

    def parse(
        self, text: str, response: str, labels: Sequence[str], query: Optional[str]
    ) -> ParseResult: ...

    def expected_answer(self, text: str, n_labels: int) -> str: ...


def _prompt(head: str, pairs: Sequence[Tuple[str, str]], text: str) -> str:
    """Instructions, examples (multi-line answers after "Output:") and the sentence."""
    body = "\n\n".join(
        f"Input: {source}\nOutput:{'' if target.startswith(chr(10)) else ' '}{target}"
        for source, target in pairs
    )
    examples = f"\n\nBelow are some examples.\n\n{body}" if pairs else ""
    return f"{head}{examples}\n\nInput: {text}\nOutput:"


def _definition(label: str, definitions: Mapping[str, str]) -> str:
    return definitions.get(label) or f"entities of type {label}"


def format_example(labels: Sequence[str], mentions: Mapping[str, str]) -> str:
    """``"L1: m1" or "L2: m2"`` for the first two labels with an example mention."""
    shown = [(label, mentions[label]) for label in labels if mentions.get(label)][:2]
    shown = shown or [(label, PLACEHOLDER_MENTION) for label in labels[:2]]
    return " or ".join(f'"{label}: {mention}"' for label, mention in shown)


def mark_entities(doc: Doc, label: str) -> str:
    """The sentence with ``@@entity##`` around its ``label`` entities."""
    pieces, cursor = [], 0
    for ent in doc.ents:
        if ent.label_ == label:
            pieces += [doc.text[cursor : ent.start_char], f"{OPEN}{ent.text}{CLOSE}"]
            cursor = ent.end_char
    return "".join(pieces) + doc.text[cursor:]


class PerTypePrompt:
    """GPT-NER: one query per label, answer = sentence with ``@@entity##``."""

    def __init__(
        self, instructions: str = PER_TYPE_INSTRUCTIONS, case_sensitive: bool = False
    ) -> None:
        self.instructions = instructions
        self.case_sensitive = case_sensitive

    def queries(self, labels: Sequence[str]) -> List[Optional[str]]:
        return list(labels)

    def render(
        self,
        text: str,
        examples: Sequence[Doc],
        labels: Sequence[str],
        definitions: Mapping[str, str],
        query: Optional[str],
    ) -> str:
        assert query is not None, "per-type prompts need a label"
        head = self.instructions.format(label=query, definition=_definition(query, definitions))
        return _prompt(head, [(ex.text, mark_entities(ex, query)) for ex in examples], text)

    def parse(
        self, text: str, response: str, labels: Sequence[str], query: Optional[str]
    ) -> ParseResult:
        assert query is not None
        return parse_marked(text, response, query, case_sensitive=self.case_sensitive)

    def expected_answer(self, text: str, n_labels: int) -> str:
        return text + " @@##"


class SingleQueryPrompt:
    """One query for all labels, answer = one ``TYPE: entity`` per line.

    instructions (str): Instruction text with ``{definitions}`` and ``{format_example}``.
    aliases (Mapping[str, str]): Other label names the parser accepts.
    case_sensitive (bool): Whether mentions must match the text's case.
    example_mentions (Mapping[str, str]): An entity per label for :func:`format_example`.
    """

    def __init__(
        self,
        instructions: str = SINGLE_QUERY_INSTRUCTIONS,
        aliases: Mapping[str, str] = DEFAULT_ALIASES,
        case_sensitive: bool = False,
        example_mentions: Mapping[str, str] = DEFAULT_EXAMPLE_MENTIONS,
    ) -> None:
        self.instructions = instructions
        self.aliases = dict(aliases)
        self.case_sensitive = case_sensitive
        self.example_mentions = dict(example_mentions)

    def queries(self, labels: Sequence[str]) -> List[Optional[str]]:
        return [None]

    def render(
        self,
        text: str,
        examples: Sequence[Doc],
        labels: Sequence[str],
        definitions: Mapping[str, str],
        query: Optional[str],
    ) -> str:
        listing = "\n".join(f"- {label}: {_definition(label, definitions)}" for label in labels)
        example = format_example(labels, self.example_mentions)
        head = self.instructions.format(definitions=listing, format_example=example)
        return _prompt(head, [(ex.text, self.answer_for(ex, labels)) for ex in examples], text)

    @staticmethod
    def answer_for(doc: Doc, labels: Sequence[str]) -> str:
        """The ideal answer for an example's entities."""
        lines = [f"{ent.label_}: {ent.text}" for ent in doc.ents if ent.label_ in labels]
        return "\n" + "\n".join(lines) if lines else "None"

    def parse(
        self, text: str, response: str, labels: Sequence[str], query: Optional[str]
    ) -> ParseResult:
        return parse_lines(
            text, response, labels, aliases=self.aliases, case_sensitive=self.case_sensitive
        )

    def expected_answer(self, text: str, n_labels: int) -> str:
        # About one entity per 8 words, each "LABEL: two words".
        return "\n".join(["LABEL: entity text"] * max(1, len(text.split()) // 8))


create_per_type_prompt = registry.llm_misc("hybrid_ner.PerTypePrompt.v1")(PerTypePrompt)
create_single_query_prompt = registry.llm_misc("hybrid_ner.SingleQueryPrompt.v1")(SingleQueryPrompt)
