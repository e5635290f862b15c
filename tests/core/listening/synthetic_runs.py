"""Synthetic runs with validation clips laid out as RAVE writes them, for the Listen panel's
tests, screenshots and benchmark.

Each clip is a real 16-bit WAV in the run folder's ``audio/`` (as ravelab saves them),
recorded in a real SQLite file the way the follower records them (``audio_clips`` rows,
one ``run_validations`` row per validation, ``checkpoints`` rows), so listing, reading and
splitting go through the real code. The audio is made to be told apart by ear and by eye:
every pair is a different short tune (harmonic notes with an envelope, a little noise);
the reconstruction is the input blurred and buried in noise that fades as steps go on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ravelab.core.listening.clip_layout import DEFAULT_SEGMENT
from ravelab.core.listening.wav_files import write_wav
from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows

RATE = 44_100


def tune(pair: int, frames: int, rate: int = RATE) -> np.ndarray:
    """A short tune, different for every pair: notes of a few harmonics, decaying."""
    generator = np.random.default_rng(pair)
    note_frames = max(frames // 8, 1)
    out = np.zeros(frames, dtype=np.float32)
    t = np.arange(note_frames) / rate
    envelope = np.exp(-t * 4.0).astype(np.float32)
    for start in range(0, frames, note_frames):
        midi = 48 + int(generator.integers(0, 24)) + pair
        freq = 440.0 * 2 ** ((midi - 69) / 12)
        note = sum(
            (0.5 / k) * np.sin(2 * np.pi * freq * k * t + generator.uniform(0, 6))
            for k in range(1, 6)
        )
        piece = (note * envelope).astype(np.float32)[: frames - start]
        out[start : start + len(piece)] += piece
    out += 0.01 * generator.standard_normal(frames).astype(np.float32)
    return np.clip(out * 0.6, -1, 1)


def reconstruction(heard: np.ndarray, quality: float, seed: int) -> np.ndarray:
    """The input smeared and noisy; ``quality`` in [0, 1] (1: close to the input)."""
    generator = np.random.default_rng(seed)
    width = max(int(32 * (1 - quality)) + 1, 1)
    smeared = np.convolve(heard, np.ones(width, dtype=np.float32) / width, mode="same")
    noise = generator.standard_normal(len(heard)).astype(np.float32)
    return np.clip(
        (0.3 + 0.7 * quality) * smeared + (0.08 * (1 - quality) + 0.003) * noise, -1, 1
    ).astype(np.float32)


def make_listen_run(
    db: Database,
    root: Path,
    name: str = "listen",
    clips: int = 12,
    pairs: int = 8,
    segment: int = DEFAULT_SEGMENT,
    val_every: int = 1000,
    phase_1_duration: int | None = 6000,
    checkpoint_every: int = 3,
    step_offset: int = 0,
    live: bool = False,
) -> int:
    """A run of ``clips`` validations (steps ``val_every - 1 + step_offset``, ...), each clip
    of ``pairs`` pairs of ``segment`` samples; checkpoints at every ``checkpoint_every``-th
    validation. Its id."""
    config = {"config": "v2", "n_signal": segment, "channels": 1, "val_every": val_every}
    experiment_id = rows.insert_experiment(
        db, name=name, project_id=1, dataset_id=None, config=config
    )
    run_dir = root / f"{experiment_id}-{name}"
    audio = run_dir / "audio"
    audio.mkdir(parents=True)
    status = "running" if live else "completed"
    fields: dict[str, object] = {"run_dir": str(run_dir), "status": status}
    if not live:
        fields["ended_at"] = "2026-01-01T11:00:00+00:00"
    rows.update_fields(db, experiment_id, **fields)
    if phase_1_duration is not None:
        rows.merge_progress(db, experiment_id, {"phase_1_duration": phase_1_duration})
    inputs = [tune(pair, segment) for pair in range(pairs)]
    add_clips(db, experiment_id, run_dir, inputs, range(clips), clips, val_every, step_offset)
    checkpoints = [
        artifacts.CheckpointRecord(
            path=str(run_dir / f"epoch_{k}.ckpt"),
            step=(k + 1) * val_every - 1 + step_offset,
            size_bytes=4,
            modified_at=1_700_000_000.0 + k,
        )
        for k in range(checkpoint_every - 1, clips, checkpoint_every)
    ]
    artifacts.upsert_checkpoints(db, experiment_id, checkpoints)
    return experiment_id


def add_clips(
    db: Database,
    experiment_id: int,
    run_dir: Path,
    inputs: list[np.ndarray],
    validations: range,
    total: int,
    val_every: int = 1000,
    step_offset: int = 0,
) -> None:
    """Record validations ``validations`` (of ``total`` planned) with their clips."""
    clip_rows = []
    validation_rows = []
    for k in validations:
        step = (k + 1) * val_every - 1 + step_offset
        wall = 1_700_000_000.0 + k * 60.0
        quality = (k + 1) / total
        halves = []
        for pair, heard in enumerate(inputs):
            halves += [heard, reconstruction(heard, quality, seed=1000 * k + pair)]
        path = run_dir / "audio" / f"audio_val_v0_{k}.wav"
        write_wav(path, np.concatenate(halves), RATE)
        clip_rows.append(artifacts.AudioClipRecord("audio_val", 0, k, wall, float(RATE), str(path)))
        validation_rows.append((0, step, wall + 0.005))
    artifacts.insert_audio_clips(db, experiment_id, clip_rows)
    artifacts.insert_validations(db, experiment_id, validation_rows)
