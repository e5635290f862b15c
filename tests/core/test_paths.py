"""Where ravelab keeps its files by default: ``$RAVELAB_DB`` when set, else the
platform's per-user data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ravelab.core.paths import DB_ENV, default_db_path, user_data_dir


def test_the_database_defaults_to_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_data_dir() == tmp_path / "data" / "ravelab"
    assert default_db_path() == tmp_path / "data" / "ravelab" / "ravelab.db"


def test_the_environment_names_another_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(DB_ENV, "~/lab/runs.db")
    assert default_db_path() == tmp_path / "lab" / "runs.db"
