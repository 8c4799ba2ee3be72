"""Issue 23: the README's "own data" steps on WNUT-style data (CoNLL column
files without ``-DOCSTART-``, labels given by flag). Each file used to be one
document, so few-shot retrieval (never the query's own document) left every
prompt without examples, the model answered "None" to all, and ``propose``
reported "0 proposals (none)" as success.

Now each sentence is its own document: every prompt has its k examples (the
dev set is its own pool, the sentence itself excluded), the proposals are
there, and a run without any proposal exits 1 unless ``--allow-empty``."""

import spacy

from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.layers import DOC_ID, LLM_KEY
from scripts.fake_openai_server import FaultServer, chat, propose_options

from .robustness_helpers import assert_outcome, run_cli

LABELS = "person,location,corporation,product,creative-work,group"
K = 2

SENTENCES = [
    [("Ana", "B-person"), ("loves", "O"), ("her", "O"), ("Pixel", "B-product"), ("8", "I-product")],
    [("Google", "B-corporation"), ("opened", "O"), ("in", "O"), ("Lisbon", "B-location")],
    [("Watching", "O"), ("Dune", "B-creative-work"), ("with", "O"), ("Ben", "B-person")],
    [("The", "O"), ("Beatles", "B-group"), ("played", "O"), ("Berlin", "B-location")],
    [
        ("Bought", "O"),
        ("an", "O"),
        ("iPhone", "B-product"),
        ("from", "O"),
        ("Apple", "B-corporation"),
    ],
    [("Maria", "B-person"), ("moved", "O"), ("to", "O"), ("Porto", "B-location")],
    [("Netflix", "B-corporation"), ("cancelled", "O"), ("Firefly", "B-creative-work")],
    [("Radiohead", "B-group"), ("tour", "O"), ("in", "O"), ("Madrid", "B-location")],
]


def _conll(path, sentences):
    """A WNUT-style file: token TAB tag, blank line between sentences, no -DOCSTART-."""
    path.write_text(
        "".join("".join(f"{w}\t{t}\n" for w, t in s) + "\n" for s in sentences), encoding="utf-8"
    )
    return path


def _gold_lines(sentences):
    """sentence text → the gold entities as "label: text" lines."""
    answers = {}
    for sentence in sentences:
        words = [w for w, _ in sentence]
        lines, current = [], None
        for word, tag in sentence:
            if tag.startswith("B-"):
                current = [tag[2:], [word]]
                lines.append(current)
            elif tag.startswith("I-") and current is not None:
                current[1].append(word)
            else:
                current = None
        answers[" ".join(words)] = "\n".join(f"{label}: {' '.join(ws)}" for label, ws in lines)
    return answers


def _query(prompt):
    return prompt.rsplit("Input: ", 1)[-1].rsplit("\nOutput:", 1)[0]


def test_column_files_without_docstart_get_examples_and_proposals(tmp_path, capsys):
    train = _conll(tmp_path / "train.conll", SENTENCES[:4])
    dev = _conll(tmp_path / "dev.conll", SENTENCES[4:])
    for name, path in (("train", train), ("dev", dev)):
        result = run_cli(capsys, ["convert", path, tmp_path / f"{name}.spacy"])
        assert result.code == 0, result.err
        assert "its own document" in " ".join(result.out.split())
    gold = _gold_lines(SENTENCES)
    prompts = []

    def answer(payload):
        prompt = payload["messages"][-1]["content"]
        prompts.append(prompt)
        return chat(gold.get(_query(prompt)) or "None")

    with FaultServer(answer) as server:
        for part in ("train", "dev"):  # the README's loop: the dev set is its own pool
            result = run_cli(
                capsys,
                [
                    "propose",
                    tmp_path / f"{part}.spacy",
                    tmp_path / f"{part}_llm.spacy",
                    "--labels",
                    LABELS,
                    "--examples",
                    tmp_path / "dev.spacy",
                    "--k",
                    K,
                    *propose_options(server, tmp_path / "cache.sqlite"),
                ],
            )
            assert result.code == 0, result.out + result.err
            assert "few-shot examples asked for" not in result.out
    assert len(prompts) == len(SENTENCES)
    for prompt in prompts:  # k examples and the query
        assert prompt.count("Input: ") == K + 1, prompt
        assert _query(prompt) not in prompt.split("Input: ", 1)[1].rsplit("Input: ", 1)[0]
    for part, n in (("train", 4), ("dev", 4)):
        docs = read_docbin(tmp_path / f"{part}_llm.spacy", spacy.blank("en").vocab)
        assert len(docs) == n and sum(len(doc.spans[LLM_KEY]) for doc in docs) >= n


