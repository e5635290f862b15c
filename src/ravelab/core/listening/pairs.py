"""Pairs read for hearing: one run's chosen pair, and the nearest pair of other runs.

The Listen panel runs these in its worker: they read files and compute spectrograms, and
return what the GUI thread only has to show (or a sentence saying why there is nothing).
``PairReader`` keeps the last few clips' samples, so choosing another pair of a clip, or
going back to a clip just heard, reads no file.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ravelab.core.errors import NotFoundError, RavelabError
from ravelab.core.listening import views
from ravelab.core.listening.clips import ClipEntry, nearest_clip
from ravelab.core.listening.timeline import Timeline, load_timeline
from ravelab.core.listening.wav_files import Samples, read_wav
from ravelab.db import Database, ExperimentRecord


class PairReader:
    """Reads clips' pairs, keeping the last ``keep`` clips' samples in memory.

    Not thread-safe: one reader per thread (the app's is used by one worker). A default
    clip is 8 MB as float32.
    """

    def __init__(self, keep: int = 4) -> None:
        self.keep = max(int(keep), 1)
        self._clips: OrderedDict[tuple[str, float], Samples] = OrderedDict()

    def read(self, clip: ClipEntry, pair: int) -> tuple[Samples, Samples]:
        """The input and reconstruction of ``pair``, float32 (frames, channels).

        Raises:
            ConfigError: the file cannot be read any more.
            NotFoundError: no such pair.
        """
        key = (clip.path, clip.wall_time)
        samples = self._clips.get(key)
        if samples is None:
            samples, _info = read_wav(Path(clip.path))
            self._clips[key] = samples
            while len(self._clips) > self.keep:
                self._clips.popitem(last=False)
        else:
            self._clips.move_to_end(key)
        try:
            return clip.layout.split(samples, pair)
        except IndexError as error:
            raise NotFoundError(f"the clip at step {clip.step} has {error}") from None


@dataclass(frozen=True)
class LoadedPair:
    """One run's pair, read and ready to show (``input_view`` None when not drawn)."""

    experiment_id: int
    clip: ClipEntry
    pair: int
    input: Samples
    reconstruction: Samples
    input_view: views.Spectrogram | None
    reconstruction_view: views.Spectrogram


@dataclass(frozen=True)
class NearestPair:
    """Another run's pair nearest a step: ``loaded`` None and ``note`` saying why not."""

    loaded: LoadedPair | None
    note: str
    timeline: Timeline


def load_pair(
    reader: PairReader, experiment_id: int, clip: ClipEntry, pair: int, with_input: bool = True
) -> LoadedPair | str:
    """A clip's pair with its spectrograms, or why it cannot be heard (a sentence)."""
    if clip.pairs == 0:
        return f"the clip at step {clip.step} fits no --n_signal and cannot be split into pairs"
    if not 0 <= pair < clip.pairs:
        return f"its clips have {clip.pairs} pair(s)"
    try:
        heard, made = reader.read(clip, pair)
    except (RavelabError, OSError) as error:
        return str(error)
    return LoadedPair(
        experiment_id,
        clip,
        pair,
        heard,
        made,
        views.spectrogram(heard, clip.sample_rate) if with_input else None,
        views.spectrogram(made, clip.sample_rate),
    )


def load_nearest(
    db: Database,
    records: Sequence[ExperimentRecord],
    step: int,
    pair: int,
    reader: PairReader,
    timelines: dict[int, Timeline] | None = None,
) -> dict[int, NearestPair]:
    """For each run, its pair ``pair`` at ``step`` or the nearest step it has.

    ``timelines`` are runs' timelines already read (others are read here).
    """
    known = timelines or {}
    out: dict[int, NearestPair] = {}
    for record in records:
        timeline = known.get(record.id) or load_timeline(db, record)
        clip = nearest_clip(timeline.clips, step)
        if clip is None:
            out[record.id] = NearestPair(None, "no validation clips", timeline)
            continue
        loaded = load_pair(reader, record.id, clip, pair, with_input=False)
        if isinstance(loaded, str):
            out[record.id] = NearestPair(None, loaded, timeline)
        else:
            out[record.id] = NearestPair(loaded, "", timeline)
    return out
