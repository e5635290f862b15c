"""``ravelab render``: a user's audio encoded and decoded by one of a run's checkpoints.

Everything that can be refused is checked here, before RAVE's environment (and torch) is
started: the input is a readable WAV with frames in it, the output a ``.wav`` that does not
exist yet (unless ``force``) in a folder that does, the run has a ``config.gin`` and the
checkpoint asked for, the channels can be matched (a mono model mixes any input down, a
stereo model takes mono copied to both sides, anything else is refused). The work itself is
``scripts/render_audio.py`` in RAVE's Python (see its docstring for the protocol and what
it does to the audio: resampling to the model's rate, the deterministic latent, blocks).

Checkpoints: ``best`` and ``latest`` and a ``.ckpt`` path as for ``ravelab export``, or a
training step: the recorded checkpoint whose step is nearest (the earlier on a tie).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ravelab.core.errors import ConfigError, NotFoundError, RavelabError
from ravelab.core.jobs.export import choose_checkpoint
from ravelab.core.listening.wav_files import WavInfo, read_info
from ravelab.core.numbers import parse_int
from ravelab.core.rave.env_scripts import RENDER_SCRIPT, rave_python, run_script
from ravelab.core.rave.gin_config import read_gin
from ravelab.core.rave.locator import find_rave
from ravelab.db import Database, ExperimentRecord, artifacts

#: nn~'s default buffer size, and the block of a streaming render.
DEFAULT_BLOCK = 4096
#: The largest streaming block accepted (2**20 samples, about 24 s at 44.1 kHz).
MAX_BLOCK = 1 << 20
#: Formats RIFF/WAVE files may declare that the render can read.


class RenderFailed(RavelabError):
    """The render started but gave no audio (the message says why)."""


@dataclass(frozen=True)
class RenderPlan:
    """A checked render, ready to run."""

    experiment: ExperimentRecord
    checkpoint: Path
    step: int | None
    config: Path
    input: Path
    output: Path
    wav: WavInfo
    model_channels: int
    model_rate: int | None
    streaming: bool
    block: int
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RenderResult:
    """What the render script reported."""

    output: Path
    sample_rate: int
    channels: int
    seconds: float
    realtime_factor: float | None
    delay_samples: int | None
    streaming: bool
    block: int | None
    notes: list[str]
    checkpoint: Path
    step: int | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.details,
            "output": str(self.output),
            "checkpoint": str(self.checkpoint),
            "step": self.step,
        }


def read_wav_info(path: Path) -> WavInfo:
    """The header of the input WAV file (PCM or IEEE float), checked.

    Raises:
        NotFoundError, ConfigError: not a readable WAV file with audio in it, in words.
    """
    if not path.is_file():
        raise NotFoundError(f"input {str(path)!r} does not exist or is not a file")
    if path.suffix.lower() not in (".wav", ".wave"):
        raise ConfigError(
            f"input {str(path)!r} is not a .wav file: render reads WAV only "
            "(convert it first, e.g. `ffmpeg -i in.mp3 in.wav`)"
        )
    info = read_info(path)
    if info.frames == 0:
        raise ConfigError(f"input {str(path)!r} holds no audio (0 frames)")
    return info


def config_of(checkpoint: Path, run_dir: Path) -> Path | None:
    """The ``config.gin`` a checkpoint was trained with, looked for as RAVE does: next to
    it, then up to two folders up (``<name>_<hash>/version_N/checkpoints/``); then in the
    run folder ravelab made (RAVE's ``--out_path``) and the one run folder inside it."""
    folders = [checkpoint.parent, checkpoint.parent.parent, checkpoint.parent.parent.parent]
    folders.append(run_dir)
    folders += sorted(p.parent for p in run_dir.glob("*/config.gin"))[:1]
    return next((f / "config.gin" for f in folders if (f / "config.gin").is_file()), None)


def checkpoint_for(
    db: Database, experiment: ExperimentRecord, which: str
) -> tuple[Path, int | None]:
    """``best`` | ``latest`` | a step | a ``.ckpt`` path -> the file and its step.

    Raises:
        NotFoundError: the run has no such checkpoint, naming the run and what to do.
    """
    assert experiment.run_dir is not None
    recorded = artifacts.list_checkpoints(db, experiment.id)
    step = parse_int(which) if which.isascii() and which.isdigit() else None
    if step is not None:
        present = [c for c in recorded if c.step is not None and Path(c.path).is_file()]
        if not present:
            raise NotFoundError(
                f"run {experiment.id} '{experiment.name}' has no checkpoint with a known "
                "step: give best, latest or a .ckpt path (`ravelab checkpoints "
                f"{experiment.id}` lists them)"
            )
        chosen = min(present, key=lambda c: (abs(int(c.step or 0) - step), c.step))
        return Path(chosen.path), chosen.step
    try:
        found = choose_checkpoint(Path(experiment.run_dir), which)
    except NotFoundError as error:
        raise NotFoundError(
            f"run {experiment.id} '{experiment.name}': {error}; train it further, or give "
            "--checkpoint with a .ckpt path"
        ) from None
    resolved = found.path.resolve()
    step_of = next((c.step for c in recorded if Path(c.path).resolve() == resolved), None)
    return found.path, step_of


def plan_render(
    db: Database,
    experiment: ExperimentRecord,
    input_path: str | Path,
    output_path: str | Path,
    *,
    checkpoint: str = "best",
    streaming: bool = False,
    block: int = DEFAULT_BLOCK,
    force: bool = False,
) -> RenderPlan:
    """Check everything that can be checked without torch.

    Raises:
        NotFoundError: no input file, no run folder or config, no such checkpoint.
        ConfigError: input not WAV or empty, channels that cannot be matched, the output
            exists (without ``force``), is not ``.wav``, or its folder does not exist.
    """
    source = Path(input_path).expanduser()
    wav = read_wav_info(source)
    output = Path(output_path).expanduser()
    if output.suffix.lower() != ".wav":
        raise ConfigError(f"output {str(output)!r} must be a .wav file name")
    if not output.parent.is_dir():
        raise ConfigError(f"the folder of output {str(output)!r} does not exist")
    if output.resolve() == source.resolve():
        raise ConfigError(f"output {str(output)!r} is the input: give another file name")
    if output.exists() and not force:
        raise ConfigError(
            f"output {str(output)!r} exists: give --force to replace it, or another -o"
        )
    if output.exists() and not output.is_file():
        raise ConfigError(f"output {str(output)!r} exists and is not a file")
    if streaming and (block < 1 or block & (block - 1) or block > MAX_BLOCK):
        raise ConfigError(f"block {block} is not a power of two up to {MAX_BLOCK} (nn~ uses 4096)")
    if experiment.run_dir is None:
        raise NotFoundError(
            f"run {experiment.id} '{experiment.name}' has no run folder (it never started): "
            "nothing to render with"
        )
    chosen, step = checkpoint_for(db, experiment, checkpoint)
    config = config_of(chosen, Path(experiment.run_dir))
    if config is None:
        raise NotFoundError(
            f"run {experiment.id} '{experiment.name}' has no config.gin next to "
            f"{chosen.name} or in {experiment.run_dir}: RAVE writes it when training starts"
        )
    gin = read_gin(config)
    channels = int(experiment.config.get("channels") or gin.n_channels or 1)
    notes = []
    if wav.channels != channels:
        if channels == 1:
            notes.append(f"mixes {wav.channels} channels down to mono (the model is mono)")
        elif wav.channels == 1:
            notes.append(f"copies the mono input to {channels} channels")
        else:
            raise ConfigError(
                f"input {str(source)!r} has {wav.channels} channels and the model "
                f"{channels}: give a mono or {channels}-channel file"
            )
    rate = gin.sampling_rate
    if rate is not None and rate != wav.sample_rate:
        notes.append(f"resamples from {wav.sample_rate} Hz to {rate} Hz (the model's rate)")
    return RenderPlan(
        experiment=experiment,
        checkpoint=chosen,
        step=step,
        config=config,
        input=source,
        output=output,
        wav=wav,
        model_channels=channels,
        model_rate=rate,
        streaming=streaming,
        block=block,
        notes=notes,
    )


def render_argv(plan: RenderPlan) -> list[str]:
    """The render script's arguments (after the interpreter and the script)."""
    args = [
        "--config",
        str(plan.config),
        "--checkpoint",
        str(plan.checkpoint),
        "--input",
        str(plan.input),
        "--output",
        str(plan.output),
        "--channels",
        str(plan.model_channels),
    ]
    if plan.streaming:
        args += ["--streaming", "--block", str(plan.block)]
    return args


def run_render(
    plan: RenderPlan,
    *,
    rave: str | None = None,
    db: Database | None = None,
    on_message: Callable[[dict[str, Any]], None] | None = None,
) -> RenderResult:
    """Run a checked plan in RAVE's environment.

    Raises:
        RaveNotFoundError: no RAVE environment.
        RenderFailed: the script gave no audio (its own message, or the end of its stderr).
    """
    python = rave_python(find_rave(rave, db))
    run = run_script(python, RENDER_SCRIPT, render_argv(plan), on_message)
    result = run.last("result")
    if run.returncode != 0 or result is None or not plan.output.is_file():
        raise RenderFailed(f"render failed: {run.failure('RAVE')}")
    return RenderResult(
        output=plan.output,
        sample_rate=_int(result.get("sample_rate")) or 0,
        channels=_int(result.get("channels")) or 0,
        seconds=_float(result.get("seconds")) or 0.0,
        realtime_factor=_float(result.get("realtime_factor")),
        delay_samples=_int(result.get("delay_samples")),
        streaming=plan.streaming,
        block=_int(result.get("block")),
        notes=[str(n) for n in result.get("notes", []) if isinstance(n, str)],
        checkpoint=plan.checkpoint,
        step=plan.step,
        details=result,
    )


def render(
    db: Database,
    experiment: ExperimentRecord,
    input_path: str | Path,
    output_path: str | Path,
    *,
    checkpoint: str = "best",
    streaming: bool = False,
    block: int = DEFAULT_BLOCK,
    force: bool = False,
    rave: str | None = None,
    on_message: Callable[[dict[str, Any]], None] | None = None,
) -> RenderResult:
    """Render ``input_path`` through one of ``experiment``'s checkpoints (the Python API).

    ``on_message`` gets the script's messages as they come (progress, notes, result).
    """
    plan = plan_render(
        db,
        experiment,
        input_path,
        output_path,
        checkpoint=checkpoint,
        streaming=streaming,
        block=block,
        force=force,
    )
    return run_render(plan, rave=rave, db=db, on_message=on_message)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None
