"""A run's progress (``experiments.progress``): what its writers store, typed.

The column is a JSON object merged key by key by several writers: the follower (step,
speed, ETA, phase, the last error, failed reads), the manager (the stop at the next
checkpoint, resumes) and the launch (the first step and max steps). :class:`ProgressUpdate`
names the keys a writer may merge; :class:`RunProgress` is what readers get.

The stored JSON is untrusted (a database written by an older version, or edited by
hand): :meth:`RunProgress.from_json` never raises, and a value of the wrong type or out
of range reads as unknown (None, or the field's default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TypedDict

from ravelab.db.json_values import read_count, read_number, read_text


class ProgressUpdate(TypedDict, total=False):
    """Keys a writer merges into ``experiments.progress`` (None clears a value)."""

    step: int
    max_steps: int | None
    percent: float | None
    speed: float | None
    step_rate: float | None
    eta_s: float | None
    epoch: int
    batch: int
    batches: int
    train_examples: int
    phase: int
    phase_step: int
    phase_total: int
    phase_1_duration: int
    phase_detail: str
    updated_at: float
    fit_stopped: str
    last_error: str
    read_failures: int
    stopping_at_checkpoint: bool
    stopping_at_checkpoint_after: float
    resumes: int
    resumed_from: str


_READERS = {int: read_count, float: read_number, str: read_text}


@dataclass(frozen=True)
class RunProgress:
    """A run's progress as stored; None where a value is unknown (or was unreadable)."""

    step: int = 0
    max_steps: int | None = None
    percent: float | None = None  # 0..100 of max_steps
    speed: float | None = None  # the trainer's own rate (tqdm's it/s)
    step_rate: float | None = None  # steps per second over the last two minutes
    eta_s: float | None = None
    epoch: int | None = None
    batch: int | None = None
    batches: int | None = None
    train_examples: int | None = None
    phase: int | None = None  # RAVE's phase, 1 or 2
    phase_step: int | None = None
    phase_total: int | None = None
    phase_1_duration: int | None = None
    phase_detail: str | None = None  # "validation" while a validation epoch runs
    updated_at: float | None = None  # Unix time of the follower's last write
    fit_stopped: str | None = None  # Lightning's "`Trainer.fit` stopped: ..." reason
    last_error: str | None = None
    read_failures: int = 0  # polls failed in a row (see the follower)
    stopping_at_checkpoint: bool = False
    stopping_at_checkpoint_after: float | None = None  # newest checkpoint time at the ask
    resumes: int = 0
    resumed_from: str | None = None  # the checkpoint the last resume started from
    #: The JSON object this was read from, as stored: what :meth:`as_dict` gives back, so
    #: the original dict API shows the column unchanged.
    stored: Mapping[str, object] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> RunProgress:
        """The progress in a decoded JSON value; never raises (see the module)."""
        if not isinstance(data, Mapping):
            return cls(stored={})
        values: dict[str, object] = {}
        for item in fields(cls):
            if item.name == "stored" or item.name not in data:
                continue
            value = data[item.name]
            kind = _KINDS[item.name]
            if kind is bool:
                read: object = value if isinstance(value, bool) else None
            else:
                read = _READERS[kind](value)
            if read is not None:
                values[item.name] = read
        return cls(stored=dict(data), **values)  # type: ignore[arg-type]

    def merged(self, update: Mapping[str, object]) -> RunProgress:
        """This progress with ``update``'s keys merged in, as the column merges them."""
        return RunProgress.from_json({**self.as_dict(), **update})

    def as_dict(self) -> dict[str, object]:
        """The JSON object: as stored when read from the database, else the known values."""
        if self.stored is not None:
            return dict(self.stored)
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name != "stored" and getattr(self, item.name) is not None
        }


def _kind(annotation: str) -> type:
    for kind in (bool, int, float, str):
        if annotation.startswith(kind.__name__):
            return kind
    raise TypeError(f"no reader for {annotation!r}")  # pragma: no cover: a new field's type


#: Each field's base type, from its annotation (a string under postponed evaluation).
_KINDS: dict[str, type] = {
    item.name: _kind(str(item.type)) for item in fields(RunProgress) if item.name != "stored"
}


__all__ = ["ProgressUpdate", "RunProgress"]
