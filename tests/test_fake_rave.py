"""The fake ``rave`` (tests/fake_rave) run as a real subprocess, checked against the captures."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import wave
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fake_rave import FIXTURES, process_group_members, write_launcher

CAPTURE_EVENTS = FIXTURES / "events.out.tfevents.1795672257.vm.29866.0"
RESUME_EVENTS = FIXTURES / "events.out.tfevents.1795672861.vm.14705.0"
#: Byte length of the header records (file_version + the two text summaries).
HEADER_BYTES = 25614
FATAL_TAIL = b"Pass --helpshort or --helpfull to see help on flags.\n"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def rave(tmp_path_factory: pytest.TempPathFactory) -> Path:
    launcher = write_launcher(tmp_path_factory.mktemp("bin"))
    assert launcher.read_text().startswith(f"#!{sys.executable}\n")
    assert os.access(launcher, os.X_OK)
    return launcher


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A preprocessed dataset as far as the double looks at it: its metadata.yaml."""
    folder = tmp_path / "prep"
    folder.mkdir()
    shutil.copy(FIXTURES / "dataset-prep" / "metadata.yaml", folder / "metadata.yaml")
    return folder


def capture_args(dataset: Path, runs: Path, name: str = "capture") -> list[str]:
    """The flags of the ``train`` capture."""
    return [
        "train",
        "--config", "v2_small",
        "--db_path", str(dataset),
        "--out_path", str(runs),
        "--name", name,
        "--batch", "4",
        "--n_signal", "65536",
        "--max_steps", "300",
        "--val_every", "40",
        "--save_every", "100",
        "--workers", "0",
        "--channels", "1",
        "--override", "PHASE_1_DURATION=150",
    ]  # fmt: skip


