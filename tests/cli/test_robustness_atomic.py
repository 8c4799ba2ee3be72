"""Never lose, never lie (issue #10): writes are atomic, follow symlinks, and an
unwritable output is named before any work."""

import pytest

from hybrid_ner.atomic import atomic_path, check_writable, write_text
from hybrid_ner.errors import OutputPathError


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o640)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.json"]
    write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640


def test_writes_follow_a_symlink(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.parametrize(
    "path,reason",
    [
        ("/proc/x.spacy", "cannot create files in /proc"),
        ("{tmp}", "is a directory"),
        ("{tmp}/file/x.spacy", "is a file, not a directory"),
    ],
)
def test_check_writable(tmp_path, path, reason):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError) as err:
        check_writable(path.format(tmp=tmp_path))
    assert reason in str(err.value)
    assert (
        check_writable(tmp_path / "new" / "deeper" / "x.spacy") and not (tmp_path / "new").exists()
    )
