"""The health check before `rave preprocess`, and export's checkpoint choice, stereo fix,
paths and progress, on the genuine captures."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.export import (
    build_export_argv,
    choose_checkpoint,
    expected_model_path,
    fix_stereo_config,
    parse_export_line,
)
from ravelab.core.preprocess import (
    build_preprocess_argv,
    check_audio_inputs,
    parse_preprocess_line,
)
from ravelab.core.text_stream import LineSplitter
from tests.conftest import FIXTURES


def write_wav(path: Path, seconds: float, rate: int = 44100, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"\0\0" * channels * int(seconds * rate))


@pytest.fixture
def fake_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ffmpeg and ffprobe on PATH (WAV lengths are read without them)."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    for tool in ("ffmpeg", "ffprobe"):
        (folder / tool).write_text("#!/bin/sh\nexit 0\n")
        (folder / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def test_missing_ffmpeg_is_a_problem_with_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_wav(tmp_path / "audio" / "a.wav", 10)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    report = check_audio_inputs([tmp_path / "audio"])
    assert not report.ok
    assert any(
        "ffmpeg is not installed" in p and "apt-get install ffmpeg" in p for p in report.problems
    )
    assert any("ffprobe is not installed" in p for p in report.problems)


def test_no_audio_with_the_extensions(fake_ffmpeg: Path, tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "notes.txt").write_text("no audio here")
    report = check_audio_inputs([tmp_path / "audio"], extensions=["wav", "flac"])
    assert report.problems == [
        f"no audio files with the extensions wav, flac in {(tmp_path / 'audio').resolve()}"
    ]


def test_a_missing_folder_is_named(fake_ffmpeg: Path, tmp_path: Path) -> None:
    report = check_audio_inputs([tmp_path / "nowhere"])
    assert report.problems == [f"audio folder {str(tmp_path / 'nowhere')!r} does not exist"]


def test_files_shorter_than_a_chunk_are_reported_with_what_is_kept(
    fake_ffmpeg: Path, tmp_path: Path
) -> None:
    audio = tmp_path / "audio"
    for index in range(3):
        write_wav(audio / f"short{index}.WAV", 5.0)  # upper-case extension counts too
    write_wav(audio / "sub" / "long.wav", 60.0)
    report = check_audio_inputs([audio])  # default num_signal: chunks of 5.94 s
    assert report.ok
    assert report.kept_chunks == 10  # 60 s // 5.94 s
    assert any(
        w.startswith(
            "3 of 4 files are shorter than one chunk (2 x num_signal = "
            "262144 samples = 5.94 s at 44100 Hz)"
        )
        for w in report.warnings
    )
    assert any("10 chunks (59.4 s) will be kept" in w for w in report.warnings)
    assert any(w.startswith("the dataset is small") for w in report.warnings)


def test_nothing_long_enough_is_a_problem_with_the_fix(fake_ffmpeg: Path, tmp_path: Path) -> None:
    for index in range(4):
        write_wav(tmp_path / "audio" / f"clip{index}.wav", 5.0)
    report = check_audio_inputs([tmp_path / "audio"])
    assert not report.ok
    assert any("smaller --num-signal (e.g. 65536" in p for p in report.problems)
    smaller = check_audio_inputs([tmp_path / "audio"], num_signal=65536)
    assert smaller.ok and smaller.kept_chunks == 4


def test_preprocess_argv_is_absolute_and_lazy_explicit(tmp_path: Path) -> None:
    argv = build_preprocess_argv(
        "/bin/rave",
        [tmp_path / "a", tmp_path / "b"],
        Path("rel/out"),
        num_signal=65536,
        channels=2,
        sample_rate=48000,
        lazy=True,
        extensions=["wav"],
    )
    assert argv[:6] == [
        "/bin/rave",
        "preprocess",
        "--input_path",
        str(tmp_path / "a"),
        "--input_path",
        str(tmp_path / "b"),
    ]
    out = argv[argv.index("--output_path") + 1]
    assert Path(out).is_absolute()  # a bare name makes RAVE fail on os.makedirs('')
    assert argv[-3:] == ["--ext", "wav", "--lazy"]


def test_preprocess_progress_from_the_genuine_capture() -> None:
    splitter = LineSplitter()
    data = (FIXTURES / "preprocess.stderr.raw").read_bytes()
    progress: dict[str, object] = {}
    for line in splitter.feed(data) + splitter.flush():
        progress.update(parse_preprocess_line(line.text, "stderr"))
    assert progress["chunks"] == 20
    assert progress["audio_seconds"] == pytest.approx(56.47, abs=0.01)


def _run_folder(root: Path) -> Path:
    run = root / "demo_0123456789"
    for version, names in ((0, ["best.ckpt", "epoch_100.ckpt"]), (1, ["epoch-epoch=0079.ckpt"])):
        folder = run / f"version_{version}" / "checkpoints"
        folder.mkdir(parents=True)
        for offset, name in enumerate(names):
            path = folder / name
            path.write_bytes(b"ckpt")
            stamp = 1_000_000 + version * 100 + offset
            os.utime(path, (stamp, stamp))
    (run / "config.gin").write_text("SAMPLING_RATE = 44100\n")
    return run


def test_choose_best_latest_or_a_path(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    assert choose_checkpoint(tmp_path, "best").path.name == "best.ckpt"
    assert choose_checkpoint(tmp_path, "latest").path.name == "epoch-epoch=0079.ckpt"
    given = run / "version_0" / "checkpoints" / "epoch_100.ckpt"
    assert choose_checkpoint(tmp_path, str(given)).path == given
    with pytest.raises(NotFoundError, match="does not exist"):
        choose_checkpoint(tmp_path, str(tmp_path / "x.ckpt"))
    with pytest.raises(NotFoundError, match=r"RAVE writes best\.ckpt"):
        choose_checkpoint(tmp_path / "empty", "best")


def test_stereo_config_gets_n_channels_once(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    checkpoint = run / "version_0" / "checkpoints" / "best.ckpt"
    assert not fix_stereo_config(checkpoint, 1)
    assert fix_stereo_config(checkpoint, 2)
    assert "RAVE.n_channels = 2" in (run / "config.gin").read_text()
    assert (run / "config.gin.orig").read_text() == "SAMPLING_RATE = 44100\n"
    assert not fix_stereo_config(checkpoint, 2)  # already there
    (run / "config.gin").write_text("model.RAVE.n_channels = 2\n")  # as users add it
    assert not fix_stereo_config(checkpoint, 2)


def test_model_paths_and_argv(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    checkpoint = run / "version_0" / "checkpoints" / "best.ckpt"
    path, extra = expected_model_path(checkpoint, True, None)
    assert path == checkpoint.parent / "demo_0123456789_streaming.ts" and extra == []
    path, extra = expected_model_path(checkpoint, True, tmp_path / "out" / "drums.ts")
    assert path == (tmp_path / "out" / "drums_streaming.ts").resolve()
    assert extra == ["--output", str((tmp_path / "out").resolve()), "--name", "drums"]
    with pytest.raises(ConfigError, match=r"must be a \.ts file"):
        expected_model_path(checkpoint, False, tmp_path / "model.pt")
    argv = build_export_argv("/bin/rave", checkpoint, streaming=False, fidelity=0.9, extra=[])
    assert argv == [
        "/bin/rave",
        "export",
        "--run",
        str(checkpoint),
        "--nostreaming",
        "--fidelity",
        "0.9",
    ]
    with pytest.raises(ConfigError, match=r"fidelity 2\.0 is out of range"):
        build_export_argv("/bin/rave", checkpoint, streaming=True, fidelity=2.0, extra=[])


def test_export_progress_from_the_genuine_capture() -> None:
    splitter = LineSplitter()
    data = (FIXTURES / "export_streaming.stderr.raw").read_bytes()
    progress: dict[str, object] = {}
    stages = []
    for line in splitter.feed(data) + splitter.flush():
        update = parse_export_line(line.text, "stderr")
        if "stage" in update:
            stages.append(update["stage"])
        progress.update(update)
    assert stages[0] == "building rave" and stages[-1] == "done"
    assert str(progress["exported_path"]).endswith("capture_65097e39f0_streaming.ts")
