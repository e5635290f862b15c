"""The CLI tests' shared fixture: `ravelab ARGS` run through main(argv)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.main import main


@pytest.fixture
def cli(
    tmp_path: Path,
    rave_double: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Run `ravelab ARGS` against a fresh DB and the rave double; return (code, out, err)."""
    monkeypatch.setenv("RAVELAB_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("RAVELAB_RAVE", str(rave_double))
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
