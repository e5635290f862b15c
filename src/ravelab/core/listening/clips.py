"""A run's validation clips, each at its training step and split into its pairs.

RAVE numbers its ``audio_val`` clips by validation (0, 1, 2, ... in every ``version_N``
folder, so a resumed run starts again at 0), not by training step. The step of clip *k*
of a version is the step of that version's *k*-th ``validation`` point: RAVE writes the two
within milliseconds, one after the other. ravelab records both as it reads the event files;
for a run recorded before it kept validations apart, the clip is matched to the
``validation`` point written right after it (by wall time) instead.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.listening.clip_layout import DEFAULT_SEGMENT, ClipLayout, layout_of
from ravelab.core.listening.wav_files import Samples, read_info, read_wav, write_wav
from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows
from ravelab.db.records import ExperimentRecord

#: RAVE's validation clips; other audio tags (a prior's ``generation``) have no pairs.
VALIDATION_AUDIO = "audio_val"
#: How far after its clip a ``validation`` point may be written and still be its own.
_WALL_SLACK_S = 120.0


@dataclass(frozen=True)
class ClipEntry:
    """One clip a person can play.

    Attributes:
        step: training step of the validation that made it (None when it cannot be told).
        version: the ``version_N`` folder it came from (a resume makes a new one).
        validation: RAVE's own number for it: the validation count within that version.
        path: the WAV file (it exists and its header was read).
        sample_rate, seconds, frames: of that file.
        channels: the run's channels (a stereo clip is still a mono file).
        segment: samples in each half of a pair.
        pairs: (input, reconstruction) pairs in the clip, one per validation example.
        layout_source: where ``segment`` came from (see ``ClipLayout``).
        step_source: ``"validation"`` (that version's validation points), ``"wall_time"``
            (the point written right after it) or ``"unknown"``.
    """

    tag: str
    step: int | None
    version: int
    validation: int
    path: str
    sample_rate: int
    seconds: float
    frames: int
    channels: int
    segment: int
    pairs: int
    layout_source: str
    step_source: str
    wall_time: float

    @property
    def layout(self) -> ClipLayout:
        return ClipLayout(self.segment, self.channels, self.pairs, self.layout_source)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClipListing:
    """Every playable clip of a run, by step, and the clips that could not be read."""

    clips: list[ClipEntry]
    problems: list[str]


def run_layout_hints(record: ExperimentRecord) -> tuple[int | None, int]:
    """The run's ``--n_signal`` (None when unknown) and channels, from its configuration."""
    config = record.config
    n_signal = config.get("n_signal")
    if not (isinstance(n_signal, int) and not isinstance(n_signal, bool) and n_signal > 0):
        # A run ravelab launched without --n_signal used RAVE's default; an imported one
        # may have used anything.
        n_signal = None if "imported_from" in config else DEFAULT_SEGMENT
    channels = config.get("channels")
    if not (isinstance(channels, int) and not isinstance(channels, bool) and channels in (1, 2)):
        channels = 1
    return n_signal, channels


def _validation_steps(db: Database, experiment_id: int) -> dict[int, list[int]]:
    by_version: dict[int, list[int]] = {}
    for version, step, _wall in artifacts.list_validations(db, experiment_id):
        by_version.setdefault(version, []).append(step)
    return by_version


def _by_wall_time(db: Database, experiment_id: int) -> tuple[list[float], list[int]]:
    """The stored ``validation`` points (wall times ascending, steps) for older runs."""
    columns = rows.metric_columns(db, experiment_id, "validation")
    pairs = sorted(zip(columns.walls.tolist(), columns.steps.tolist(), strict=True))
    return [float(w) for w, _ in pairs], [int(s) for _, s in pairs]


def list_clips(
    db: Database,
    record: ExperimentRecord,
    n_signal: int | None = None,
    tags: tuple[str, ...] = (VALIDATION_AUDIO,),
) -> ClipListing:
    """The run's clips of these tags, ordered by step (then version).

    Args:
        n_signal: the run's ``--n_signal`` when the caller knows better than the record.
    """
    hint, channels = run_layout_hints(record)
    if n_signal is not None:
        hint = n_signal
    steps = _validation_steps(db, record.id)
    walls: tuple[list[float], list[int]] | None = None
    clips: list[ClipEntry] = []
    problems: list[str] = []
    for clip in artifacts.list_audio_clips(db, record.id):
        if clip.tag not in tags:
            continue
        try:
            info = read_info(Path(clip.path))
        except ConfigError as error:
            problems.append(str(error))
            continue
        step: int | None = None
        source = "unknown"
        known = steps.get(clip.version, [])
        if 0 <= clip.step < len(known):
            step, source = known[clip.step], "validation"
        else:
            if walls is None:
                walls = _by_wall_time(db, record.id)
            at = bisect.bisect_left(walls[0], clip.wall_time)
            if at < len(walls[0]) and walls[0][at] - clip.wall_time <= _WALL_SLACK_S:
                step, source = walls[1][at], "wall_time"
        layout = layout_of(info.frames * info.channels, channels, hint)
        clips.append(
            ClipEntry(
                tag=clip.tag,
                step=step,
                version=clip.version,
                validation=clip.step,
                path=clip.path,
                sample_rate=info.sample_rate,
                seconds=round(info.seconds, 6),
                frames=info.frames,
                channels=layout.channels,
                segment=layout.segment,
                pairs=layout.pairs,
                layout_source=layout.source,
                step_source=source,
                wall_time=clip.wall_time,
            )
        )
    clips.sort(key=lambda c: (c.step if c.step is not None else -1, c.version, c.validation))
    return ClipListing(clips, problems)


def find_clip(clips: list[ClipEntry], step: int, version: int | None = None) -> ClipEntry:
    """The clip made at training ``step`` (the newest version's when a resume made two).

    Raises:
        NotFoundError: no clip at that step, naming the nearest ones.
    """
    matches = [c for c in clips if c.step == step and (version is None or c.version == version)]
    if matches:
        return max(matches, key=lambda c: c.version)
    known = sorted({c.step for c in clips if c.step is not None})
    if not known:
        raise NotFoundError("this run has no validation clips yet: RAVE writes one per validation")
    at = bisect.bisect_left(known, step)
    near = sorted(set(known[max(at - 1, 0) : at + 1]))
    where = f" in version {version}" if version is not None else ""
    raise NotFoundError(
        f"no clip at step {step}{where}; the nearest are at "
        f"{' and '.join(map(str, near))} (`ravelab audio list` shows them all)"
    )


def nearest_clip(clips: list[ClipEntry], step: int) -> ClipEntry | None:
    """The clip whose step is closest to ``step`` (ties: the earlier one), if any."""
    timed = [c for c in clips if c.step is not None]
    if not timed:
        return None
    return min(timed, key=lambda c: (abs((c.step or 0) - step), c.step, -c.version))


def read_pair(clip: ClipEntry, pair: int) -> tuple[Samples, Samples]:
    """The input and reconstruction of one pair, as float32 (frames, channels).

    Raises:
        ConfigError: the file cannot be read any more.
        NotFoundError: no such pair.
    """
    samples, _info = read_wav(Path(clip.path))
    try:
        return clip.layout.split(samples, pair)
    except IndexError as error:
        raise NotFoundError(f"the clip at step {clip.step} has {error}") from None


def export_pairs(
    clip: ClipEntry, out_dir: Path, run_name: str, pairs: list[int] | None = None
) -> list[Path]:
    """Write each pair's input and reconstruction as their own WAV files in ``out_dir``.

    Names are ``<run>-step<S>-pair<K>-input.wav`` and ``...-reconstruction.wav``; a file
    that exists is never replaced (the export fails naming it, before writing anything).

    Raises:
        NotFoundError: no such pair; ConfigError: a file exists or cannot be written.
    """
    chosen = list(range(clip.pairs)) if pairs is None else pairs
    if not chosen:
        raise NotFoundError(
            f"the clip at step {clip.step} could not be split into pairs (its length fits no "
            "--n_signal): pass the run's --n_signal"
        )
    for pair in chosen:
        if not 0 <= pair < clip.pairs:
            raise NotFoundError(
                f"the clip at step {clip.step} has no pair {pair}: "
                f"it has pairs 0 to {clip.pairs - 1}"
            )
    where = f"step{clip.step}" if clip.step is not None else f"v{clip.version}-val{clip.validation}"
    names = [
        (pair, out_dir / f"{run_name}-{where}-pair{pair}-{half}.wav")
        for pair in chosen
        for half in ("input", "reconstruction")
    ]
    for _pair, path in names:
        if path.exists():
            raise ConfigError(f"{str(path)!r} already exists: choose another folder with -o")
    out_dir.mkdir(parents=True, exist_ok=True)
    samples, _info = read_wav(Path(clip.path))
    written: list[Path] = []
    for pair in chosen:
        halves = clip.layout.split(samples, pair)
        for half, data in zip(("input", "reconstruction"), halves, strict=True):
            path = out_dir / f"{run_name}-{where}-pair{pair}-{half}.wav"
            write_wav(path, data, clip.sample_rate)
            written.append(path)
    return written
