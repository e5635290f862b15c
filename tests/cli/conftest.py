"""The CLI tests' shared fixture: `ravelab ARGS` run through main(argv)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli


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

    return functools.partial(run_cli, capsys)
