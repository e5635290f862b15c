"""Following every TensorBoard event file of a run (all ``version_N`` of a resumed run).

RAVE's losses exist only here (``<run>/<name>_<hash>/version_N/events.out.tfevents.*``).
This reads only the bytes added since the stored offsets, keeps finite scalars as
points, reports NaN/inf separately (a broken run), saves each validation audio clip as
a WAV file in the run folder, and collects the text summaries (RAVE's gin config).
An event file that cannot be read is reported in ``EventsPoll.problems`` and the others
are read all the same.

A poll may hand over tens of thousands of points, so the work per point is done by C-level
passes over the batch (``sum``, ``max``, ``map``, ``compress``) rather than a Python loop: one
sum tells whether every value is finite (a NaN or an infinity makes it non-finite; the rare
batch whose sum overflows is simply checked point by point), and whether a tag is a training
tag is decided once per tag, not once per point.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from pathlib import Path

from ravelab.core.tensorboard.events import (
    EventFileFollower,
    ScalarPoint,
    ScalarRow,
    event_file_version,
    find_event_files,
)
from ravelab.db.artifacts import AudioClipRecord

logger = logging.getLogger(__name__)

SOURCE_PREFIX = "tb:"
#: Folder (in the run folder) where validation clips are saved, one WAV per validation.
AUDIO_DIR = "audio"
#: Tags RAVE logs at validation only; the others are training scalars.
VALIDATION_TAGS = re.compile(r"^(validation|fidelity_.*)$")
#: The scalar RAVE logs once per validation, right after that validation's audio clip.
VALIDATION_TAG = "validation"
_RESCAN_S = 1.0
_TAG = itemgetter(0)
_STEP = itemgetter(1)
_VALUE = itemgetter(2)


@dataclass
class EventsPoll:
    """What one poll of a run's event files found."""

    points: list[ScalarRow] = field(default_factory=list)
    nonfinite: list[ScalarPoint] = field(default_factory=list)
    clips: list[AudioClipRecord] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    train_steps: set[int] = field(default_factory=set)
    #: Every ``validation`` point read, finite or not, as (version, step, wall time): clip
    #: *k* of a version belongs to that version's *k*-th validation.
    validations: list[tuple[int, int, float]] = field(default_factory=list)
    max_step: int | None = None
    more_pending: bool = False
    #: Event files that could not be read, as one-line reasons naming the file.
    problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.points or self.nonfinite or self.clips or self.texts)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "audio"


class RunEventsFollower:
    """Incremental reader of all the event files below a run folder.

    Args:
        run_dir: the run folder (RAVE's ``--out_path``) or a ``<name>_<hash>`` folder.
        offsets: stored offsets by source name (``tb:<path relative to run_dir>``).
        audio_dir: where to save validation clips; None to not save them.
    """

    def __init__(
        self, run_dir: Path, offsets: Mapping[str, int], audio_dir: Path | None = None
    ) -> None:
        self.run_dir = run_dir
        self.audio_dir = audio_dir
        self._offsets = {k: v for k, v in offsets.items() if k.startswith(SOURCE_PREFIX)}
        self._followers: dict[str, tuple[EventFileFollower, int]] = {}
        self._files: list[Path] = []
        self._scanned_at = 0.0
        self._training_tag: dict[str, bool] = {}

    def _scan(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._files and now - self._scanned_at < _RESCAN_S:
            return
        self._scanned_at = now
        self._files = find_event_files(self.run_dir)
        for path in self._files:
            key = SOURCE_PREFIX + str(path.relative_to(self.run_dir))
            if key not in self._followers:
                version = event_file_version(path) or 0
                follower = EventFileFollower(path, self._offsets.get(key, 0))
                self._followers[key] = (follower, version)

    def poll(self, rescan: bool = False) -> EventsPoll:
        """Read what the event files gained since the last poll (oldest version first, so
        a step logged twice across a resume keeps its first value)."""
        self._scan(force=rescan)
        result = EventsPoll()
        for key, (follower, version) in sorted(
            self._followers.items(), key=lambda item: (item[1][1], item[0])
        ):
            if result.more_pending:
                # An older version still has bytes waiting: read it to the end first, so a
                # step logged again by a resume never gets in before the original.
                break
            before = follower.offset
            try:
                batch = follower.poll()
            except OSError as error:
                # One unreadable file (replaced by a folder, unreadable) must not keep the
                # others from being read: it is reported, and tried again next poll.
                result.problems.append(f"cannot read {key[len(SOURCE_PREFIX) :]}: {error}")
                continue
            if batch.more_pending:
                result.more_pending = True
            if follower.offset == before:
                continue
            result.offsets[key] = follower.offset
            if batch.points:
                self._add_points(result, batch.points)
                # A C-level pass picks the validation points out; the tuple loop then runs
                # over those few only.
                is_validation = map(VALIDATION_TAG.__eq__, map(_TAG, batch.points))
                result.validations.extend(
                    (version, step, wall)
                    for _tag, step, _value, wall in compress(batch.points, is_validation)
                )
            for clip in batch.audio:
                saved = self._save_clip(
                    clip.tag, version, clip.step, clip.encoded, clip.content_type
                )
                if saved is not None:
                    result.clips.append(
                        AudioClipRecord(
                            clip.tag,
                            version,
                            clip.step,
                            clip.wall_time,
                            clip.sample_rate or None,  # 0: the event's rate was absurd
                            str(saved),
                        )
                    )
            for text in batch.texts:
                result.texts[text.tag] = text.text
        return result

    def _add_points(self, result: EventsPoll, points: Sequence[ScalarRow]) -> None:
        """Add one file's points: finite ones as points, others apart; steps and max step."""
        if math.isfinite(sum(map(_VALUE, points))):
            result.points.extend(points)
        else:
            for point in points:
                if math.isfinite(point[2]):
                    result.points.append(point)
                else:
                    result.nonfinite.append(ScalarPoint._make(point))
        # Training steps are the steps of the tags logged while training (not at validation,
        # not Lightning's ``epoch``), NaN or not: they drive the learning-rate points.
        is_training = self._training_tag
        tags = set(map(_TAG, points))
        for tag in tags - is_training.keys():
            is_training[tag] = not VALIDATION_TAGS.match(tag) and tag != "epoch"
        if all(is_training[tag] for tag in tags):
            result.train_steps.update(map(_STEP, points))
        elif any(is_training[tag] for tag in tags):
            keep = map(is_training.__getitem__, map(_TAG, points))
            result.train_steps.update(compress(map(_STEP, points), keep))
        top: int = max(map(_STEP, points))
        if result.max_step is None or top > result.max_step:
            result.max_step = top

    def _save_clip(
        self, tag: str, version: int, step: int, data: bytes, content_type: str
    ) -> Path | None:
        if self.audio_dir is None or not data:
            return None
        extension = "wav" if "wav" in content_type or data[:4] == b"RIFF" else "bin"
        path = self.audio_dir / f"{_safe(tag)}_v{version}_{step:05d}.{extension}"
        if path.exists():
            return path
        try:
            self.audio_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as error:
            logger.warning("could not save audio clip %s: %s", path, error)
            return None
        return path
