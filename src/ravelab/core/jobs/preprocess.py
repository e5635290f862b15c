"""Datasets from raw audio: the health check before ``rave preprocess``, its command, its
progress, and the check after it (RAVE's preprocess exits 0 even when it wrote nothing).

Facts (from RAVE 2.3.1's code, checked against the real program; docs/REAL_RAVE.md): ffmpeg and
ffprobe must be on PATH; files are found recursively by extension; only whole chunks of
2 x ``--num_signal`` samples are kept, so shorter files are silently dropped; ``--lazy``
asks ``y/n`` on stdin; ``metadata.yaml`` records channels, sr, n_seconds and lazy. With no
file, a missing ffmpeg or an unreadable file, the non-lazy preprocess prints a line and
then hangs forever: those lines stop the job.
"""

from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ravelab.core.errors import ConfigError
from ravelab.core.names import shown
from ravelab.core.rave.preprocess_defaults import (
    AUDIO_EXTENSIONS,
    DEFAULT_NUM_SIGNAL,
    NUM_SIGNAL_RANGE,
    SAMPLE_RATE_RANGE,
)
from ravelab.db.job_progress import JobProgressUpdate

#: RAVE keeps 2 % of the chunks for validation (``split_dataset(dataset, 98)``).
VALIDATION_PERCENT = 2
#: v2/v2_small's latent PCA at validation needs this many latent frames (with fewer, the
#: first validation fails: a scikit-learn PCA of 128 components needs 128 samples).
MIN_VALIDATION_LATENT_FRAMES = 128
#: v2's compression ratio (one latent frame per 2048 samples).
COMPRESSION_RATIO = 2048
FFMPEG_HINT = (
    "install ffmpeg (Debian/Ubuntu: `sudo apt-get install ffmpeg`; macOS: `brew install "
    "ffmpeg`; conda: `conda install ffmpeg`)"
)

_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")
#: ASCII digits and bounded runs: ``\d`` also matches other scripts' digits, and a
#: thousand-digit run would be an int() over Python's limit (the line is untrusted).
_PROGRESS = re.compile(
    r"dataset length: (?P<length>[0-9:.]{1,24}).*?(?<![0-9])(?P<chunks>[0-9]{1,15})it "
    r"\[(?P<elapsed>[0-9:]{1,24})(?:,\s*(?P<rate>[0-9.?]{1,24})(?P<unit>it/s|s/it))?"
)


@dataclass
class AudioFile:
    """One input file and what RAVE will keep of it."""

    path: Path
    seconds: float | None  # None when its length could not be read
    chunks: int | None
    #: Why the length is unknown, or why the file is unusable; None when it was read.
    problem: str | None = None
    #: True when the file is certainly broken (a WAV header that says 0 Hz): RAVE's
    #: preprocess would stop on it, so it blocks the job.
    broken: bool = False


@dataclass
class HealthReport:
    """What will go wrong, in words, before ``rave preprocess`` runs.

    Attributes:
        problems: blocking: preprocessing would fail or produce nothing.
        warnings: it will run, but the user should know (dropped files, a small dataset).
    """

    files: list[AudioFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def kept_chunks(self) -> int:
        return sum(f.chunks or 0 for f in self.files)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "kept_chunks": self.kept_chunks,
            "problems": self.problems,
            "warnings": self.warnings,
        }


#: Longer than this is a corrupt length field, not audio (about 30 years).
MAX_AUDIO_SECONDS = 1e9


