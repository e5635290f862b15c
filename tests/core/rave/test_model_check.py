"""The export check: nn~ releases and their libtorch, the check run after an export (through
the RAVE-environment double) and recorded with the model, `ravelab models [check]`."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.main import main
from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.rave.model_check import check_model, libtorch_of, summarize, torch_warning
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import jobs as job_rows
from tests.core.rave.conftest import make_run
from tests.helpers import run_cli


@pytest.fixture
def manager(db: Database, rave_env: Path, tmp_path: Path) -> Iterator[TrainingManager]:
    manager = TrainingManager(
        db, rave=str(rave_env), runs_dir=tmp_path / "runs", poll_interval=0.05
    )
    yield manager
    manager.shutdown()


def test_nn_tilde_releases_and_their_libtorch() -> None:
    assert libtorch_of("1.5.6") == {"macOS": "2.0.0", "Windows": "2.0.1"}
    assert libtorch_of("1.5") == libtorch_of("1.4.4") == libtorch_of("1.5.6")
    assert libtorch_of("1.6") == libtorch_of("1.6.0") == {"macOS": "2.5.1", "Windows": "2.5.1"}
    for unknown in ("1.4.3", "1.6.1", "2.0", "latest", ""):
        with pytest.raises(
            ConfigError, match=r"not a release ravelab knows: 1\.4\.4-1\.5\.6, 1\.6\.0"
        ):
            libtorch_of(unknown)


def test_the_torch_warning() -> None:
    warning = torch_warning("2.9.1+cu128", "1.5.6")
    assert warning is not None
    assert "newer than the libtorch 2.0.0 (macOS) / 2.0.1 (Windows) inside nn~ 1.5.6" in warning
    assert "re-export with torch 2.0.0 or older" in warning
    only_mac = torch_warning("2.0.1", "1.5.6")
    assert only_mac is not None and "2.0.0 (macOS) inside" in only_mac
    assert torch_warning("2.0.0", "1.5.6") is None
    assert torch_warning("2.5.1+cpu", "1.6.0") is None
    assert torch_warning("2.5.1+cpu") is None  # the newest release by default
    assert torch_warning(None, "1.5.6") is None and torch_warning("garbage", "1.5.6") is None


def _export(manager: TrainingManager, db: Database, tmp_path: Path, **options: Any) -> Any:
    run = make_run(db, tmp_path)
    job = manager.jobs.wait(manager.jobs.export_model(run.id, **options), timeout=60)
    assert job.status == "completed", job.reason
    (model,) = job_rows.list_models(db, run.id)
    return model


def test_an_export_is_checked_and_the_check_recorded(
    manager: TrainingManager, db: Database, tmp_path: Path
) -> None:
    model = _export(manager, db, tmp_path)
    assert model.torch_version == "2.9.1+cu128" and model.checked_at is not None
    result = json.loads(model.check_result)
    assert result["ok"] is True and result["streaming"] is True
    assert result["params"]["forward"] == [1, 1, 1, 1]
    summary = summarize(model, "1.6.0")
    assert summary.state == "ok" and summary.problems == []
    assert summary.warnings[0].startswith("exported with torch 2.9.1+cu128, newer than")
    assert summarize(model, "1.5.6").warnings[0].count("2.0.0 (macOS)") == 1


@pytest.mark.parametrize("fail", ["problem", "crash", "environment"])
def test_a_failing_check_never_fails_the_export(
    manager: TrainingManager,
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fail: str,
) -> None:
    if fail == "problem":
        monkeypatch.setenv("FAKE_ENV_PROBLEM", "forward returned NaN or inf")
    else:
        monkeypatch.setenv("FAKE_ENV_FAIL", fail)
    model = _export(manager, db, tmp_path, streaming=False)
    assert Path(model.path).is_file()
    summary = summarize(model)
    if fail == "problem":
        assert summary.state == "problems"
        assert summary.problems == ["forward returned NaN or inf"]
        assert any("not a streaming export" in w for w in summary.warnings)
    elif fail == "crash":
        assert summary.state == "check failed"
        assert summary.problems == [
            "the check could not run: the check stopped (exit status 1): RuntimeError: fake crash"
        ]
        assert model.torch_version is None
    else:
        assert summary.state == "check failed"
        assert "lacks torch" in summary.problems[0]


def _recorded_model(
    db: Database, tmp_path: Path, path: Path, content: bytes, fidelity: float | None
) -> int:
    """The row of a streaming model of a new run (no job, never checked); its file holds
    ``content``."""
    run = make_run(db, tmp_path)
    path.write_bytes(content)
    return job_rows.insert_model(
        db,
        experiment_id=run.id,
        job_id=None,
        path=str(path),
        size_bytes=len(content),
        streaming=True,
        fidelity=fidelity,
        checkpoint=None,
        step=None,
    )


def test_a_model_from_before_the_check_is_checked_on_demand(
    db: Database, tmp_path: Path, rave_env: Path
) -> None:
    path = tmp_path / "old.ts"
    model_id = _recorded_model(db, tmp_path, path, b"not a zip", fidelity=0.95)
    assert summarize(job_rows.get_model(db, model_id)).state == "not checked"  # type: ignore[arg-type]
    model = check_model(db, model_id, rave=str(rave_env))
    summary = summarize(model)
    assert summary.state == "problems" and summary.problems[0].startswith("torch.jit.load fails")
    assert model.torch_version == "2.9.1+cu128"
    with pytest.raises(NotFoundError, match="model 99 not found"):
        check_model(db, 99, rave=str(rave_env))
    path.unlink()
    with pytest.raises(NotFoundError, match="no longer exists"):
        check_model(db, model_id, rave=str(rave_env))
    assert json.loads(job_rows.get_model(db, model_id).check_result)["ok"] is False  # type: ignore[union-attr,arg-type]


def test_a_recheck_keeps_the_torch_that_exported(
    db: Database, tmp_path: Path, rave_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_id = _recorded_model(db, tmp_path, tmp_path / "m.ts", b"x", fidelity=None)
    job_rows.set_model_check(db, model_id, json.dumps({"ok": True}), "2.0.0")
    monkeypatch.setenv("FAKE_ENV_TORCH", "2.5.1")
    assert check_model(db, model_id, rave=str(rave_env)).torch_version == "2.0.0"


def test_cli_models_and_models_check(
    manager: TrainingManager,
    db: Database,
    db_path: Path,
    tmp_path: Path,
    rave_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = _export(manager, db, tmp_path)
    monkeypatch.setenv("RAVELAB_DB", str(db_path))
    monkeypatch.setenv("RAVELAB_RAVE", str(rave_env))

    cli = functools.partial(run_cli, capsys)

    code, out, err = cli("models")
    assert code == ExitCode.OK, err
    header, _, row = out.splitlines()[:3]
    assert header.split() == [
        "ID",
        "RUN",
        "STREAMING",
        "FIDELITY",
        "STEP",
        "SIZE",
        "TORCH",
        "CHECK",
        "PATH",
    ]
    assert "2.9.1+cu128  ok (warning)" in row
    assert (
        "model 1: warning: exported with torch 2.9.1+cu128, newer than the libtorch "
        "2.5.1 (macOS) / 2.5.1 (Windows) inside nn~ 1.6.0" in out
    )
    code, out, _ = cli("models", "--nn-tilde", "1.5.6")
    assert "2.0.0 (macOS) / 2.0.1 (Windows) inside nn~ 1.5.6" in out
    code, _, err = cli("models", "--nn-tilde", "0.9")
    assert code == ExitCode.INVALID and "nn~ '0.9' is not a release ravelab knows" in err
    code, out, _ = cli("models", "--json")
    (listed,) = json.loads(out)
    assert listed["check"] == "ok" and listed["torch_version"] == "2.9.1+cu128"
    monkeypatch.setenv("FAKE_ENV_PROBLEM", "forward returned NaN or inf")
    code, out, _ = cli("models", "check", str(model.id))
    assert code == ExitCode.RUN_FAILED
    assert out.startswith(
        "model 1 check: problems, torch 2.9.1+cu128, 44100 Hz, 1 ch in, 1 ch out, latent 8/128, "
        "streaming\n"
    )
    assert "methods: encode [1, 1, 8, 512], decode [8, 512, 1, 1], forward [1, 1, 1, 1]" in out
    assert "problem: forward returned NaN or inf" in out
    code, out, _ = cli("models")
    assert "problems" in out and "model 1: problem: forward returned NaN or inf" in out
    code, _, err = cli("models", "check", "7")
    assert code == ExitCode.NOT_FOUND and "model 7 not found" in err


def test_cli_export_prints_the_check(
    db: Database,
    db_path: Path,
    tmp_path: Path,
    rave_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_run(db, tmp_path)
    monkeypatch.setenv("RAVELAB_DB", str(db_path))
    monkeypatch.setenv("RAVELAB_RAVE", str(rave_env))
    code = main(["export", "drums", "--no-streaming"])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    assert "model 1 check: ok, torch 2.9.1+cu128, 44100 Hz, 1 ch in, 1 ch out" in out
    assert "not streaming\n" in out
    assert "warning: not a streaming export: in nn~ it is called block by block" in out
    assert "warning: exported with torch 2.9.1+cu128, newer than the libtorch" in out
