"""The `ravelab` command: each subcommand through main(argv), its output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.main import build_parser
from tests.core.jobs.test_preprocess import fake_ffmpeg, write_wav

__all__ = ["fake_ffmpeg"]  # the fixture, for the dataset test

TRAIN = (
    "train",
    "--dataset",
    "synth",
    "--name",
    "cli-run",
    "--config",
    "v2_small",
    "--max-steps",
    "20",
    "--batch-size",
    "4",
    "--gpu",
    "-1",
    "--workers",
    "0",
)


def test_train_follow_list_show_logs(cli: Any, dataset_dir: Path) -> None:
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    code, out, err = cli(*TRAIN, "--follow")
    assert code == ExitCode.OK, err
    assert "started run 1 'cli-run'" in out
    assert "--channels 1 --gpu -1 --max_steps 20 --batch 4" in out
    assert "train set: 19 examples" in out  # the run's stdout, tqdm redraws left out
    assert "run 1 'cli-run' completed" in err
    code, out, _ = cli("list", "--json")
    (experiment,) = json.loads(out)
    assert experiment["status"] == "completed" and experiment["progress"]["step"] == 20
    code, out, _ = cli("list")
    assert "cli-run" in out and "completed" in out and "20/20" in out
    code, out, _ = cli("show", "cli-run", "--json")
    shown = json.loads(out)
    assert shown["id"] == 1 and shown["exit_code"] == 0
    code, out, _ = cli("show", "1")
    assert "status      completed" in out and "run folder" in out
    code, out, err = cli("logs", "1")
    assert out.splitlines()[:3] == [
        "train set: 19 examples",
        "val set: 1 examples",
        "selected gpu: []",
    ]
    assert "Trainer.fit` stopped: `max_steps=20` reached." in err


def test_train_then_stop(cli: Any, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    code, out, _ = cli(*TRAIN[:-8], "--max-steps", "300", "--batch-size", "4", "--gpu", "-1")
    assert code == ExitCode.OK
    assert "follow it with `ravelab logs 1 --follow`" in out
    code, out, err = cli("stop", "cli-run", "--timeout", "60")
    assert code == ExitCode.OK, err
    assert "asked run 1 'cli-run' to stop" in out and "run 1 stopped" in out
    code, out, _ = cli("list", "--json")
    assert json.loads(out)[0]["status"] == "stopped"
    code, _, err = cli("stop", "1")
    assert code == ExitCode.INVALID and "is not running (status: stopped)" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("show", "42"), ExitCode.NOT_FOUND, "experiment '42' not found"),
        (("logs", "nope"), ExitCode.NOT_FOUND, "experiment 'nope' not found"),
        (
            ("train", "--dataset", "nope", "--name", "x"),
            ExitCode.INVALID,
            "dataset 'nope' not found",
        ),
        (
            ("train", "--dataset", "synth", "--name", "bad name"),
            ExitCode.INVALID,
            "run name 'bad name' is not allowed",
        ),
        (
            ("train", "--dataset", "synth", "--name", "x", "--config", "v9"),
            ExitCode.INVALID,
            "unknown base config 'v9'",
        ),
        (
            ("train", "--dataset", "synth", "--name", "x", "--learning-rate", "0.1"),
            ExitCode.INVALID,
            "RAVE 2.3.1 has no learning-rate setting",
        ),
        (
            ("train", "--dataset", "synth", "--name", "x", "--max-steps", "-3"),
            ExitCode.INVALID,
            "max_steps = -3 is out of range",
        ),
    ],
)
def test_bad_input_is_a_clear_error(
    cli: Any, dataset_dir: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    result, out, err = cli(*args)
    assert result == code
    assert message in err and "Traceback" not in err
    _, out, _ = cli("list", "--json")
    assert json.loads(out) == []


def test_missing_rave_says_how_to_install(
    cli: Any, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    monkeypatch.setenv("RAVELAB_RAVE", str(tmp_path / "missing-rave"))
    code, _, err = cli(*TRAIN)
    assert code == ExitCode.RAVE_NOT_FOUND
    assert "acids-rave==2.3.1" in err


def test_a_database_from_the_future_is_refused(cli: Any, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 50")
    conn.close()
    code, _, err = cli("--db", str(path), "list")
    assert code == ExitCode.DATABASE and "upgrade ravelab" in err


def test_every_subcommand_has_help_text() -> None:
    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    (commands,) = actions
    for choice in commands._choices_actions:  # type: ignore[attr-defined]
        assert choice.help, f"{choice.dest} has no help"


def test_python_dash_m_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ravelab", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "ravelab" in done.stdout and "train" in done.stdout


def test_import_run_then_show(cli: Any, tmp_path: Path) -> None:
    from tests.core.tensorboard.test_run_events import _make_run_layout

    _make_run_layout(tmp_path / "outside")
    code, out, err = cli("import-run", str(tmp_path / "outside"))
    assert code == ExitCode.OK, err
    assert "imported run 1 'capture'" in out
    code, out, _ = cli("show", "capture")
    assert "health      ok" in out
    assert "phase       2 (adversarial)" in out
    assert "fullband_spectral_distance" in out
    code, _, err = cli("import-run", str(tmp_path / "outside"))
    assert code == ExitCode.INVALID and "exists already" in err


def test_train_from_clones_and_diff_shows_the_change(cli: Any, dataset_dir: Path) -> None:
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    assert cli(*TRAIN, "--follow")[0] == ExitCode.OK
    code, out, err = cli(
        "train", "--from", "cli-run", "--name", "copy", "--batch-size", "2", "--follow"
    )
    assert code == ExitCode.OK, err
    code, out, _ = cli("diff", "cli-run", "copy")
    assert "batch_size" in out and "4" in out and "2" in out
    code, out, _ = cli("diff", "cli-run", "cli-run")
    assert "have the same settings" in out
    code, _, err = cli("train", "--name", "nodata")
    assert code == ExitCode.INVALID and "--dataset is required" in err


def test_stop_warns_how_many_steps_are_lost(
    cli: Any, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ravelab.db import Database
    from ravelab.db import experiments as rows
    from tests.helpers import wait_until

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    cli(*TRAIN[:-8], "--max-steps", "300", "--batch-size", "4", "--gpu", "-1")
    db = Database(Path(str(os.environ["RAVELAB_DB"])))
    try:
        manager_less_step = lambda: rows.get_experiment(db, 1).progress.step  # type: ignore[union-attr]  # noqa: E731
        # Nothing follows the run between CLI commands: `list` catches up each time.
        wait_until(
            lambda: cli("list")[0] == 0 and manager_less_step() >= 2,
            timeout=60,
            what="the run's first steps",
        )
    finally:
        db.close()
    code, _out, err = cli("stop", "1")
    assert code == ExitCode.OK
    assert "warning: RAVE writes no checkpoint when stopped: the" in err
    assert "steps since the last checkpoint are lost" in err


def test_checkpoints_resume_and_at_checkpoint_flags(
    cli: Any, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    code, _, err = cli(
        "train",
        "--dataset",
        "synth",
        "--name",
        "full",
        "--config",
        "v2_small",
        "--max-steps",
        "300",
        "--batch-size",
        "4",
        "--gpu",
        "-1",
        "--val-every",
        "40",
        "--save-every",
        "100",
        "--follow",
    )
    assert code == ExitCode.OK, err
    code, out, _ = cli("checkpoints", "full")
    assert "best" in out and "epoch_100.ckpt" in out and "version_0" in out
    code, out, err = cli("resume", "full", "--max-steps", "340", "--follow")
    assert code == ExitCode.OK, err
    assert "resumed run 1 'full' from" in out
    code, out, _ = cli("checkpoints", "full", "--json")
    assert {c["version"] for c in json.loads(out)} == {0, 1}
    code, _, err = cli("resume", "nope")
    assert code == ExitCode.NOT_FOUND


@pytest.mark.usefixtures("fake_ffmpeg")
def test_dataset_create_export_models_and_jobs(cli: Any, tmp_path: Path) -> None:
    for index in range(20):
        write_wav(tmp_path / "audio" / f"c{index}.wav", 5.0)
    code, out, err = cli("dataset", "create", str(tmp_path / "audio"), "--name", "raw", "--check")
    assert code == ExitCode.INVALID and "no file is long enough" in out
    code, out, err = cli(
        "dataset", "create", str(tmp_path / "audio"), "--name", "raw", "--num-signal", "65536"
    )
    assert code == ExitCode.OK, err
    assert "dataset 1 'raw' ready: 1 channel(s), 44100 Hz" in out
    code, out, _ = cli("dataset", "list", "--json")
    (dataset,) = json.loads(out)
    assert dataset["status"] == "ready" and dataset["chunks"] == 20 and dataset["size_bytes"] > 0
    code, out, err = cli(
        "train",
        "--dataset",
        "raw",
        "--name",
        "r",
        "--config",
        "v2_small",
        "--max-steps",
        "120",
        "--batch-size",
        "4",
        "--gpu",
        "-1",
        "--val-every",
        "40",
        "--n-signal",
        "65536",
        "--follow",
    )
    assert code == ExitCode.OK, err
    code, out, err = cli("export", "r")
    assert code == ExitCode.OK, err
    assert "model 1:" in out and "streaming" in out
    code, out, _ = cli("models")
    assert "r" in out and "yes" in out
    code, out, _ = cli("jobs", "--json")
    assert [job["kind"] for job in json.loads(out)] == ["export", "preprocess"]
    code, _, err = cli("dataset", "remove", "raw")
    assert code == ExitCode.INVALID and "is used by experiment(s) 1" in err
