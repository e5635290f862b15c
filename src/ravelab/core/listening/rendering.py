"""Hearing a render: a user's file through one of a run's checkpoints, then both in turn.

``render_for_listening`` runs ``ravelab render`` (``core/rave/render.py``: checked first,
then RAVE's own environment) into ``<run folder>/renders/`` under a name never taken
before, and reads back both the original and the render, ready to play one against the
other: the render is at the model's rate, so the original is brought to that rate too
(linear interpolation: for a preview, the render itself is untouched).

Files read here may be anything (a user's file): 8/16/24/32-bit PCM through
``wav_files``; 32/64-bit IEEE float (what the render writes) parsed from its chunks, within
the same size cap; anything else is a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ravelab.core.errors import ConfigError, RavelabError
from ravelab.core.listening.wav_files import Samples, read_wav
from ravelab.db import Database, ExperimentRecord

#: Where renders made from the app go, inside the run folder.
RENDERS_FOLDER = "renders"
#: The longest file rendered to be heard in the app (both signals are held in memory, as
#: float samples and as the player's 16-bit frames); ``ravelab render`` takes any length.
MAX_LISTEN_SECONDS = 300.0
_FLOAT_TAGS = (3, 0xFFFE)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RenderCancelled(RavelabError):
    """The render was stopped before it finished (its process was ended)."""


@dataclass(frozen=True)
class RenderedPair:
    """An original and its render, at one rate, ready to play in turn.

    Attributes:
        original: the user's audio at ``sample_rate`` (float32, (frames, channels)).
        render: what the checkpoint made of it (float32, (frames, channels)).
        sample_rate: the render's (the model's) rate.
        output: the render's file.
        checkpoint: the checkpoint file used, and its step when known.
        notes: what was done to the audio on the way, in words.
    """

    original: Samples
    render: Samples
    sample_rate: int
    output: Path
    checkpoint: Path
    step: int | None
    notes: list[str]


def read_audio(path: Path) -> tuple[Samples, int]:
    """Samples as float32 (frames, channels) and the rate, from a PCM or float WAV.

    Raises:
        ConfigError: not a WAV this can read, too large, or damaged, naming the file.
    """
    samples, info = read_wav(path)
    return samples, info.sample_rate


def resample_linear(samples: Samples, rate: int, target: int) -> Samples:
    """``samples`` at ``target`` Hz by linear interpolation (a preview, not a master)."""
    if rate == target or len(samples) == 0:
        return samples
    frames = max(round(len(samples) * target / rate), 1)
    at = np.arange(frames, dtype=np.float64) * (rate / target)
    source = np.arange(len(samples), dtype=np.float64)
    columns = [np.interp(at, source, samples[:, k]) for k in range(samples.shape[1])]
    return np.stack(columns, axis=1).astype(np.float32)


def render_path(run_dir: Path, source: Path, checkpoint: str) -> Path:
    """A name in ``<run>/renders/`` not taken yet: ``<input>-<checkpoint>[-N].wav``."""
    folder = run_dir / RENDERS_FOLDER
    stem = _SAFE.sub("_", source.stem)[:80] or "audio"
    label = _SAFE.sub("_", checkpoint if not checkpoint.isdigit() else f"step{checkpoint}")
    for count in range(1, 10_000):
        name = f"{stem}-{label}{'' if count == 1 else f'-{count}'}.wav"
        if not (folder / name).exists():
            return folder / name
    raise ConfigError(f"{str(folder)!r} holds too many renders of {source.name}: clear it")


def render_for_listening(
    db: Database,
    record: ExperimentRecord,
    source: Path,
    checkpoint: str = "best",
    *,
    rave: str | None = None,
    on_message: Callable[[dict[str, Any]], None] | None = None,
    cancel: threading.Event | None = None,
) -> RenderedPair:
    """Render ``source`` with ``checkpoint`` (best, latest, a step, a .ckpt path), read both.

    Raises:
        RavelabError: refused before RAVE started (in words), RAVE not found, the render
            failed (``RenderFailed``) or was cancelled (``RenderCancelled``).
    """
    from ravelab.core.rave.render import plan_render, read_wav_info, run_render

    if record.run_dir is None:
        raise ConfigError(f"run {record.id} '{record.name}' has no run folder: nothing renders")
    header = read_wav_info(source)  # refuses a missing, empty or non-WAV file in words
    if header.seconds > MAX_LISTEN_SECONDS:
        raise ConfigError(
            f"{source.name} lasts {header.seconds / 60:.1f} minutes: the app renders up to "
            f"{MAX_LISTEN_SECONDS / 60:.0f} minutes to compare by ear; cut it, or render it "
            "whole with `ravelab render`"
        )
    original, original_rate = read_audio(source)
    if len(original) == 0:
        raise ConfigError(f"{str(source)!r} holds no audio (0 frames)")
    output = render_path(Path(record.run_dir), source, checkpoint)
    output.parent.mkdir(exist_ok=True)
    plan = plan_render(db, record, source, output, checkpoint=checkpoint)

    def relay(message: dict[str, Any]) -> None:
        if cancel is not None and cancel.is_set():
            raise RenderCancelled("the render was stopped")  # run_script ends the process
        if on_message is not None:
            on_message(message)

    try:
        result = run_render(plan, rave=rave, db=db, on_message=relay)
    except RenderCancelled:
        # The name was free when this call chose it: a file there now is this render's.
        output.unlink(missing_ok=True)
        raise
    rendered, rate = read_audio(result.output)
    return RenderedPair(
        original=resample_linear(original, original_rate, rate),
        render=rendered,
        sample_rate=rate,
        output=result.output,
        checkpoint=result.checkpoint,
        step=result.step,
        notes=list(plan.notes) + [n for n in result.notes if n not in plan.notes],
    )
