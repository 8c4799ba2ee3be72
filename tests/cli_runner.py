"""Run the hybrid-ner CLI in-process, as the tests of several commands do."""

from typing import Tuple

from hybrid_ner.cli import main


def run_cli(capsys, *argv) -> Tuple[int, str, str]:
    """Run ``hybrid-ner ARGV`` in this process.

    capsys: pytest's capsys fixture.
    RETURNS (Tuple[int, str, str]): The exit code, stdout and stderr.
    """
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err
