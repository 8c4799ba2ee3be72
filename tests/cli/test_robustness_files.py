"""Never silently do nothing (issue 23), the files of a hostile run: special
files are written into, never replaced; ``split`` writes all or nothing;
names from the command line stay in their folders; malformed input and
options are one line, never a traceback; options that would silently do
nothing are refused."""

import errno
import os
import pathlib
import stat

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from hybrid_ner.atomic import check_writable, write_text
from hybrid_ner.corpus import read_docbin, write_docbin
from hybrid_ner.errors import OutputPathError
from hybrid_ner.layers import DOC_ID

from .robustness_helpers import assert_outcome, make_ctx, make_docs, n_docs, run_cli, sentinel


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


# ---------------------------------------------------------------- special files
def test_a_fifo_is_written_into_not_replaced(tmp_path):
    """`convert x.conll /dev/full` turned the machine's /dev/full into a file:
    the atomic write os.replace'd whatever was there. A FIFO stands in for
    a device here (creating one needs no privileges, and a failing test
    harms nothing)."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a process reading it
    try:
        write_text(fifo, "hello\n")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO was replaced by a regular file"
        assert os.read(reader, 100) == b"hello\n"
    finally:
        os.close(reader)


def test_a_fifo_nobody_reads_is_refused_in_one_line(ctx, capsys):
    fifo = ctx.tmp / "out.fifo"
    os.mkfifo(fifo)
    result = run_cli(capsys, ["convert", ctx.conll, fifo])
    assert_outcome(result, 1, "is a FIFO that no process reads")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_device_node_is_written_into_not_replaced(ctx, capsys):
    """A copy of /dev/full (char device 1:7) in the test's folder: writing
    into it fails with "No space left on device", in one line, and the node
    stays a device."""
    node = ctx.tmp / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except (PermissionError, OSError) as err:
        pytest.skip(f"cannot create a device node here ({err})")
    result = run_cli(capsys, ["convert", ctx.conll, node])
    assert_outcome(result, 1, "No space left on device")
    assert stat.S_ISCHR(os.stat(node).st_mode), "the device node was replaced by a file"


def test_dev_stdout_writes_through_the_descriptor(tmp_path):
    """`stats --json /dev/stdout > s.log`: /dev/stdout resolves to s.log, which
    the atomic write replaced (the shell's descriptor then wrote into the
    unlinked old file). /proc/self/fd/N is the same mechanism for any
    descriptor: the file must be written through it, never replaced."""
    log = tmp_path / "s.log"
    with open(log, "wb") as handle:
        handle.write(b"before\n")
        handle.flush()
        inode = os.stat(log).st_ino
        write_text(f"/proc/self/fd/{handle.fileno()}", '{"json": 1}\n')
        handle.write(b"after\n")
    assert os.stat(log).st_ino == inode, "s.log was replaced, not written into"
    assert log.read_bytes() == b'before\n{"json": 1}\nafter\n'


# ---------------------------------------------------------------- split: all or nothing
def test_split_is_all_or_nothing_on_a_full_disk(ctx, capsys, monkeypatch):
    """A full disk on the third file left new train/dev beside an old test file."""
    out = ctx.tmp / "parts"
    old = {name: sentinel(out / f"{name}.spacy") for name in ("train", "dev", "test")}
    real_write = pathlib.Path.write_bytes
    calls = []

    def write_bytes(self, data):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    result = run_cli(capsys, ["split", ctx.inp, out])
    monkeypatch.undo()
    assert result.code == 1 and "No space left on device" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    for name, before in old.items():
        assert (out / f"{name}.spacy").read_bytes() == before, f"{name}.spacy was changed"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"


# ---------------------------------------------------------------- names stay in their folders
@pytest.mark.parametrize("name", ["../../evil", "/tmp/evil", "a/b", "..", ""])
def test_grid_dataset_names_never_leave_their_folders(ctx, capsys, name):
    result = run_cli(
        capsys,
        [
            "grid",
            name,
            ctx.inp,
            ctx.inp,
            ctx.inp,
            "--output",
            ctx.tmp / "metrics" / "grid",
            "--work-dir",
            ctx.tmp / "training" / "grid",
        ],
    )
    assert_outcome(result, 1, "DATASET")
    assert sorted(p.name for p in ctx.tmp.iterdir()) == sorted(
        ["in.spacy", "same.conll", "a_file", "a_dir"]
    ), "something was written"


# ---------------------------------------------------------------- tracebacks → one line
def test_a_jsonl_line_with_a_lone_surrogate_is_one_line(ctx, capsys):
    path = ctx.tmp / "in.jsonl"
    path.write_text('{"text": "fine"}\n{"text": "Ada \\ud800 Lovelace"}\n', encoding="utf-8")
    result = run_cli(capsys, ["convert", path, ctx.out])
    assert_outcome(result, 1, f"{path}:2: \\ud800 is half of a UTF-16 surrogate pair")
    assert not ctx.out.exists()


def test_a_docbin_with_a_valid_wrapper_and_invalid_content_is_one_line(ctx, capsys):
    doc_bin = DocBin(store_user_data=True)
    doc_bin.add(Doc(spacy.blank("en").vocab, words=["Zyxwv", "qqq"]))
    doc_bin.strings = set()  # the token texts are hashes no string store resolves
    ctx.inp.write_bytes(doc_bin.to_bytes())
    result = run_cli(capsys, ["stats", ctx.inp])
    assert_outcome(result, 1, f"{ctx.inp}: a DocBin whose content is unreadable")


@pytest.mark.parametrize(
    "option,value,fragment",
    [
        ("--separator", "bogus", "Unknown separator 'bogus'"),
        ("--scheme", "bogus", "Unknown tagging scheme 'bogus'"),
    ],
)
def test_convert_options_are_one_line(ctx, capsys, option, value, fragment):
    result = run_cli(capsys, ["convert", ctx.conll, ctx.out, option, value])
    assert_outcome(result, 1, fragment)


def test_merge_accept_of_the_wrong_kind_is_one_line(ctx, capsys):
    write_docbin(ctx.inp, _with_proposals(make_docs(3)))
    result = run_cli(
        capsys,
        ["merge", ctx.inp, ctx.out, "--merge.accept", '{"@misc": "hybrid_ner.Merger.v1"}'],
    )
    assert_outcome(result, 1, "--merge.accept: a Merger is not an acceptance policy")
    assert not ctx.out.exists()


# ---------------------------------------------------------------- false success
def test_merge_of_a_file_without_proposals_fails(ctx, capsys):
    """`merge` of a file without an `llm` group wrote the human annotation
    under a merged name and exited 0."""
    result = run_cli(capsys, ["merge", ctx.inp, ctx.out])
    assert_outcome(result, 1, "no Doc has proposals in doc.spans['llm']")
    assert not ctx.out.exists()


def test_noise_label_rate_matches_the_data_labels(ctx, capsys):
    """`--label-rate per=1.0` on PER data omitted nothing."""
    result = run_cli(
        capsys, ["noise", ctx.inp, ctx.out, "--omit-rate", 0, "--label-rate", "per=1.0"]
    )
    assert result.code == 0, result.err
    docs = read_docbin(ctx.out, spacy.blank("en").vocab)
    assert {ent.label_ for doc in docs for ent in doc.ents} == {"LOC"}


def test_noise_label_rate_of_an_unknown_label_is_refused(ctx, capsys):
    result = run_cli(
        capsys, ["noise", ctx.inp, ctx.out, "--omit-rate", 0.1, "--label-rate", "ORG=1.0"]
    )
    assert_outcome(result, 1, "--label-rate ORG: no entity has this label")
    assert "LOC, PER" in result.err and not ctx.out.exists()


# ---------------------------------------------------------------- --limit
@pytest.mark.parametrize("command", ["convert", "split", "noise"])
def test_limit_takes_the_first_sentences(ctx, capsys, command):
    conll = ctx.tmp / "many.conll"
    conll.write_text("".join(f"Ada B-PER\nsaid{i} O\n\n" for i in range(30)), encoding="utf-8")
    argv = {
        "convert": ["convert", conll, ctx.out, "--limit", 12],
        "split": ["split", ctx.inp, ctx.tmp / "parts", "--limit", 12],
        "noise": ["noise", ctx.inp, ctx.out, "--omit-rate", 0.5, "--limit", 12],
    }[command]
    result = run_cli(capsys, argv)
    assert result.code == 0, result.err
    if command == "split":
        assert sum(n_docs(ctx.tmp / "parts" / f"{n}.spacy") for n in ("train", "dev", "test")) == 12
    else:
        assert n_docs(ctx.out) == 12


def test_convert_without_docstart_makes_each_sentence_a_document(ctx, capsys):
    conll = ctx.tmp / "wnut.conll"
    conll.write_text("".join(f"Ada B-person\nsaid{i} O\n\n" for i in range(5)), encoding="utf-8")
    result = run_cli(capsys, ["convert", conll, ctx.out])
    assert result.code == 0, result.err
    shown = " ".join(result.out.split())
    assert "no -DOCSTART- lines, so each of the 5 sentences is its own document" in shown
    docs = read_docbin(ctx.out, spacy.blank("en").vocab)
    assert len({doc.user_data[DOC_ID] for doc in docs}) == 5


def _with_proposals(docs):
    for doc in docs:
        doc.spans["llm"] = [Span(doc, 3, 4, "PER")]
    return docs


def test_check_writable_accepts_a_special_file_without_probing(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    assert check_writable(fifo) == fifo and sorted(os.listdir(tmp_path)) == ["f"]
    with pytest.raises(OutputPathError):
        check_writable(tmp_path)
