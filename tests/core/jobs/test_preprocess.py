"""The health check before `rave preprocess`, its argv and its progress on the genuine
capture."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import pytest

from ravelab.core.jobs.preprocess import (
    build_preprocess_argv,
    check_audio_inputs,
    parse_preprocess_line,
)
from ravelab.core.runs.text_stream import LineSplitter
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