def test_a_file_converted_as_one_document_still_gets_examples(tmp_path, capsys):
    """A DocBin from the old convert: one document key for the whole file.
    Excluding the query's document would leave no example: only the
    sentence itself is excluded."""
    dev = _conll(tmp_path / "dev.conll", SENTENCES)
    run_cli(capsys, ["convert", dev, tmp_path / "dev.spacy"])
    docs = read_docbin(tmp_path / "dev.spacy", spacy.blank("en").vocab)
    for doc in docs:
        doc.user_data[DOC_ID] = "dev:0"
    write_docbin(tmp_path / "dev.spacy", docs)
    prompts = []

    def answer(payload):
        prompts.append(payload["messages"][-1]["content"])
        return chat("person: Ana")

    with FaultServer(answer) as server:
        result = run_cli(
            capsys,
            [
                "propose",
                tmp_path / "dev.spacy",
                tmp_path / "dev_llm.spacy",
                "--labels",
                LABELS,
                "--examples",
                tmp_path / "dev.spacy",
                "--k",
                K,
                *propose_options(server, tmp_path / "cache.sqlite"),
                "--limit",
                3,
            ],
        )
    assert result.code == 0, result.err
    assert prompts and all(p.count("Input: ") == K + 1 for p in prompts)


def test_zero_proposals_is_not_success(tmp_path, capsys):
    """ "✔ Wrote 150 sentences … 0 proposals (none)" with exit 0: now exit 1,
    nothing written, the likely cause named; --allow-empty writes it."""
    inp = tmp_path / "dev.spacy"
    run_cli(capsys, ["convert", _conll(tmp_path / "dev.conll", SENTENCES), inp])
    out = tmp_path / "dev_llm.spacy"
    with FaultServer(lambda payload: chat("None")) as server:
        argv = [
            "propose",
            inp,
            out,
            "--labels",
            LABELS,
            "--k",
            0,
            *propose_options(server, tmp_path / "cache.sqlite"),
        ]
        result = run_cli(capsys, argv)
        assert_outcome(result, 1, f"0 proposals for {len(SENTENCES)} sentences")
        assert "every answer was 'none'" in result.err and "--allow-empty" in result.err
        assert not out.exists()
        allowed = run_cli(capsys, [*argv, "--allow-empty"])
    assert allowed.code == 0, allowed.err
    assert len(read_docbin(out, spacy.blank("en").vocab)) == len(SENTENCES)


def test_a_label_never_proposed_is_named(tmp_path, capsys):
    inp = tmp_path / "dev.spacy"
    run_cli(capsys, ["convert", _conll(tmp_path / "dev.conll", SENTENCES[:2]), inp])
    with FaultServer(lambda payload: chat("person: Ana\ncorporation: Google")) as server:
        result = run_cli(
            capsys,
            [
                "propose",
                inp,
                tmp_path / "out.spacy",
                "--labels",
                LABELS,
                "--k",
                0,
                *propose_options(server, tmp_path / "cache.sqlite"),
            ],
        )
    assert result.code == 0, result.err
    shown = " ".join(result.out.split())
    assert "No proposal for location, product, creative-work, group in 2 sentences" in shown


def test_prompts_short_of_examples_are_named_in_one_line(tmp_path, capsys):
    """A pool too small for --k: the prompts were rendered with fewer
    examples than asked for, silently."""
    inp, pool = tmp_path / "dev.spacy", tmp_path / "pool.spacy"
    run_cli(capsys, ["convert", _conll(tmp_path / "dev.conll", SENTENCES[:3]), inp])
    run_cli(capsys, ["convert", _conll(tmp_path / "pool.conll", SENTENCES[3:5]), pool])
    with FaultServer(lambda payload: chat("person: Ana")) as server:
        result = run_cli(
            capsys,
            [
                "propose",
                inp,
                tmp_path / "out.spacy",
                "--labels",
                LABELS,
                "--examples",
                pool,
                "--k",
                4,
                *propose_options(server, tmp_path / "cache.sqlite"),
            ],
        )
    assert result.code == 0, result.err
    shown = " ".join(result.out.split())
    assert "3 of 3 sentences got fewer than the 4 few-shot examples asked for (0 got none)" in shown
