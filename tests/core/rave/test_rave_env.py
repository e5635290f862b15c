"""The managed RAVE environment: pins, Python choice, verification, failed installs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ravelab.core.rave.environment import (
    RaveInstallError,
    envs_dir,
    find_compatible_python,
    install_rave,
    pip_requirements,
    verify,
)
from ravelab.core.rave.locator import RAVE_SETTING
from ravelab.db import Database


def test_the_pins_that_work() -> None:
    assert pip_requirements("2.9.1", cpu=False) == [
        "torch==2.9.1",
        "torchaudio==2.9.1",
        "acids-rave==2.3.1",
        "nn-tilde==1.5.6",
    ]
    cpu = pip_requirements("2.9.1", cpu=True)
    assert cpu[:2] == ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]
    assert "torch==2.9.1+cpu" in cpu and "torchaudio==2.9.1+cpu" in cpu
    with pytest.raises(RaveInstallError, match="not a version"):
        pip_requirements("latest; rm -rf /", cpu=False)


def test_this_python_is_compatible() -> None:
    assert find_compatible_python(sys.executable) == sys.executable


def test_an_incompatible_python_is_named_with_what_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho 3 12\n")
    fake.chmod(0o755)
    with pytest.raises(RaveInstallError, match=r"Python 3\.10 or 3\.11.*python3\.11-venv"):
        find_compatible_python(str(fake))


def test_verify_refuses_a_folder_without_rave(tmp_path: Path) -> None:
    with pytest.raises(RaveInstallError, match="was not installed"):
        verify(tmp_path)


@pytest.mark.slow
def test_a_failed_install_leaves_the_previous_one_in_use(db: Database) -> None:
    db.set_setting(RAVE_SETTING, "/previous/rave")
    lines: list[str] = []
    # No torch 0.0.1 exists: pip fails after creating the environment.
    with pytest.raises(RaveInstallError, match="failed"):
        install_rave(
            db, torch="0.0.1", python=sys.executable, progress=lines.append, pip_timeout_s=600
        )
    assert db.get_setting(RAVE_SETTING) == "/previous/rave"
    assert not list(envs_dir().glob("py*-torch0.0.1-*"))
    assert any(line.startswith("$ ") for line in lines)


def test_an_install_never_reuses_or_deletes_a_folder_it_did_not_create(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ravelab.core.rave.environment as rave_env

    monkeypatch.setattr(rave_env.time, "strftime", lambda _format: "20260101-000000")
    made: list[Path] = []

    def failing_run(argv: list[str], say: object, timeout_s: float) -> None:
        made.append(Path(argv[-1]))
        raise RaveInstallError("pip failed")

    monkeypatch.setattr(rave_env, "_run", failing_run)
    version = f"py{sys.version_info[0]}{sys.version_info[1]}"
    taken = envs_dir() / f"{version}-torch2.9.1-20260101-000000"
    taken.mkdir(parents=True)
    (taken / "someone's file").write_text("kept")
    with pytest.raises(RaveInstallError, match="pip failed"):
        install_rave(db, python=sys.executable)
    assert made == [taken.with_name(taken.name + "-2")]
    assert (taken / "someone's file").read_text() == "kept"
    assert not made[0].exists()  # what this call created, and only that, is removed


def test_a_new_install_names_older_ones_instead_of_deleting_them(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ravelab.core.rave.environment as rave_env

    version = f"py{sys.version_info[0]}{sys.version_info[1]}"
    older = envs_dir() / f"{version}-torch2.9.1-20250101-000000"
    older.mkdir(parents=True)
    (older / rave_env._MARKER).write_text("{}")
    monkeypatch.setattr(rave_env, "_run", lambda argv, say, timeout_s: None)
    monkeypatch.setattr(rave_env, "verify", lambda target: {"acids-rave": "2.3.1"})
    lines: list[str] = []
    env = install_rave(db, python=sys.executable, force=True, progress=lines.append)
    assert older.is_dir() and Path(env.path) != older
    assert any(str(older) in line and "no longer used" in line for line in lines)
