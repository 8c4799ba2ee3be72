from hybrid_ner.llm.parsing import Mention, cut_answer, find_mention, parse_lines, parse_marked

LABELS = ["PER", "ORG", "LOC", "MISC"]


def spans(text, result):
    return [(text[m.start : m.end], m.label) for m in result.mentions]


def test_marked_basic_and_right_occurrence():
    text = "Jordan beat Jordan 's team in Jordan ."
    # The LLM marks the second "Jordan" only: that occurrence, not the first.
    result = parse_marked(text, "Jordan beat @@Jordan## 's team in Jordan .", "PER")
    assert result.mentions == [Mention(12, 18, "PER")]
    assert not result.dropped


def test_marked_case_whitespace_and_rejoined_tokens():
    text = "He visited New York and Germany 's capital ."
    answer = "Output: He visited @@new  york## and @@Germany's## capital."
    result = parse_marked(text, answer, "LOC")
    assert spans(text, result) == [("New York", "LOC"), ("Germany 's", "LOC")]


def test_marked_changed_sentence_still_finds_mentions_and_counts_invented_ones():
    text = "Siemens opened a plant in Berlin ."
    answer = "The firm @@Siemens## built a factory in @@Berlin## near @@Potsdam##."
    result = parse_marked(text, answer, "LOC")
    assert spans(text, result) == [("Siemens", "LOC"), ("Berlin", "LOC")]
    assert result.dropped == {"not_in_text": 1}
    assert result.n_items == 3


def test_marked_nested_unbalanced_and_empty():
    text = "Bank of England staff met in London ."
    nested = parse_marked(text, "@@Bank of @@England## ## staff met in London .", "ORG")
    assert sorted(spans(text, nested)) == [("Bank of England", "ORG"), ("England", "ORG")]
    unbalanced = parse_marked(text, "@@Bank of England staff met in London## .## @@", "ORG")
    assert unbalanced.dropped["unbalanced_marker"] == 2
    assert spans(text, unbalanced) == [("Bank of England staff met in London", "ORG")]
    empty = parse_marked(text, "@@## Bank of England staff met in London .", "ORG")
    assert empty.mentions == [] and empty.dropped == {"empty": 1}


def test_marked_garbage_and_invented_continuation():
    text = "Paris is nice ."
    assert parse_marked(text, "", "LOC").mentions == []
    assert parse_marked(text, "¯\\_(ツ)_/¯ ####", "LOC").dropped["unbalanced_marker"] == 2
    answer = "@@Paris## is nice .\nInput: Rome is nice .\nOutput: @@Rome## is nice ."
    assert spans(text, parse_marked(text, answer, "LOC")) == [("Paris", "LOC")]


def test_marked_answer_that_repeats_examples_first():
    text = "Caloi made bicycles in Brazil ."
    answer = (
        "Teams from outside @@Montreal## travelled .\n\nThe AHAC met .\n"
        "@@Caloi## made bicycles in Brazil ."
    )
    result = parse_marked(text, answer, "ORG")
    assert spans(text, result) == [("Caloi", "ORG")] and not result.dropped


def test_lines_format_variants():
    text = "Angela Merkel met Emmanuel Macron in Paris ."
    answer = "- PERSON: Angela Merkel\n2. per | emmanuel macron\nLOC: Paris\nLOC: Paris\nGPE: Paris"
    result = parse_lines(text, answer, LABELS, aliases={"PERSON": "PER", "GPE": "LOC"})
    assert spans(text, result) == [
        ("Angela Merkel", "PER"),
        ("Emmanuel Macron", "PER"),
        ("Paris", "LOC"),
    ]
    assert result.dropped == {"duplicate": 2}


def test_lines_drops_are_counted_by_reason():
    text = "Siemens opened a plant in Berlin ."
    answer = "ORG: Siemens\nCITY: Berlin\nLOC: Munich\nLOC:\nthis is not a line\nNone"
    result = parse_lines(text, answer, LABELS)
    assert spans(text, result) == [("Siemens", "ORG")]
    assert result.dropped == {"unknown_label": 1, "not_in_text": 1, "empty": 1, "garbage": 1}


def test_lines_comma_separated_and_repeated_mentions():
    text = "Paris and Rome and Paris again ."
    result = parse_lines(text, "LOC: Paris, Rome, Oslo", LABELS)
    # The format cannot say which "Paris": both occurrences are proposed.
    assert {(m.start, m.end) for m in result.mentions} == {(0, 5), (19, 24), (10, 14)}
    assert result.dropped == {"not_in_text": 1}


def test_lines_several_items_on_one_line():
    text = "Citrone met Smith in Paris ."
    result = parse_lines(text, "PER: Citrone, PER: Smith; LOC: Paris, MISC: None", LABELS)
    assert spans(text, result) == [("Citrone", "PER"), ("Smith", "PER"), ("Paris", "LOC")]
    assert result.dropped == {"empty": 1}


def test_lines_json_answers():
    text = "Siemens opened a plant in Berlin ."
    fenced = (
        '```json\n[{"text": "Siemens", "label": "ORG"}, {"text": "Berlin", "type": "LOC"}, 3]\n```'
    )
    result = parse_lines(text, fenced, LABELS)
    assert spans(text, result) == [("Siemens", "ORG"), ("Berlin", "LOC")]
    assert result.dropped == {"empty": 1}
    by_label = parse_lines(text, '{"ORG": ["Siemens"], "LOC": []}', LABELS)
    assert spans(text, by_label) == [("Siemens", "ORG")]


def test_none_answers_are_not_drops():
    for answer in ("None", "none.", "Output: None", "[]", "\n\n"):
        result = parse_lines("It rained .", answer, LABELS)
        assert result.mentions == [] and not result.dropped, answer


def test_find_mention_prefers_word_boundaries():
    assert find_mention("Iran and Ira met .", "Ira") == [(9, 12)]
    assert find_mention("Germany 's exports", "Germany's") == [(0, 10)]


def test_a_mention_inside_a_word_is_never_found():
    """Issue 23: "PER: Ira" became PER on "Iran" and "Iraq" (the match was
    expanded to the whole token)."""
    assert find_mention("Iran and Iraq", "Ira") == []
    assert find_mention("Iranian oil", "Iran") == []
    result = parse_lines("Talks in Iran and Iraq .", "PER: Ira", LABELS)
    assert result.mentions == [] and result.dropped == {"not_in_text": 1}
    assert find_mention("a b a", "a", near=4) == [(4, 5)]
    assert find_mention("x", "   ") == []


def test_cut_answer():
    assert cut_answer("Output: PER: A\nInput: x\nOutput: y") == "PER: A"
