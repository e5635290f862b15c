"""The fake ``rave`` (tests/fake_rave) run as a real subprocess, checked against the captures."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
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
    rave: Path, args: list[str], cwd: Path, scale: str = "0", **env: str
) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "FAKE_RAVE_TIME_SCALE": scale, **env}
    return subprocess.run(
        [str(rave), *args], cwd=cwd, env=environment, capture_output=True, timeout=60, check=False
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
        assert run_rave(rave, args, tmp_path, FAKE_RAVE_SEED_LINES="1").returncode == 0
    run_dir = only_run_dir(runs)
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.gin", "version_0", "version_1"]
    other = with_flag(args, "override", "PHASE_1_DURATION=200")
    assert run_rave(rave, other, tmp_path, FAKE_RAVE_SEED_LINES="1").returncode == 0
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
    assert run_rave(rave, args, tmp_path, FAKE_RAVE_SEED_LINES="1").returncode == 0
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
    assert run_rave(rave, args, tmp_path, FAKE_RAVE_SEED_LINES="1").returncode == 0


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


def test_seed_lines_knob(rave: Path, dataset: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = run_rave(rave, capture_args(dataset, runs), tmp_path, FAKE_RAVE_SEED_LINES="25")
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

    def start(args: list[str], scale: str = "0.05") -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "FAKE_RAVE_TIME_SCALE": scale,
            "FAKE_RAVE_READY_FILE": str(tmp_path / "ready"),
        }
        # The fake workers inherit stdout and stderr, as DataLoader workers do: files, not
        # pipes, so nothing waits for an EOF that only the workers' death would bring.
        with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
            proc = subprocess.Popen(
                args, cwd=tmp_path, env=env, stdout=out, stderr=err, process_group=0
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