def run_rave(
    rave: Path, args: list[str], cwd: Path, scale: str = "0", stdin: bytes = b"", **env: str
) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "FAKE_RAVE_TIME_SCALE": scale, **env}
    return subprocess.run(
        [str(rave), *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def with_flag(args: list[str], flag: str, value: str | None) -> list[str]:
    """``args`` with ``--flag``'s value replaced, or the flag removed when value is None."""
    index = args.index(f"--{flag}")
    if value is None:
        return args[:index] + args[index + 2 :]
    return [*args[: index + 1], value, *args[index + 2 :]]


def only_run_dir(runs: Path) -> Path:
    (run_dir,) = runs.iterdir()
    return run_dir


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def test_good_run_replays_the_capture_and_builds_the_run_folder(
    rave: Path, dataset: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    result = run_rave(rave, capture_args(dataset, runs), tmp_path)
    assert result.returncode == 0
    assert result.stdout == fixture_bytes("train.stdout.raw")
    assert result.stderr == fixture_bytes("train.stderr.raw")

    run_dir = only_run_dir(runs)
    assert re.fullmatch(r"capture_[0-9a-f]{10}", run_dir.name)
    assert (run_dir / "config.gin").read_bytes() == fixture_bytes("config.gin")
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.gin", "version_0"]
    version = run_dir / "version_0"
    assert (version / "hparams.yaml").read_bytes() == b"{}\n"
    (events,) = version.glob("events.out.tfevents.*")
    host = re.escape(socket.gethostname())
    assert re.fullmatch(rf"events\.out\.tfevents\.\d+\.{host}\.\d+\.0", events.name)
    assert events.read_bytes() == CAPTURE_EVENTS.read_bytes()
    # As real RAVE: best = lowest validation (step 79), the last validation's epoch-epoch
    # file (the one at step 199 was skipped: epoch_200 had saved that global step already),
    # and an epoch_K file every --save_every batches.
    checkpoints = version / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "best.ckpt",
        "epoch-epoch=0069.ckpt",
        "epoch_100.ckpt",
        "epoch_200.ckpt",
        "epoch_300.ckpt",
    ]
    assert (checkpoints / "best.ckpt").read_text().startswith("fake checkpoint step=80\n")
    assert (checkpoints / "epoch_300.ckpt").read_text().startswith("fake checkpoint step=300\n")


def test_same_flags_same_folder_next_version_other_flags_other_folder(
    rave: Path, dataset: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    args = capture_args(dataset, runs)
    for _ in range(2):
        assert run_rave(rave, args, tmp_path, FAKE_RAVE_STEP_LINES="1").returncode == 0
    run_dir = only_run_dir(runs)
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.gin", "version_0", "version_1"]
    other = with_flag(args, "override", "PHASE_1_DURATION=200")
    assert run_rave(rave, other, tmp_path, FAKE_RAVE_STEP_LINES="1").returncode == 0
    names = sorted(p.name for p in runs.iterdir())
    assert len(names) == 2
    assert all(re.fullmatch(r"capture_[0-9a-f]{10}", n) for n in names)


def test_max_steps_stops_early_like_lightning(rave: Path, dataset: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = with_flag(with_flag(capture_args(dataset, runs), "max_steps", "20"), "save_every", "8")
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 0
    profiler = fixture_bytes("train.stderr.raw").split(b"`max_steps=300` reached.\n")[1]
    assert result.stderr.endswith(b"`Trainer.fit` stopped: `max_steps=20` reached.\n" + profiler)
    captured = fixture_bytes("train.stdout.raw")
    last_bar = re.findall(rb"Epoch 4: 100%[^\r]*v_num=0\]", captured)[-1]
    assert result.stdout.endswith(last_bar + b"\r" + last_bar + b"\n")
    assert result.stdout[: -len(last_bar) - 1] == captured[: len(result.stdout) - len(last_bar) - 1]
    assert b"Epoch 5:" not in result.stdout
    version = only_run_dir(runs) / "version_0"
    assert sorted(p.name for p in (version / "checkpoints").iterdir()) == [
        "epoch_16.ckpt",
        "epoch_8.ckpt",
    ]
    (events,) = version.glob("events.out.tfevents.*")
    assert events.read_bytes() == CAPTURE_EVENTS.read_bytes()[:HEADER_BYTES]


def test_resume_adds_a_version_to_the_same_folder(
    rave: Path, dataset: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    first = with_flag(capture_args(dataset, runs), "max_steps", "40")
    assert run_rave(rave, first, tmp_path).returncode == 0
    run_dir = only_run_dir(runs)
    old = run_dir / "version_0" / "checkpoints"
    assert sorted(p.name for p in old.iterdir()) == ["best.ckpt", "epoch-epoch=0009.ckpt"]
    os.utime(old / "best.ckpt", (1, 1))  # so "newest *.ckpt by mtime" cannot tie
    newest = old / "epoch-epoch=0009.ckpt"

    resume = [*with_flag(first, "max_steps", "340"), "--ckpt", str(run_dir)]
    result = run_rave(rave, resume, tmp_path)
    assert result.returncode == 0
    assert f"loading state from file {newest}\n".encode() in result.stdout
    assert f"Restoring states from the checkpoint path at {newest}\n".encode() in result.stderr
    assert result.stderr.endswith(fixture_bytes("train_resume.stderr.raw")[-20000:])
    assert only_run_dir(runs) == run_dir
    new = run_dir / "version_1"
    (events,) = new.glob("events.out.tfevents.*")
    assert events.read_bytes() == RESUME_EVENTS.read_bytes()
    assert sorted(p.name for p in (new / "checkpoints").iterdir()) == [
        "best.ckpt",
        "epoch-epoch=0079.ckpt",
    ]
    # Lightning 1.9 reloads the epoch-epoch callback's best_model_path from the checkpoint
    # and deletes it at its first save (run_tree.txt: version_0 lost epoch-epoch=0069).
    assert sorted(p.name for p in old.iterdir()) == ["best.ckpt"]


def test_resume_without_a_checkpoint_starts_afresh(
    rave: Path, dataset: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    args = with_flag(capture_args(dataset, runs), "max_steps", "4")
    assert run_rave(rave, args, tmp_path, FAKE_RAVE_STEP_LINES="1").returncode == 0
    run_dir = only_run_dir(runs)
    result = run_rave(rave, [*args, "--ckpt", str(run_dir)], tmp_path)
    assert result.returncode == 0
    assert b"selected gpu: []\nNo checkpoint found\n" in result.stdout
    assert b"loading state" not in result.stdout
    assert (run_dir / "version_1" / "hparams.yaml").is_file()


def test_resume_without_config_gin_fails(rave: Path, dataset: Path, tmp_path: Path) -> None:
    runs, empty = tmp_path / "runs", tmp_path / "empty"
    empty.mkdir()
    result = run_rave(rave, [*capture_args(dataset, runs), "--ckpt", str(empty)], tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == b"AttributeError: run"
    assert not runs.exists()


@pytest.mark.parametrize(
    ("case", "prefix"),
    [
        ("bad_db_path", "train_bad_db_path"),
        ("bad_config", "train_bad_config"),
        ("no_channels", "train_channels0"),
        ("empty_dataset", "train_empty_dataset"),
    ],
)
def test_failures_replay_the_genuine_capture(
    rave: Path, dataset: Path, tmp_path: Path, case: str, prefix: str
) -> None:
    runs = tmp_path / "runs"
    args = capture_args(dataset, runs)
    expected = fixture_bytes(f"{prefix}.stderr.raw")
    if case == "bad_db_path":
        missing = tmp_path / "does_not_exist"
        args = with_flag(args, "db_path", str(missing))
        expected = expected.replace(
            b"'/data/rave/does_not_exist/metadata.yaml'", f"'{missing}/metadata.yaml'".encode()
        )
    elif case == "bad_config":
        args = with_flag(args, "config", "v9_nonexistent")
    elif case == "no_channels":
        args = with_flag(args, "channels", None)
    else:
        shutil.copy(FIXTURES / "prep_default.metadata.yaml", dataset / "metadata.yaml")
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 1
    assert result.stdout == fixture_bytes(f"{prefix}.stdout.raw")
    assert result.stderr == expected
    assert not runs.exists()


def test_bad_config_names_the_real_config(rave: Path, dataset: Path, tmp_path: Path) -> None:
    args = with_flag(capture_args(dataset, tmp_path / "runs"), "config", "my_custom")
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        b"OSError: Unable to open file: my_custom.gin."
    )
    (tmp_path / "my_custom.gin").write_text("# a gin file found through gin's '' prefix\n")
    assert run_rave(rave, args, tmp_path, FAKE_RAVE_STEP_LINES="1").returncode == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("xyz", "1"), b"Unknown command line flag 'xyz'"),
        (("nmae", "x"), b"Unknown command line flag 'nmae'. Did you mean: name ?"),
        (("name", None), b"flag --name=None: Flag --name must have a value other than None."),
        (
            ("db_path", None),
            b"flag --db_path=None: Flag --db_path must have a value other than None.",
        ),
        (
            ("max_steps", "abc"),
            b"flag --max_steps=abc: invalid literal for int() with base 10: 'abc'",
        ),
        (("gpu", "x"), b"flag --gpu=x: invalid literal for int() with base 10: 'x'"),
    ],
)
def test_flag_errors_are_absl_fatal_lines(
    rave: Path,
    dataset: Path,
    tmp_path: Path,
    change: tuple[str, str | None],
    message: bytes,
) -> None:
    flag, value = change
    args = capture_args(dataset, tmp_path / "runs")
    known = f"--{flag}" in args
    args = with_flag(args, flag, value) if known else [*args, f"--{flag}", str(value)]
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr == b"FATAL Flags parsing error: " + message + b"\n" + FATAL_TAIL


def test_help_and_bare_rave_replay_their_captures(rave: Path, tmp_path: Path) -> None:
    bare = run_rave(rave, [], tmp_path)
    assert (bare.returncode, bare.stdout) == (0, fixture_bytes("cli_noargs.stdout.raw"))
    for args, prefix in [
        (["train", "--help"], "train_help"),
        (["train", "--helpfull"], "train_helpfull"),
        (["preprocess", "--help"], "preprocess_help"),
        (["export", "--help"], "export_help"),
    ]:
        result = run_rave(rave, args, tmp_path)
        assert result.returncode == 1
        assert result.stdout == fixture_bytes(f"{prefix}.stdout.raw")
        assert result.stderr == fixture_bytes(f"{prefix}.stderr.raw")


def test_noprogress_replays_its_capture(rave: Path, dataset: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = [*with_flag(capture_args(dataset, runs), "save_every", "12"), "--noprogress"]
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 0
    assert result.stdout == fixture_bytes("train_noprogress.stdout.raw")
    assert result.stderr == fixture_bytes("train_noprogress.stderr.raw")
    checkpoints = only_run_dir(runs) / "version_0" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch_12.ckpt", "epoch_24.ckpt"]


@pytest.mark.parametrize(
    ("kind", "last_line"),
    [
        (
            "oom",
            b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has "
            b"a total capacity of 79.10 GiB of which 1.06 GiB is free.",
        ),
        ("error", b"RuntimeError: fake failure"),
    ],
)
def test_crash_knob(rave: Path, dataset: Path, tmp_path: Path, kind: str, last_line: bytes) -> None:
    runs = tmp_path / "runs"
    result = run_rave(
        rave,
        capture_args(dataset, runs),
        tmp_path,
        FAKE_RAVE_CRASH_AT="10",
        FAKE_RAVE_CRASH=kind,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == last_line
    assert b"Epoch 4:" in result.stdout
    assert b"Epoch 5:" not in result.stdout
    assert (only_run_dir(runs) / "version_0").is_dir()


def test_an_unknown_knob_is_refused(rave: Path, dataset: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = run_rave(rave, capture_args(dataset, runs), tmp_path, FAKE_RAVE_STEPS="25")
    assert result.returncode == 2
    assert b"unknown knob(s) FAKE_RAVE_STEPS" in result.stderr
    assert not runs.exists()


def test_step_lines_knob(rave: Path, dataset: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = run_rave(rave, capture_args(dataset, runs), tmp_path, FAKE_RAVE_STEP_LINES="25")
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    steps = [line for line in lines if line.startswith("step: ")]
    assert len(steps) == 25
    assert all(re.fullmatch(r"step: \d+ loss: \d+\.\d{4} lr: [0-9.e-]+", s) for s in steps)
    assert steps[0].startswith("step: 1 ") and steps[-1].startswith("step: 25 ")
    assert [i for i, line in enumerate(lines) if line.startswith("Validation val_loss: ")] == [
        10,
        21,
    ]
    assert (only_run_dir(runs) / "version_0" / "hparams.yaml").is_file()


# --- signals and process groups --------------------------------------------------------


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start the double in a process group of its own; kill whatever of it is left after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], scale: str = "0.05", **extra: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "FAKE_RAVE_TIME_SCALE": scale,
            "FAKE_RAVE_READY_FILE": str(tmp_path / "ready"),
            **extra,
        }
        # The fake workers inherit stdout and stderr, as DataLoader workers do: files, not
        # pipes, so nothing waits for an EOF that only the workers' death would bring.
        with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
            proc = subprocess.Popen(
                args,
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                process_group=0,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the trainer and any fake worker left
        proc.wait(timeout=10)


def test_sigint_stops_gracefully_with_exit_0(
    rave: Path, dataset: Path, tmp_path: Path, launch: Callable[..., subprocess.Popen[bytes]]
) -> None:
    runs = tmp_path / "runs"
    proc = launch([str(rave), *capture_args(dataset, runs)])
    wait_for((tmp_path / "ready").exists)
    assert process_group_members(proc.pid) == [proc.pid]  # --workers 0: no children
    wait_for(lambda: b"Epoch 2:" in (tmp_path / "out").read_bytes())
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    stdout, stderr = (tmp_path / "out").read_bytes(), (tmp_path / "err").read_bytes()
    genuine = fixture_bytes("train_sigint.stderr.raw")
    warning = genuine[genuine.rindex(b"/opt/rave-env/") :]
    assert warning.startswith(b"/opt/rave-env/lib/python3.11/site-packages/pytorch_lightning/")
    assert stderr.endswith(warning)
    assert stdout.endswith(b"v_num=0]")  # mid-bar, no final newline
    assert not (only_run_dir(runs) / "version_0" / "checkpoints").exists()


def test_a_held_trainer_still_stops_gracefully_on_sigint(
    rave: Path, dataset: Path, tmp_path: Path, launch: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """A test holds the double at a step to act while it trains; RAVE stops on SIGINT at
    any step, so the held double does too, without the hold file ever appearing."""
    hold = tmp_path / "hold"
    proc = launch(
        [str(rave), *capture_args(dataset, tmp_path / "runs")],
        FAKE_RAVE_HOLD_AT="5",
        FAKE_RAVE_HOLD_FILE=str(hold),
    )
    wait_for(Path(f"{hold}.reached").exists)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert not hold.exists()
    genuine = fixture_bytes("train_sigint.stderr.raw")
    assert (tmp_path / "err").read_bytes().endswith(genuine[genuine.rindex(b"/opt/rave-env/") :])


def test_sigterm_kills_at_once(
    rave: Path, dataset: Path, tmp_path: Path, launch: Callable[..., subprocess.Popen[bytes]]
) -> None:
    proc = launch([str(rave), *capture_args(dataset, tmp_path / "runs")])
    wait_for((tmp_path / "ready").exists)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
    assert b"KeyboardInterrupt" not in (tmp_path / "err").read_bytes()


def test_workers_ignore_sigint_and_outlive_the_trainer(
    rave: Path, dataset: Path, tmp_path: Path, launch: Callable[..., subprocess.Popen[bytes]]
) -> None:
    args = with_flag(capture_args(dataset, tmp_path / "runs"), "workers", "2")
    proc = launch([str(rave), *args])
    wait_for((tmp_path / "ready").exists)
    members = process_group_members(proc.pid)
    assert len(members) == 3 and proc.pid in members
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert proc.wait(timeout=20) == 0
    workers = process_group_members(proc.pid)
    assert len(workers) == 2  # still there after the trainer has gone
    os.killpg(proc.pid, signal.SIGTERM)
    wait_for(lambda: not process_group_members(proc.pid))


# --- rave preprocess ---------------------------------------------------------------------

PROMPT = b"Using lazy datasets on Windows/macOS might result in slow training. Continue ? (y/n) "
NO_FFMPEG = b"(FileNotFoundError(2, 'No such file or directory'),)\n"
CHUNK_65536 = 65536 * 2 / 44100  # seconds per chunk with --num_signal 65536


def write_wav(path: Path, seconds: float, rate: int = 44100, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(bytes(round(seconds * rate) * channels * 2))
    return path


@pytest.fixture(scope="module")
def raw20(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The captures' input: 20 mono 16-bit 44.1 kHz WAVs of 5 s (tools/make_dataset.py)."""
    folder = tmp_path_factory.mktemp("raw")
    for index in range(20):
        write_wav(folder / f"synth_{index:02d}.wav", 5)
    return folder


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, str]:
    """A PATH holding executables named ffmpeg and ffprobe: all the double looks for."""
    folder = tmp_path / "tools"
    folder.mkdir()
    for name in ("ffmpeg", "ffprobe"):
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)
    return {"PATH": str(folder)}


def no_tools(tmp_path: Path, keep: str | None = None) -> dict[str, str]:
    """A PATH without ffmpeg (and without ffprobe unless ``keep`` names it)."""
    folder = tmp_path / f"path_with_{keep or 'nothing'}"
    folder.mkdir(exist_ok=True)
    if keep:
        (folder / keep).write_text("#!/bin/sh\nexit 1\n")
        (folder / keep).chmod(0o755)
    return {"PATH": str(folder)}


def prep_args(source: Path, output: Path | str, *extra: str) -> list[str]:
    return ["preprocess", "--input_path", str(source), "--output_path", str(output), *extra]


def last_line(data: bytes) -> bytes:
    return data.rstrip(b"\n").split(b"\n")[-1]


def test_preprocess_replays_both_captures_for_their_input(
    rave: Path, raw20: Path, tmp_path: Path, tools: dict[str, str]
) -> None:
    prep = tmp_path / "prep"
    args = prep_args(raw20, prep, "--channels", "1", "--num_signal", "65536")
    result = run_rave(rave, args, tmp_path, **tools)
    assert result.returncode == 0
    assert result.stdout == fixture_bytes("preprocess.stdout.raw") == b""
    assert result.stderr == fixture_bytes("preprocess.stderr.raw")
    metadata = (prep / "metadata.yaml").read_bytes()
    assert metadata == fixture_bytes("dataset-prep/metadata.yaml")
    # dataset_tree.txt: data.mdb 5357568 bytes for 20 examples, lock.mdb 8192
    assert (prep / "data.mdb").stat().st_size == 5357568
    assert (prep / "lock.mdb").stat().st_size == 8192

    default = tmp_path / "prep_default"
    result = run_rave(rave, prep_args(raw20, default, "--channels", "1"), tmp_path, **tools)
    assert result.returncode == 0
    assert result.stderr == fixture_bytes("preprocess_default_numsignal.stderr.raw")
    assert (default / "metadata.yaml").read_bytes() == fixture_bytes("prep_default.metadata.yaml")
    assert (default / "data.mdb").stat().st_size == 8192
    # The train double accepts the dataset, and refuses the empty one as RAVE does.
    train = capture_args(prep, tmp_path / "runs")
    assert run_rave(rave, train, tmp_path, FAKE_RAVE_STEP_LINES="1").returncode == 0
    empty = run_rave(rave, with_flag(train, "db_path", str(default)), tmp_path)
    assert empty.stderr == fixture_bytes("train_empty_dataset.stderr.raw")


def test_preprocess_keeps_whole_chunks_of_each_file(
    rave: Path, tmp_path: Path, tools: dict[str, str]
) -> None:
    source = tmp_path / "audio"
    write_wav(source / "a.wav", 3.5)  # 1 chunk of 131072 samples
    write_wav(source / "deep" / "er" / "b.WAV", 7, channels=2)  # 2, found recursively
    write_wav(source / "c.wav", 2.9)  # too short: 0
    write_wav(source / "d.wav", 6.1, rate=22050)  # resampled to 44.1 kHz: 2
    (source / "e.flac").write_bytes(b"fLaC")  # cannot be measured: FAKE_RAVE_AUDIO_SECONDS
    (source / "notes.txt").write_text("not audio")
    output = tmp_path / "ds"
    args = prep_args(source, output, "--num_signal", "65536", "--channels", "2")
    result = run_rave(rave, args, tmp_path, FAKE_RAVE_AUDIO_SECONDS="9", **tools)
    assert result.returncode == 0
    chunks = 1 + 2 + 0 + 2 + 3
    last = result.stderr.split(b"\r")[-1]
    assert re.fullmatch(
        rb"dataset length: 0:00:20\.805079: : 8it \[00:\d\d, +[\d.]+it/s\]\n", last
    ), last
    assert result.stderr.startswith(b"\r0it [00:00, ?it/s]\rdataset length: 0:00:00: : 0it")
    expected = f"channels: 2\nlazy: false\nn_seconds: {CHUNK_65536 * (chunks - 1)!r}\nsr: 44100\n"
    assert (output / "metadata.yaml").read_text() == expected
    assert (output / "data.mdb").stat().st_size > chunks * 2 * 65536 * 4

    single = tmp_path / "single"
    write_wav(tmp_path / "solo" / "a.wav", 3.5)
    args = prep_args(tmp_path / "solo", single, "--num_signal", "65536")
    assert run_rave(rave, args, tmp_path, **tools).returncode == 0
    assert "n_seconds: 0.0\n" in (single / "metadata.yaml").read_text()  # 1 chunk: 0.0


def test_preprocess_without_files_hangs_like_rave_until_sigint(
    rave: Path,
    tmp_path: Path,
    tools: dict[str, str],
    launch: Callable[..., subprocess.Popen[bytes]],
) -> None:
    empty, output = tmp_path / "empty", tmp_path / "ds"
    empty.mkdir()
    proc = launch([str(rave), *prep_args(empty, output)], **tools)
    # map_async never calls back for an empty list: RAVE waits on its queue forever.
    wait_for(lambda: (tmp_path / "err").read_bytes() == b"\r0it [00:00, ?it/s]")
    message = f"No valid file found in {[str(empty)]}. Aborting\n".encode()
    assert (tmp_path / "out").read_bytes() == message
    assert sorted(p.name for p in output.iterdir()) == ["data.mdb", "lock.mdb"]
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == -signal.SIGINT  # CPython re-raises an uncaught SIGINT
    err = (tmp_path / "err").read_bytes()
    assert re.match(rb"\r0it \[00:00, \?it/s\]\r0it \[00:\d\d, \?it/s\]\nTraceback \(most", err)
    assert b'scripts/preprocess.py", line 187, in flatmap\n    item = queue.get()\n' in err
    assert err.endswith(b"\nKeyboardInterrupt\n")
    assert not (output / "metadata.yaml").exists()


def test_preprocess_lazy_without_files_writes_an_empty_dataset(
    rave: Path, tmp_path: Path, tools: dict[str, str]
) -> None:
    empty, output = tmp_path / "empty", tmp_path / "ds"
    empty.mkdir()
    result = run_rave(rave, [*prep_args(empty, output), "--lazy"], tmp_path, stdin=b"y\n", **tools)
    assert result.returncode == 0
    assert result.stdout == PROMPT + f"No valid file found in {[str(empty)]}. Aborting\n".encode()
    assert result.stderr == b"\r0it [00:00, ?it/s]\r0it [00:00, ?it/s]\n"
    metadata = (output / "metadata.yaml").read_text()
    assert metadata == "channels: 1\nlazy: true\nn_seconds: 0\nsr: 44100\n"


def test_preprocess_without_ffmpeg(
    rave: Path, tmp_path: Path, launch: Callable[..., subprocess.Popen[bytes]]
) -> None:
    source = tmp_path / "audio"
    write_wav(source / "a.wav", 5)
    # --lazy needs only ffprobe: without it, the pool's FileNotFoundError comes back.
    lazy = [*prep_args(source, tmp_path / "lazy"), "--lazy"]
    result = run_rave(rave, lazy, tmp_path, stdin=b"y\n", **no_tools(tmp_path))
    assert result.returncode == 1
    assert b"multiprocessing.pool.RemoteTraceback: \n" in result.stderr
    assert last_line(result.stderr) == (
        b"FileNotFoundError: [Errno 2] No such file or directory: 'ffprobe'"
    )
    assert not (tmp_path / "lazy" / "metadata.yaml").exists()
    with_ffprobe = no_tools(tmp_path, keep="ffprobe")
    assert run_rave(rave, lazy, tmp_path, stdin=b"y\n", **with_ffprobe).returncode == 0
    assumed = [*prep_args(source, tmp_path / "assumed"), "--num_signal", "65536"]
    result = run_rave(rave, assumed, tmp_path, FAKE_RAVE_ASSUME_FFMPEG="1", **no_tools(tmp_path))
    assert result.returncode == 0
    assert (tmp_path / "assumed" / "metadata.yaml").is_file()

    # Without --lazy every pool task fails; the error callback prints and RAVE hangs.
    output = tmp_path / "ds"
    proc = launch([str(rave), *prep_args(source, output)], **with_ffprobe)
    wait_for(lambda: (tmp_path / "out").read_bytes() == NO_FFMPEG)
    assert (tmp_path / "err").read_bytes() == b"\r0it [00:00, ?it/s]"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
    assert (tmp_path / "err").read_bytes() == b"\r0it [00:00, ?it/s]"
    assert not (output / "metadata.yaml").exists()


def test_preprocess_unreadable_file_and_hang_limit(
    rave: Path, tmp_path: Path, tools: dict[str, str]
) -> None:
    source = tmp_path / "audio"
    write_wav(source / "a.wav", 3.5)
    (source / "broken.wav").write_bytes(b"not a RIFF file")
    args = prep_args(source, tmp_path / "ds", "--num_signal", "65536")
    result = run_rave(rave, args, tmp_path, FAKE_RAVE_HANG_LIMIT="0.2", **tools)
    assert result.returncode == 124  # the double's limit; RAVE would hang on
    assert result.stdout == b"(TypeError('cannot unpack non-iterable NoneType object'),)\n"
    assert b"dataset length: 0:00:00: : 1it [" in result.stderr
    assert last_line(result.stderr) == b"fake rave: gave up hanging after 0.2 s"
    assert not (tmp_path / "ds" / "metadata.yaml").exists()


def test_preprocess_lazy_prompt(rave: Path, tmp_path: Path, tools: dict[str, str]) -> None:
    source = tmp_path / "audio"
    write_wav(source / "a.wav", 5)
    write_wav(source / "b.wav", 2.5, channels=2)
    output = tmp_path / "ds"
    args = [*prep_args(source, output), "--lazy"]

    eof = run_rave(rave, args, tmp_path, **tools)
    assert (eof.returncode, eof.stdout) == (1, PROMPT)
    assert eof.stderr.endswith(
        b"line 212, in main\n    while (answer := input(\n                     ^^^^^^\n"
        b"EOFError: EOF when reading a line\n"
    )
    refused = run_rave(rave, args, tmp_path, stdin=b"maybe\nN\n", **tools)
    assert refused.returncode == 0
    assert refused.stdout == PROMPT + b"Answer 'y' or 'n'.\n" + PROMPT + b"Aborting...\n"
    assert refused.stderr == b""
    assert not output.exists()

    accepted = run_rave(rave, args, tmp_path, stdin=b"Y\n", **tools)
    assert (accepted.returncode, accepted.stdout) == (0, PROMPT)
    last = accepted.stderr.split(b"\r")[-1]
    assert re.fullmatch(rb"dataset length: 0:00:07\.500000: : 2it \[00:00, +[\d.]+it/s\]\n", last)
    metadata = (output / "metadata.yaml").read_text()
    assert metadata == "channels: 1\nlazy: true\nn_seconds: 7.5\nsr: 44100\n"
    assert (output / "data.mdb").stat().st_size < 65536  # paths only, no audio


def test_preprocess_output_path_needs_a_directory_part(
    rave: Path, tmp_path: Path, tools: dict[str, str]
) -> None:
    source = tmp_path / "audio"
    write_wav(source / "a.wav", 5)
    bare = run_rave(rave, prep_args(source, "ds"), tmp_path, **tools)
    assert bare.returncode == 1
    assert bare.stderr.endswith(
        b'  File "<frozen os>", line 225, in makedirs\n'
        b"FileNotFoundError: [Errno 2] No such file or directory: ''\n"
    )
    assert not (tmp_path / "ds").exists()
    assert run_rave(rave, prep_args(source, "ds/"), tmp_path, **tools).returncode == 0
    assert (tmp_path / "ds" / "metadata.yaml").is_file()
    (tmp_path / "file").write_text("x")
    taken = run_rave(rave, prep_args(source, tmp_path / "file"), tmp_path, **tools)
    assert last_line(taken.stderr) == f"lmdb.Error: {tmp_path / 'file'}: Not a directory".encode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["preprocess"],
            b"\n  flag --input_path=None: Flag --input_path must have a value other than None."
            b"\n  flag --output_path=None: Flag --output_path must have a value other than None.",
        ),
        (
            ["preprocess", "--input_path", "x", "--output_path", "y", "--num_signal", "1.5"],
            b" flag --num_signal=1.5: invalid literal for int() with base 10: '1.5'",
        ),
        (
            ["export", "--run", "x", "--fidelity", "2"],
            b" flag --fidelity=2: 2.0 is not a number in the range [0.1, 0.999]",
        ),
        (["export"], b" flag --run=None: Flag --run must have a value other than None."),
        (
            ["export", "--run", "x", "--strem"],
            b" Unknown command line flag 'strem'. Did you mean: streaming ?",
        ),
    ],
)
def test_preprocess_and_export_flag_errors(
    rave: Path, tmp_path: Path, args: list[str], message: bytes
) -> None:
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 1
    info = b"INFO:root:library loading\nINFO:root:DEBUG\n" if args[0] == "export" else b""
    assert result.stderr == info + b"FATAL Flags parsing error:" + message + b"\n" + FATAL_TAIL


def test_preprocess_sigint_and_sigterm_while_it_works(
    rave: Path,
    tmp_path: Path,
    tools: dict[str, str],
    launch: Callable[..., subprocess.Popen[bytes]],
) -> None:
    source, output = tmp_path / "audio", tmp_path / "ds"
    write_wav(source / "long.wav", 30)  # 10 chunks of 131072 samples
    args = [str(rave), *prep_args(source, output, "--num_signal", "65536")]
    slow = {"FAKE_RAVE_PREPROCESS_SECONDS_PER_CHUNK": "0.3", **tools}
    proc = launch(args, scale="0", **slow)
    wait_for(lambda: b": : 3it [" in (tmp_path / "err").read_bytes())
    assert (output / "data.mdb").stat().st_size > 3 * 2 * 65536 * 2
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == -signal.SIGINT
    err = (tmp_path / "err").read_bytes()
    closed = err.split(b"Traceback (most recent call last):\n")[0]
    assert re.search(
        rb"\rdataset length: [\d:.]+: : \d+it \[00:0\d, +[\d.]+(it/s|s/it)\]\n$", closed
    )
    assert b'scripts/preprocess.py", line 190, in flatmap\n' in err
    assert err.endswith(b"\nKeyboardInterrupt\n")
    assert not (output / "metadata.yaml").exists()

    proc = launch(args, scale="0", **slow)
    wait_for(lambda: b": : 1it [" in (tmp_path / "err").read_bytes())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
    assert b"Traceback" not in (tmp_path / "err").read_bytes()


# --- rave export ---------------------------------------------------------------------------

CAPTURED_RUNS = b"/data/rave/runs"


def placeholder_run(runs: Path, channels: int | None = None) -> tuple[Path, Path]:
    """A run folder like the capture's: config.gin, an older and the newest checkpoint."""
    run = runs / "capture_65097e39f0"
    checkpoints = run / "version_1" / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copy(FIXTURES / "config.gin", run / "config.gin")
    suffix = f"channels={channels}\n" if channels else ""
    older = checkpoints / "best.ckpt"
    older.write_text("fake checkpoint step=300\n" + suffix)
    os.utime(older, (1, 1))
    newest = checkpoints / "epoch-epoch=0079.ckpt"
    newest.write_text("fake checkpoint step=320\n" + suffix)
    return run, newest


def read_ts(path: Path) -> dict[str, object]:
    with zipfile.ZipFile(path) as archive:
        assert archive.read("fake_torchscript/version") == b"3\n"
        info: dict[str, object] = json.loads(archive.read("fake_torchscript/info.json"))
    return info


@pytest.mark.parametrize("streaming", [True, False])
def test_export_replays_the_capture_next_to_the_newest_checkpoint(
    rave: Path, tmp_path: Path, streaming: bool
) -> None:
    runs = tmp_path / "runs"
    run, newest = placeholder_run(runs)
    prefix = "export_streaming" if streaming else "export_nonstreaming"
    args = ["export", "--run", str(run)] + (["--streaming"] if streaming else [])
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 0
    assert result.stdout == b""
    expected = fixture_bytes(f"{prefix}.stderr.raw").replace(CAPTURED_RUNS, str(runs).encode())
    assert result.stderr == expected
    name = "capture_65097e39f0_streaming.ts" if streaming else "capture_65097e39f0.ts"
    info = read_ts(newest.parent / name)
    assert info["ckpt"] == str(newest)
    assert (info["streaming"], info["fidelity"], info["n_channels"]) == (streaming, 0.95, 1)
    assert sorted(p.name for p in newest.parent.iterdir()) == sorted(
        ["best.ckpt", "epoch-epoch=0079.ckpt", name]
    )


def test_export_name_output_and_explicit_checkpoint(rave: Path, tmp_path: Path) -> None:
    run, _ = placeholder_run(tmp_path / "runs")
    best = run / "version_1" / "checkpoints" / "best.ckpt"
    out = tmp_path / "exports" / "deep"
    args = ["export", "--run", str(best), "--name", "mine", "--output", str(out)]
    args += ["--fidelity", "0.99", "--channels", "2", "--sr", "88200", "--ema_weights"]
    result = run_rave(rave, args, tmp_path)
    assert result.returncode == 0
    assert f"model found : {best}\n".encode() in result.stderr
    assert last_line(result.stderr).endswith(
        f"] all good ! model exported to {out}/mine.ts".encode()
    )
    info = read_ts(out / "mine.ts")
    assert (info["ckpt"], info["fidelity"], info["channels"], info["sr"]) == (
        str(best),
        0.99,
        2,
        88200,
    )
    assert info["ema_weights"] is True

    bad_sr = run_rave(rave, ["export", "--run", str(best), "--sr", "48000"], tmp_path)
    assert bad_sr.returncode == 1
    assert last_line(bad_sr.stderr) == b"AssertionError: Incompatible target sampling rate"
    # Without --name, the name is the 4th last path component: too short a path fails.
    short = run_rave(rave, ["export", "--run", "best.ckpt"], best.parent)
    assert short.returncode == 1
    assert last_line(short.stderr) == b"IndexError: list index out of range"


def test_export_without_a_checkpoint_fails_on_absl_validator(rave: Path, tmp_path: Path) -> None:
    run, _ = placeholder_run(tmp_path / "runs")
    for ckpt in run.rglob("*.ckpt"):
        ckpt.unlink()
    result = run_rave(rave, ["export", "--run", str(run)], tmp_path)
    assert result.returncode == 1  # the code reads as exit 0: real 2.3.1 raises first
    assert result.stdout == b"No checkpoint found\n"
    assert last_line(result.stderr) == (
        b"absl.flags._exceptions.IllegalFlagValueError: flag --run=None: "
        b"Flag --run must have a value other than None."
    )
    assert not list(run.rglob("*.ts"))


def test_export_config_search_failures(rave: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_rave(rave, ["export", "--run", str(empty)], tmp_path)
    assert (result.returncode, result.stdout) == (1, f"Config file not found in {empty}\n".encode())
    assert last_line(result.stderr) == (
        b"TypeError: expected str, bytes or os.PathLike object, not NoneType"
    )
    # --run at the folder holding the runs: config.gin exists below, so RAVE asks gin for
    # <runs>/config.gin, which does not exist.
    runs = tmp_path / "runs"
    placeholder_run(runs)
    result = run_rave(rave, ["export", "--run", str(runs)], tmp_path)
    assert result.returncode == 1
    missing = runs / "config.gin"
    assert re.search(
        rb"\nE\d{4} [\d:.]+ \d+ resource_reader.py:55\] Path not found: "
        + re.escape(bytes(missing)),
        result.stderr,
    )
    assert last_line(result.stderr) == (
        f"OSError: Unable to open file: {missing}. Searched config paths: [''].".encode()
    )
    assert not list(runs.rglob("*.ts"))


def test_stereo_run_exports_only_with_n_channels_in_config(
    rave: Path, dataset: Path, tmp_path: Path
) -> None:
    metadata = dataset / "metadata.yaml"
    metadata.write_text(metadata.read_text().replace("channels: 1", "channels: 2"))
    runs = tmp_path / "runs"
    args = with_flag(capture_args(dataset, runs), "channels", "2")
    args = with_flag(with_flag(args, "max_steps", "8"), "save_every", "4")
    assert run_rave(rave, args, tmp_path).returncode == 0
    run = only_run_dir(runs)
    (ckpt,) = (run / "version_0" / "checkpoints").glob("epoch_8.ckpt")
    assert ckpt.read_text().endswith("channels=2\n")

    result = run_rave(rave, ["export", "--run", str(run)], tmp_path)  # RAVE never writes n_channels
    assert result.returncode == 1
    mismatch = result.stderr.split(b"RuntimeError: Error(s) in loading state_dict for RAVE:\n")
    assert len(mismatch) == 2
    lines = mismatch[1].decode().splitlines()
    assert len(lines) == 12
    assert lines[0] == (
        "\tsize mismatch for encoder.encoder.net.0.weight_v: copying a param with shape "
        "torch.Size([48, 32, 7]) from checkpoint, the shape in current model is "
        "torch.Size([48, 16, 7])."
    )
    assert not list(run.rglob("*.ts"))

    with open(run / "config.gin", "a") as config:
        config.write("model.RAVE.n_channels = 2\n")  # the workaround RAVE users apply
    result = run_rave(rave, ["export", "--run", str(run)], tmp_path)
    assert result.returncode == 0
    assert b"this model seems compatible" not in result.stderr
    assert re.search(
        rb"\nW\d{4} [\d:.]+ \d+ export.py:596\] this model will not work with the RAVE VST. \n"
        rb" Caught error : model output is not stereo\n",
        result.stderr,
    )
    (exported,) = run.rglob("*.ts")
    assert read_ts(exported)["n_channels"] == 2


def test_the_earlier_name_of_the_step_lines_knob_still_works(
    rave: Path, dataset: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    result = run_rave(rave, capture_args(dataset, runs), tmp_path, FAKE_RAVE_SEED_LINES="3")
    assert result.returncode == 0
    assert result.stdout.count(b"step: ") == 3