def probe_audio(path: Path, ffprobe: str | None) -> tuple[float | None, str | None, bool]:
    """``(seconds, problem, broken)`` for one file: WAV through the standard library,
    others (and WAVs it cannot read) through ffprobe.

    Every file is untrusted: a header that says 0 Hz or 0 channels, a truncated header, a
    file that is not audio at all, or an ffprobe answer that is not a finite length gives
    a problem in words, never an exception.
    """
    problem = None
    if path.suffix.lower() == ".wav":
        try:
            with wave.open(str(path), "rb") as handle:
                rate, frames, channels = (
                    handle.getframerate(),
                    handle.getnframes(),
                    handle.getnchannels(),
                )
        except (wave.Error, OSError, EOFError, ValueError, struct.error) as error:
            # e.g. WAVE_FORMAT_EXTENSIBLE or float WAVs, which ffprobe reads: ask it.
            problem = f"not a WAV file Python can read ({error or type(error).__name__})"
        else:
            if rate <= 0 or channels <= 0:
                return None, f"its WAV header says {rate} Hz and {channels} channel(s)", True
            return frames / rate, None, False
    if ffprobe is None:
        return None, problem or "ffprobe is not installed to read its length", False
    try:
        done = subprocess.run(
            [
                ffprobe,
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "default=noprint_wrappers=1:nokey=1",
                str(path),
            ],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"ffprobe failed on it ({error})", False
    answer = done.stdout.strip()
    # ASCII digits only: float() would also take "nan", "inf" and other scripts' digits.
    seconds = float(answer) if re.fullmatch(r"[0-9]+(\.[0-9]*)?", answer) else None
    if seconds is None or not 0 <= seconds <= MAX_AUDIO_SECONDS:
        said = (done.stderr.strip().splitlines() or [answer or "no length"])[-1][:120]
        return None, f"ffprobe cannot read it as audio ({said})", False
    return seconds, None, False


def audio_seconds(path: Path, ffprobe: str | None) -> float | None:
    """A file's duration, or None when it cannot be read (see ``probe_audio``)."""
    return probe_audio(path, ffprobe)[0]


def find_audio_files(inputs: Sequence[Path], extensions: Sequence[str]) -> list[Path]:
    """Files under ``inputs`` (recursively) with one of ``extensions``, any case."""
    wanted = {e.lower().lstrip(".") for e in extensions}
    found = []
    for folder in inputs:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower().lstrip(".") in wanted:
                found.append(path)
    return found


def check_audio_inputs(
    inputs: Sequence[str | Path],
    *,
    num_signal: int = DEFAULT_NUM_SIGNAL,
    sample_rate: int = 44_100,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> HealthReport:
    """Say what will go wrong with ``rave preprocess`` on these inputs, before it runs."""
    report = HealthReport()
    for label, value, (low, high) in (
        ("num_signal", num_signal, NUM_SIGNAL_RANGE),
        ("sample_rate", sample_rate, SAMPLE_RATE_RANGE),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            report.problems.append(f"{label} {value!r} is out of range: use {low} to {high}")
    if report.problems:
        return report  # the arithmetic below divides by both
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    for tool, found in (("ffmpeg", ffmpeg), ("ffprobe", ffprobe)):
        if found is None:
            report.problems.append(
                f"{tool} is not installed: rave preprocess needs it; {FFMPEG_HINT}"
            )
    bad = [e for e in extensions if not _EXTENSION.fullmatch(str(e).lstrip("."))]
    if bad:
        # An empty one would take every file without a suffix for audio.
        report.problems.append(
            f"{', '.join(shown(str(e)) for e in bad)}: not a file extension; use letters and "
            "digits such as wav or flac"
        )
        return report
    folders = []
    for raw in inputs:
        try:
            folder = Path(raw).expanduser()
            usable = folder.is_dir()
        except (OSError, RuntimeError, ValueError) as error:
            # ValueError: a NUL in the path; RuntimeError: an unknown ~user.
            report.problems.append(f"audio folder {shown(str(raw))} is not usable: {error}")
            continue
        if not usable:
            report.problems.append(f"audio folder {str(folder)!r} does not exist")
        else:
            folders.append(folder.resolve())
    if not folders:
        return report
    paths = find_audio_files(folders, extensions)
    if not paths:
        report.problems.append(
            f"no audio files with the extensions {', '.join(extensions)} in "
            f"{', '.join(str(f) for f in folders)}"
        )
        return report
    chunk = 2 * num_signal
    chunk_seconds = chunk / sample_rate
    for path in paths:
        seconds, problem, broken = probe_audio(path, ffprobe)
        chunks = None if seconds is None else math.floor(seconds * sample_rate / chunk)
        report.files.append(AudioFile(path, seconds, chunks, problem, broken))
    dropped = [f for f in report.files if f.chunks == 0]
    unusable = [f for f in report.files if f.broken]
    unknown = [f for f in report.files if f.chunks is None and not f.broken]
    kept = report.kept_chunks
    if unusable:
        report.problems.append(
            f"{len(unusable)} file(s) are not usable audio and would stop rave preprocess: "
            f"{_name_files(unusable)}; remove or repair them"
        )
    if dropped:
        report.warnings.append(
            f"{len(dropped)} of {len(report.files)} files are shorter than one chunk "
            f"(2 x num_signal = {chunk} samples = {chunk_seconds:.2f} s at {sample_rate} Hz) "
            f"and RAVE will silently drop them; {kept} chunks "
            f"({kept * chunk_seconds:.1f} s) will be kept"
        )
    if unknown:
        report.warnings.append(
            f"the length of {len(unknown)} files could not be read (no ffprobe, or an "
            f"unreadable file): they are not counted above: {_name_files(unknown)}"
        )
    if kept == 0 and not unknown:
        report.problems.append(
            f"no file is long enough for one chunk of {chunk_seconds:.2f} s: RAVE would write "
            "an empty dataset. Use a smaller --num-signal (e.g. 65536, then train with "
            "--n-signal 65536) or longer files"
        )
    elif kept:
        # Validation examples are cropped to the training --n_signal, by default num_signal.
        validation = kept - math.floor(kept * (100 - VALIDATION_PERCENT) / 100)
        frames = validation * num_signal // COMPRESSION_RATIO
        if validation < 1 or frames < MIN_VALIDATION_LATENT_FRAMES:
            needed = math.ceil(
                MIN_VALIDATION_LATENT_FRAMES
                * COMPRESSION_RATIO
                / num_signal
                * 100
                / VALIDATION_PERCENT
            )
            report.warnings.append(
                f"the dataset is small: {kept} chunks leave {validation} for validation, "
                f"{frames} latent frames with v2 (2048x compression; v2_small's 512x gives 4 "
                f"times more), and RAVE's latent PCA at validation wants at least "
                f"{MIN_VALIDATION_LATENT_FRAMES}; aim for about {needed} chunks "
                f"({needed * chunk_seconds / 60:.0f} min of audio)"
            )
    return report


def _name_files(files: Sequence[AudioFile], shown: int = 3) -> str:
    """The first few files and what is wrong with each, for a one-line message."""
    named = "; ".join(f"{f.path.name!r}: {f.problem}" for f in files[:shown])
    return named + (f"; and {len(files) - shown} more" if len(files) > shown else "")


def check_output_folder(output: str | Path) -> Path:
    """The absolute folder ``rave preprocess`` may write a new dataset into.

    Refused before anything runs: a path that is a file, a path under a file, and a folder
    that already holds something (RAVE would mix the new dataset into it).

    Raises:
        ConfigError: naming the path and what to do.
    """
    try:
        target = Path(output).expanduser().resolve()
        blocker = next((p for p in (target, *target.parents) if p.exists()), None)
        is_file = blocker is not None and not blocker.is_dir()
        holds_something = not is_file and target.is_dir() and any(target.iterdir())
    except (OSError, RuntimeError, ValueError) as error:
        # ValueError: a NUL in the path; RuntimeError: an unknown ~user; OSError: no access.
        raise ConfigError(f"output {shown(str(output))} is not a usable folder: {error}") from None
    if is_file:
        where = "is a file" if blocker == target else f"is inside the file {str(blocker)!r}"
        raise ConfigError(
            f"output {str(target)!r} {where}: give a new or empty folder for the dataset"
        )
    if holds_something:
        raise ConfigError(
            f"output folder {str(target)!r} exists and is not empty: give a new or empty "
            "folder (rave preprocess would mix the new dataset into what is there)"
        )
    return target


def build_preprocess_argv(
    rave: str,
    inputs: Sequence[Path],
    output: Path,
    *,
    num_signal: int,
    channels: int,
    sample_rate: int,
    lazy: bool,
    extensions: Sequence[str] | None = None,
) -> list[str]:
    """``rave preprocess`` as an argv list. ``--output_path`` is absolute (a bare name makes
    RAVE fail on ``os.makedirs('')``)."""
    argv = [rave, "preprocess"]
    for folder in inputs:
        argv += ["--input_path", str(folder)]
    argv += [
        "--output_path",
        str(output.resolve()),
        "--num_signal",
        str(num_signal),
        "--channels",
        str(channels),
        "--sampling_rate",
        str(sample_rate),
    ]
    for extension in extensions or ():
        argv += ["--ext", extension]
    argv.append("--lazy" if lazy else "--nolazy")
    return argv


#: Lines after which RAVE 2.3.1's preprocess hangs forever instead of exiting (checked on
#: the real program): its multiprocessing pool never calls back on an empty map, and a
#: worker's exception is printed as a tuple on stdout.
_HANG_LINES = (
    ("No valid file found", "RAVE found no audio file to preprocess"),
    ("(FileNotFoundError(2,", "ffmpeg or ffprobe is missing where RAVE runs; " + FFMPEG_HINT),
    ("(TypeError('cannot unpack non-iterable NoneType", "RAVE could not read an audio file"),
    ("(IndexError('list index out of range')", "RAVE could not read an audio file"),
)


def parse_preprocess_line(text: str, stream: str) -> JobProgressUpdate:
    """Progress from preprocess's tqdm without a total: chunks written, audio so far.

    A line after which RAVE would hang gives ``fatal``: the job is then stopped.
    """
    match = _PROGRESS.search(text)
    if match is None:
        for marker, reason in _HANG_LINES:
            if marker in text:
                return {"fatal": f"{reason} ({text.strip()[:200]})"}
        return {}
    length = match.group("length")
    seconds = 0.0
    for part in length.split(":"):
        try:
            seconds = seconds * 60 + float(part)
        except ValueError:
            break
    rate = match.group("rate")
    progress: JobProgressUpdate = {"chunks": int(match.group("chunks")), "audio_seconds": seconds}
    try:
        value = float(rate) if rate and "?" not in rate else 0.0
    except ValueError:  # e.g. "1.2.3"
        value = 0.0
    if value > 0:  # tqdm prints 0.00s/it for very fast chunks: no rate, not 1 / 0
        progress["chunks_per_s"] = value if match.group("unit") == "it/s" else 1 / value
    return progress
