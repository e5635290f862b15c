"""Hostile input at every entry point, through the real `ravelab` command (a subprocess
over a real SQLite file and the `rave` double): Unicode digits as ids, bad metadata.yaml,
broken audio, outputs on files, closed pipes, parallel registrations, unknown projects,
hostile names and config numbers. Each is refused in one line naming the value, never
with a traceback, and leaves nothing behind (no row, no folder, no process)."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.core.errors import ConfigError
from ravelab.core.rave.training_config import validate_training_config
from ravelab.db import Database

pytestmark = pytest.mark.faults

#: What a shell reports for a program ended by SIGPIPE.
BROKEN_PIPE = 141


@pytest.fixture
def env(tmp_path: Path, rave_double: Path) -> dict[str, str]:
    """The environment of a `ravelab` subprocess: its own database, runs folder, the
    double as `rave` (the test marker is inherited, so leftovers are caught)."""
    values = dict(os.environ)
    values.update(
        RAVELAB_DB=str(tmp_path / "cli.db"),
        RAVELAB_RUNS_DIR=str(tmp_path / "runs"),
        RAVELAB_RAVE=str(rave_double),
        FAKE_RAVE_TIME_SCALE="0.002",
    )
    return values


def ravelab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ravelab ARGS` to its end; a traceback anywhere fails the test."""
    done = subprocess.run(
        [sys.executable, "-m", "ravelab", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _json(env: dict[str, str], *args: str) -> Any:
    done = ravelab(env, *args, "--json")
    assert done.returncode == ExitCode.OK, done.stderr
    return json.loads(done.stdout)


def _dataset(folder: Path, metadata: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "metadata.yaml").write_text(metadata)
    (folder / "data.mdb").write_bytes(b"\0" * 4096)
    return folder


GOOD_METADATA = "channels: 1\nlazy: false\nn_seconds: 56.47\nsr: 44100\n"


@pytest.mark.slow
def test_unicode_digits_are_never_ids(env: dict[str, str], dataset_dir: Path) -> None:
    assert ravelab(env, "dataset", "add", str(dataset_dir), "--name", "synth").returncode == 0
    for args in (("show", "²"), ("stop", "²"), ("export", "³"), ("metrics", "٣"), ("logs", "１")):
        done = ravelab(env, *args)
        assert done.returncode == ExitCode.NOT_FOUND, (args, done.stderr)
        assert f"experiment {args[1]!r} not found: `ravelab list`" in done.stderr
    for args in (
        ("dataset", "remove", "²"),
        ("train", "--dataset", "¹", "--name", "x", "--gpu", "-1"),
    ):
        done = ravelab(env, *args)
        assert done.returncode == ExitCode.INVALID, (args, done.stderr)
        assert "not found: `ravelab dataset list`" in done.stderr
    done = ravelab(env, "stop-job", "²")
    assert done.returncode == ExitCode.USAGE
    assert "'²' is not a whole number (write it with the digits 0-9)" in done.stderr
    assert _json(env, "list") == []


@pytest.mark.slow
def test_bad_metadata_is_refused_and_every_other_dataset_keeps_working(
    env: dict[str, str], tmp_path: Path, dataset_dir: Path
) -> None:
    ravelab(env, "dataset", "add", str(dataset_dir), "--name", "synth")
    cases = {
        "inf": ("n_seconds: .inf\n", "n_seconds is inf"),
        "nan": ("n_seconds: .nan\n", "n_seconds is nan"),
        "negative": ("n_seconds: -3\n", "n_seconds is -3"),
        "no-channels": ("channels: 0\nn_seconds: 5\n", "channels is 0"),
        "power": ("channels: 10^23\nn_seconds: 5\n", "channels is '10^23'"),
    }
    for name, (metadata, message) in cases.items():
        folder = _dataset(tmp_path / name, metadata)
        done = ravelab(env, "dataset", "add", str(folder))
        assert done.returncode == ExitCode.INVALID, done.stderr
        assert f"{folder / 'metadata.yaml'}: {message}" in done.stderr
        assert "preprocess the audio again" in done.stderr
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "metadata.yaml").write_bytes(b"channels: \xff\xfe\n")
    done = ravelab(env, "dataset", "add", str(binary))
    assert done.returncode == ExitCode.INVALID
    assert "metadata.yaml is not UTF-8 text" in done.stderr
    listed = ravelab(env, "dataset", "list")
    assert listed.returncode == ExitCode.OK
    assert "synth" in listed.stdout and "0:00:56" in listed.stdout
    assert [d["name"] for d in _json(env, "dataset", "list")] == ["synth"]


def test_a_stored_row_with_bad_numbers_does_not_break_dataset_list(
    env: dict[str, str], tmp_path: Path, dataset_dir: Path
) -> None:
    ravelab(env, "dataset", "add", str(dataset_dir), "--name", "synth")
    # As an older version could have stored them: inf seconds, text channels, a 0 rate.
    with sqlite3.connect(env["RAVELAB_DB"]) as connection:
        connection.execute(
            "INSERT INTO datasets(project_id, name, path, channels, sample_rate, n_seconds, "
            "lazy, status, created_at, sources, num_signal) "
            "VALUES (1, 'old', ?, 'two', 0, ?, 0, 'ready', '2025-01-01T00:00:00', '[]', -1)",
            (str(tmp_path / "gone"), math.inf),
        )
    connection.close()
    listed = ravelab(env, "dataset", "list")
    assert listed.returncode == ExitCode.OK, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith("1   synth") and "0:00:56" in line for line in lines)
    assert any(line.startswith("2   old") for line in lines)
    done = ravelab(env, "dataset", "list", "--json")

    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    data = json.loads(done.stdout, parse_constant=refuse)
    old = data[1]
    assert (old["channels"], old["sample_rate"], old["n_seconds"], old["chunks"]) == (
        None,
        None,
        None,
        None,
    )
    # Training on it reads metadata.yaml again, which is gone: refused, nothing created.
    done = ravelab(env, "train", "--dataset", "old", "--name", "r", "--gpu", "-1")
    assert done.returncode == ExitCode.INVALID
    assert "does not exist or is not a folder" in done.stderr
    assert _json(env, "list") == []


