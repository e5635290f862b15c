"""A managed job's progress (``jobs.progress``): what its writers store, typed.

The column is a JSON object that a job's follower (``JobProcess``) merges key by key: how
far it read each output stream, what the kind's line parser found (preprocess: chunks and
audio written; export: its stage and the model's path), and the last error line.
:class:`JobProgressUpdate` names the keys a writer may merge; :class:`JobProgress` is what
readers get.

The stored JSON is untrusted (a database written by an older version, or edited by
hand): :meth:`JobProgress.from_json` never raises, and a value of the wrong type or out
of range reads as unknown (None, or no offset), as for a run's progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from ravelab.db.json_values import read_count, read_number, read_text


class JobProgressUpdate(TypedDict, total=False):
    """Keys a job's writers merge into ``jobs.progress``."""

    offsets: dict[str, int]
    last_error: str
    fatal: str
    chunks: int
    audio_seconds: float
    chunks_per_s: float
    stage: str
    exported_path: str
    vst_warning: str


@dataclass(frozen=True)
class JobProgress:
    """A job's progress as stored; None where a value is unknown (or was unreadable)."""

    #: Bytes of each output stream (``stdout``, ``stderr``) read and parsed so far.
    offsets: Mapping[str, int] = field(default_factory=dict)
    last_error: str | None = None  # the trainer's last error line, in words
    fatal: str | None = None  # a line after which the job would hang (it is then stopped)
    chunks: int | None = None  # preprocess: chunks written
    audio_seconds: float | None = None  # preprocess: audio read so far
    chunks_per_s: float | None = None  # preprocess: its rate
    percent: float | None = None  # 0..100, where a job reports one
    stage: str | None = None  # export: where it stands ("done" once written)
    exported_path: str | None = None  # export: the model's path as RAVE printed it
    vst_warning: str | None = None  # export: RAVE's warning about the VST
    warning: str | None = None  # a warning RAVE gave (shown when a job fails)
    #: The JSON object this was read from, as stored: what :meth:`as_dict` gives back, so
    #: ``ravelab jobs --json`` shows the column unchanged.
    stored: Mapping[str, object] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> JobProgress:
        """The progress in a decoded JSON value; never raises (see the module)."""
        if not isinstance(data, Mapping):
            return cls(stored={})

        def count(name: str) -> int | None:
            return read_count(data.get(name))

        def number(name: str) -> float | None:
            return read_number(data.get(name))

        def text(name: str) -> str | None:
            return read_text(data.get(name))

        return cls(
            offsets=_offsets(data.get("offsets")),
            last_error=text("last_error"),
            fatal=text("fatal"),
            chunks=count("chunks"),
            audio_seconds=number("audio_seconds"),
            chunks_per_s=number("chunks_per_s"),
            percent=number("percent"),
            stage=text("stage"),
            exported_path=text("exported_path"),
            vst_warning=text("vst_warning"),
            warning=text("warning"),
            stored=dict(data),
        )

    def as_dict(self) -> dict[str, object]:
        """The JSON object: as stored when read from the database, else the known values."""
        if self.stored is not None:
            return dict(self.stored)
        known: dict[str, object] = {"offsets": dict(self.offsets)} if self.offsets else {}
        for name in (
            "last_error",
            "fatal",
            "chunks",
            "audio_seconds",
            "chunks_per_s",
            "percent",
            "stage",
            "exported_path",
            "vst_warning",
            "warning",
        ):
            value = getattr(self, name)
            if value is not None:
                known[name] = value
        return known


def _offsets(value: object) -> dict[str, int]:
    """The offsets that are a stream name and a byte count; anything else is left out
    (that stream is then read again from its start: its lines set the same keys again)."""
    if not isinstance(value, Mapping):
        return {}
    found: dict[str, int] = {}
    for stream, offset in value.items():
        count = read_count(offset)
        if isinstance(stream, str) and count is not None:
            found[stream] = count
    return found


__all__ = ["JobProgress", "JobProgressUpdate"]