def test_metadata_spoiled_after_registration_never_reaches_rave(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = _dataset(tmp_path / "ds", GOOD_METADATA)
    assert ravelab(env, "dataset", "add", str(folder)).returncode == ExitCode.OK
    (folder / "metadata.yaml").write_text("channels: 0\nn_seconds: 56.47\nsr: 44100\n")
    done = ravelab(env, "train", "--dataset", "ds", "--name", "r", "--gpu", "-1")
    assert done.returncode == ExitCode.INVALID
    assert "channels is 0, expected a whole number from 1 to 64" in done.stderr
    assert _json(env, "list") == []
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _wav(path: Path, seconds: float = 20.0, rate: int = 44_100) -> bytes:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"\0\0" * int(seconds * rate))
    return path.read_bytes()


@pytest.fixture
def fake_ffmpeg_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """ffmpeg and ffprobe on PATH; this ffprobe answers nothing (lengths unknown)."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    for tool in ("ffmpeg", "ffprobe"):
        (folder / tool).write_text("#!/bin/sh\nexit 0\n")
        (folder / tool).chmod(0o755)
    return {**env, "PATH": f"{folder}{os.pathsep}{env['PATH']}"}


def test_broken_audio_is_named_before_preprocess(
    fake_ffmpeg_env: dict[str, str], tmp_path: Path
) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    data = _wav(audio / "good.wav")
    zero = bytearray(data)
    zero[24:28] = struct.pack("<I", 0)  # the header's sample rate: 0 Hz
    (audio / "zero.wav").write_bytes(bytes(zero))
    (audio / "truncated.wav").write_bytes(data[:30])
    (audio / "notes.wav").write_bytes(b"these are not samples\n")
    done = ravelab(fake_ffmpeg_env, "dataset", "create", str(audio), "--name", "a", "--check")
    assert done.returncode == ExitCode.INVALID
    assert "'zero.wav': its WAV header says 0 Hz" in done.stdout
    assert "'truncated.wav'" in done.stdout and "'notes.wav'" in done.stdout
    done = ravelab(fake_ffmpeg_env, "dataset", "create", str(audio), "--name", "a")
    assert done.returncode == ExitCode.INVALID
    assert "cannot preprocess: 1 file(s) are not usable audio" in done.stderr
    assert _json(fake_ffmpeg_env, "dataset", "list") == []
    assert _json(fake_ffmpeg_env, "jobs") == []


def test_dataset_create_output_on_a_file_is_refused_before_anything_runs(
    fake_ffmpeg_env: dict[str, str], tmp_path: Path
) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    _wav(audio / "good.wav")
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep me too")
    cases = (
        (blocker, f"output {str(blocker)!r} is a file"),
        (blocker / "sub", f"is inside the file {str(blocker)!r}"),
        (full, f"output folder {str(full)!r} exists and is not empty"),
    )
    for output, message in cases:
        done = ravelab(
            fake_ffmpeg_env, "dataset", "create", str(audio), "--name", "a", "--output", str(output)
        )
        assert done.returncode == ExitCode.INVALID, done.stderr
        assert message in done.stderr
    assert blocker.read_text() == "keep me" and (full / "mine.txt").read_text() == "keep me too"
    assert sorted(p.name for p in full.iterdir()) == ["mine.txt"]
    assert _json(fake_ffmpeg_env, "dataset", "list") == []
    assert _json(fake_ffmpeg_env, "jobs") == []


@pytest.mark.parametrize("merged", [False, True], ids=["stdout", "stdout-and-stderr"])
def test_output_to_a_closed_pipe_ends_quietly(
    env: dict[str, str], tmp_path: Path, merged: bool
) -> None:
    from tests.core.tensorboard.test_run_events import _make_run_layout

    run = _make_run_layout(tmp_path / "outside")
    assert ravelab(env, "import-run", str(run)).returncode == ExitCode.OK
    # More than any pipe buffer holds, so the writer meets the closed pipe for certain.
    (run / "stdout.log").write_text("".join(f"line {n} of the trainer\n" for n in range(200_000)))
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as error_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "ravelab", "logs", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else error_file,
        )
        assert process.stdout is not None
        assert process.stdout.readline() == b"line 0 of the trainer\n"
        process.stdout.close()  # what `| head -1` does
        assert process.wait(timeout=120) == BROKEN_PIPE
    assert errors.read_text() == ""


@pytest.mark.slow
def test_parallel_adds_of_one_folder_register_it_once(
    env: dict[str, str], dataset_dir: Path
) -> None:
    assert ravelab(env, "dataset", "list").returncode == ExitCode.OK  # the database exists
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "ravelab", "dataset", "add", str(dataset_dir), "--name", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a0", "a1", "a2", "a3")
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    winners = [r for r in results if r[0] == ExitCode.OK]
    assert len(winners) == 1, results
    datasets = _json(env, "dataset", "list")
    assert len(datasets) == 1
    winner = datasets[0]["name"]
    for code, _out, err in results:
        if code != ExitCode.OK:
            assert code == ExitCode.INVALID
            assert f"is registered already as dataset 1 ('{winner}')" in err
            assert "Traceback" not in err


@pytest.mark.slow
def test_parallel_imports_of_one_run_folder_import_it_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    from tests.core.tensorboard.test_run_events import _make_run_layout

    run = _make_run_layout(tmp_path / "outside")
    assert ravelab(env, "list").returncode == ExitCode.OK  # the database exists
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "ravelab", "import-run", str(run), "--name", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("i0", "i1", "i2", "i3", "i4", "i5")
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert len([r for r in results if r[0] == ExitCode.OK]) == 1, results
    assert len(_json(env, "list")) == 1
    for code, _out, err in results:
        if code != ExitCode.OK:
            assert code == ExitCode.INVALID
            assert "is imported already as experiment 1" in err
            assert "Traceback" not in err


@pytest.mark.slow
def test_an_unknown_project_is_named_before_anything_is_created(
    env: dict[str, str], tmp_path: Path, dataset_dir: Path
) -> None:
    from tests.core.tensorboard.test_run_events import _make_run_layout

    ravelab(env, "dataset", "add", str(dataset_dir), "--name", "synth")
    hint = "project 99 not found: `ravelab projects` lists the projects"
    done = ravelab(env, "train", "--dataset", "synth", "--name", "r", "--project", "99")
    assert done.returncode == ExitCode.INVALID and hint in done.stderr
    run = _make_run_layout(tmp_path / "outside")
    done = ravelab(env, "import-run", str(run), "--project", "99")
    assert done.returncode == ExitCode.INVALID and hint in done.stderr
    assert _json(env, "list") == []
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    projects = _json(env, "projects")
    assert [(p["id"], p["experiments"], p["datasets"]) for p in projects] == [(1, 0, 1)]


HOSTILE_TRAIN_FLAGS = {
    "numbers": (
        (("--channels", "0"), "channels = 0 is out of range: use 1 to 64"),
        (("--max-steps", "-5"), "max_steps = -5 is out of range"),
        (("--batch-size", "99999999999999999999999"), "batch_size = 99999999999999999999999 is"),
        (("--learning-rate", "nan"), "learning_rate must be a finite number, not nan"),
        (("--gpu", "-7"), "gpu -7 is not valid"),
        (("--override", "A=1\nB=2"), "is not a gin binding"),
        (("--override", "A=1\rB=2"), "is not a gin binding"),
        (("--override", "PHASE_1_DURATION=" + "9" * 5000), "5,017 characters long"),
    ),
    "names": (
        (("--name", "../escape"), "run name '../escape' is not allowed"),
        (("--name", "a/b"), "run name 'a/b' is not allowed"),
        (("--name", "a\nb"), "run name 'a\\nb' is not allowed"),
        (("--name", "trailing\n"), "run name 'trailing\\n' is not allowed"),
        (("--name", "x" * 5000), "run name 'xxxxxxxxxx"),
        (("--name", ""), "run name is missing"),
        (("--modifier", "../../etc/x.gin"), "modifier file '../../etc/x.gin' does not exist"),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(HOSTILE_TRAIN_FLAGS))
def test_train_refuses_hostile_values_and_creates_nothing(
    env: dict[str, str], tmp_path: Path, dataset_dir: Path, kind: str
) -> None:
    ravelab(env, "dataset", "add", str(dataset_dir), "--name", "synth")
    for flags, message in HOSTILE_TRAIN_FLAGS[kind]:
        args = ["train", "--dataset", "synth", "--name", "ok", "--gpu", "-1", *flags]
        done = ravelab(env, *args)
        assert done.returncode == ExitCode.INVALID, done.stderr
        assert message in done.stderr
        assert len(done.stderr) < 1000  # a 5,000-character name is shown cut
    assert _json(env, "list") == []
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_hostile_paths_and_names_at_dataset_add(
    env: dict[str, str], tmp_path: Path, dataset_dir: Path
) -> None:
    # A folder whose name holds spaces, quotes and a newline is a fine dataset: its
    # suggested name is made safe, and its path goes to rave as one argv item.
    odd = _dataset(tmp_path / "we ird 'q' \"dq\"\nnl", GOOD_METADATA)
    done = ravelab(env, "dataset", "add", str(odd))
    assert done.returncode == ExitCode.OK, done.stderr
    assert "registered dataset 1 'we-ird-q-dq-nl'" in done.stdout
    listed = ravelab(env, "dataset", "list").stdout
    assert "we ird 'q' \"dq\"\\nnl" in listed  # escaped: the row stays one line
    for name, message in (
        ("../up", "dataset name '../up' is not allowed"),
        ("drums\n", "dataset name 'drums\\n' is not allowed"),
        ("a/b", "is not allowed"),
        ("", "dataset name is missing"),
        ("n" * 300, "is not allowed"),
    ):
        done = ravelab(env, "dataset", "add", str(dataset_dir), "--name", name)
        assert done.returncode == ExitCode.INVALID, done.stderr
        assert message in done.stderr
    for path, message in (
        ("", "no dataset folder given"),
        ("~no-such-user-here/x", "is not usable"),
        (str(tmp_path / "missing"), "does not exist or is not a folder"),
    ):
        done = ravelab(env, "dataset", "add", path)
        assert done.returncode == ExitCode.INVALID, done.stderr
        assert message in done.stderr
    assert [d["id"] for d in _json(env, "dataset", "list")] == [1]


@pytest.mark.parametrize("key", ["channels", "batch_size", "max_steps"])
@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 10**400, -1, 0, True, "many", "²", "1e3", [4], 2.5],
    ids=repr,
)
def test_config_numbers_are_refused_by_name(
    db: Database, dataset_id: int, key: str, value: object
) -> None:
    config = {"name": "r", "dataset_id": dataset_id, "gpu": -1, key: value}
    with pytest.raises(ConfigError, match=key) as raised:
        validate_training_config(config, db)
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("gpu", "²", "gpu must be a GPU index"),
        ("gpu", 10**400, "gpu an integer of about 400 digits is not valid"),
        ("gpu", True, "gpu must be a GPU index"),
        ("learning_rate", math.inf, "learning_rate must be a finite number"),
        ("learning_rate", "nan", "learning_rate must be a finite number"),
        ("learning_rate", [1], "learning_rate must be a number"),
        ("dataset_id", "²", "dataset_id must be a dataset's number, not '²'"),
        ("dataset_id", True, "dataset_id must be a dataset's number"),
        ("project_id", "¹", "project id must be a project's number"),
        ("project_id", 99, "project 99 not found"),
        ("modifiers", ["a\0b"], "is neither a config name nor a usable path"),
        ("overrides", ["PHASE_1_DURATION=" + "9" * 500], "the phase-1 length must be"),
    ],
)
def test_other_config_values_are_refused_by_name(
    db: Database, dataset_id: int, key: str, value: object, message: str
) -> None:
    config = {"name": "r", "dataset_id": dataset_id, "gpu": -1, key: value}
    with pytest.raises(ConfigError) as raised:
        validate_training_config(config, db)
    assert message in str(raised.value)


@pytest.mark.slow
def test_checkpoints_and_outputs_are_checked_before_anything_runs(
    env: dict[str, str], tmp_path: Path
) -> None:
    from tests.core.tensorboard.test_run_events import _make_run_layout

    run = _make_run_layout(tmp_path / "outside")
    assert ravelab(env, "import-run", str(run)).returncode == ExitCode.OK
    notes = tmp_path / "notes.txt"
    notes.write_text("not a checkpoint")
    for args, message in (
        (("export", "1", "--checkpoint", str(notes)), "is not a .ckpt file"),
        (("export", "1", "--output", str(notes / "model.ts")), "is inside the file"),
        (("export", "1", "--fidelity", "nan"), "'nan' is not a finite number"),
        (("plot", "1", "-o", str(notes / "plot.png")), "cannot be written"),
    ):
        done = ravelab(env, *args)
        assert done.returncode in (ExitCode.INVALID, ExitCode.USAGE), done.stderr
        assert message in done.stderr
    assert _json(env, "jobs") == []
    assert notes.read_text() == "not a checkpoint"
    # resume chooses its checkpoint the same way (imported runs cannot be resumed).
    from ravelab.core.jobs.export import choose_checkpoint

    with pytest.raises(ConfigError, match=r"is not a \.ckpt file"):
        choose_checkpoint(run, str(notes))


@pytest.mark.slow
def test_settings_refuse_values_that_would_poison_later_commands(
    env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args, message in (
        (("stalled_after_minutes", "inf"), "must be a positive number of minutes"),
        (("stalled_after_minutes", "1e999"), "must be a positive number of minutes"),
        (("runs_dir", str(blocker / "runs")), "is a file, not a folder"),
        (("runs_dir", "runs\nhere"), "holds control characters"),
    ):
        done = ravelab(env, "settings", "set", *args)
        assert done.returncode == ExitCode.INVALID, done.stderr
        assert message in done.stderr
    shown = ravelab(env, "settings", "show").stdout
    assert "runs_dir = (not set)" in shown and "stalled_after_minutes = (not set)" in shown


def test_extensions_and_input_paths_are_checked(tmp_path: Path) -> None:
    from ravelab.core.jobs.preprocess import check_audio_inputs

    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "README").write_text("no suffix: not audio")
    report = check_audio_inputs([tmp_path / "audio"], extensions=["", "../x", "wav"])
    assert report.problems[-1] == (
        "'', '../x': not a file extension; use letters and digits such as wav or flac"
    )
    assert report.files == []
    report = check_audio_inputs(["~no-such-user-here/audio"])
    assert any("'~no-such-user-here/audio' is not usable" in p for p in report.problems)
    for options in ({"sample_rate": 0}, {"num_signal": 0}, {"num_signal": True}):
        # `dataset create --check` calls this before any other check: no division by zero.
        report = check_audio_inputs([tmp_path / "audio"], **options)
        assert report.problems and "is out of range" in report.problems[0]


@pytest.mark.parametrize(
    "line",
    [
        "dataset length: 0:56.47 20it [00:01, 1.2.3it/s]",
        "dataset length: 0:56.47 20it [00:01, 0.00s/it]",
        "dataset length: 1:00 " + "9" * 5000 + "it [00:01, 2it/s]",
        "dataset length: 1:00 ٣it [00:01, 2it/s]",
        "dataset length: " + "1:" * 10_000 + " 3it [00:01, 2it/s]",
    ],
    ids=["bad-rate", "zero-rate", "huge-count", "arabic-digit", "long-length"],
)
def test_preprocess_progress_lines_never_raise(line: str) -> None:
    from ravelab.core.jobs.preprocess import parse_preprocess_line

    progress = parse_preprocess_line(line, "stdout")
    assert set(progress) <= {"chunks", "audio_seconds", "chunks_per_s"}
    assert all(math.isfinite(v) and v >= 0 for v in progress.values())
    assert progress.get("chunks", 0) < 10**15


@pytest.mark.slow
def test_delete_preprocessed_removes_only_what_rave_wrote(
    fake_ffmpeg_env: dict[str, str], tmp_path: Path
) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    for index in range(3):
        _wav(audio / f"c{index}.wav", seconds=5.0)
    for name in ("kept", "gone"):
        output = tmp_path / name
        done = ravelab(
            fake_ffmpeg_env,
            *("dataset", "create", str(audio), "--name", name, "--output", str(output)),
            *("--num-signal", "65536"),
        )
        assert done.returncode == ExitCode.OK, done.stderr
        assert sorted(p.name for p in output.iterdir()) == ["data.mdb", "lock.mdb", "metadata.yaml"]
    (tmp_path / "kept" / "my-notes.txt").write_text("mine")
    done = ravelab(fake_ffmpeg_env, "dataset", "remove", "kept", "--delete-preprocessed")
    assert done.returncode == ExitCode.OK, done.stderr
    assert "kept " + str(tmp_path / "kept") in done.stderr and "my-notes.txt" in done.stderr
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["my-notes.txt"]
    done = ravelab(fake_ffmpeg_env, "dataset", "remove", "gone", "--delete-preprocessed")
    assert done.returncode == ExitCode.OK, done.stderr
    assert f"deleted the preprocessed folder {tmp_path / 'gone'}" in done.stdout
    assert not (tmp_path / "gone").exists()
    assert audio.is_dir() and len(list(audio.iterdir())) == 3
