"""``rave export``: choosing the checkpoint, RAVE's stereo bug, the command, its progress.

Facts (from RAVE 2.3.1's code and the real program): export builds the model from the run's
``config.gin`` (next to the checkpoint or up to two levels above) and writes one
TorchScript file ``<name>[_streaming].ts`` next to the checkpoint unless ``--output`` and
``--name`` say otherwise; it logs ``all good ! model exported to <path>``. With no
checkpoint under ``--run`` it prints ``No checkpoint found`` and fails (exit 1, checked on
the real program, though reading the code suggests 0), so the result is checked either
way. RAVE 2.3.1 never writes ``RAVE.n_channels`` into ``config.gin``, so a stereo run
exports as mono and fails unless it is added.
"""

from __future__ import annotations

import re
from pathlib import Path

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.rave.checkpoints import CheckpointFile, find_checkpoints
from ravelab.db.job_progress import JobProgressUpdate

_EXPORTED = re.compile(r"model exported to (?P<path>.+\.ts)\s*$")
_STAGES = (
    "building rave",
    "model found",
    "warmup pass",
    "optimize model",
    "script model",
    "save model",
)
_N_CHANNELS = re.compile(r"^\s*(?:[\w.]+\.)?RAVE\.n_channels\s*=", re.MULTILINE)


def choose_checkpoint(run_dir: Path, which: str) -> CheckpointFile:
    """``best`` (newest best*.ckpt), ``latest`` (newest of all) or a path.

    Raises:
        NotFoundError: no such checkpoint, with what to do.
    """
    if which not in ("best", "latest"):
        path = Path(which).expanduser()
        if not path.is_file():
            raise NotFoundError(f"checkpoint {which!r} does not exist")
        if path.suffix != ".ckpt":  # RAVE fails late, deep in torch.load, on anything else
            raise ConfigError(f"checkpoint {which!r} is not a .ckpt file: give a RAVE checkpoint")
        found = [c for c in find_checkpoints(run_dir) if c.path.resolve() == path.resolve()]
        if found:
            return found[0]
        stat = path.stat()
        return CheckpointFile(path.resolve(), -1, stat.st_size, stat.st_mtime)
    checkpoints = find_checkpoints(run_dir)
    if which == "best":
        checkpoints = [c for c in checkpoints if c.kind == "best"]
    if not checkpoints:
        raise NotFoundError(
            f"no {'best ' if which == 'best' else ''}checkpoint in {run_dir} yet: RAVE writes "
            "best.ckpt and epoch-epoch=N.ckpt at each validation (every --val_every steps)"
        )
    return max(checkpoints, key=lambda c: c.modified_at)


def run_folder_of(checkpoint: Path) -> Path:
    """The ``<name>_<hash>`` folder of a checkpoint (``.../version_N/checkpoints/x.ckpt``)."""
    return checkpoint.resolve().parent.parent.parent


def fix_stereo_config(checkpoint: Path, channels: int) -> bool:
    """Add ``RAVE.n_channels = N`` to the run's config.gin when RAVE left it out.

    The original is kept as ``config.gin.orig``. Returns True when the file was changed.
    """
    if channels <= 1:
        return False
    config = run_folder_of(checkpoint) / "config.gin"
    if not config.is_file():
        return False
    text = config.read_text(encoding="utf-8")
    if _N_CHANNELS.search(text):
        return False
    backup = config.with_name("config.gin.orig")
    if not backup.exists():
        backup.write_text(text, encoding="utf-8")
    config.write_text(
        text.rstrip("\n") + "\n\n# Added by ravelab: RAVE 2.3.1 omits it\n"
        f"RAVE.n_channels = {channels}\n",
        encoding="utf-8",
    )
    return True


def expected_model_path(
    checkpoint: Path, streaming: bool, output: Path | None
) -> tuple[Path, list[str]]:
    """Where the ``.ts`` will be, and the ``--output``/``--name`` flags that put it there."""
    suffix = "_streaming" if streaming else ""
    if output is None:
        name = run_folder_of(checkpoint).name
        return checkpoint.parent / f"{name}{suffix}.ts", []
    if output.suffix != ".ts":
        raise ConfigError(f"--output {str(output)!r} must be a .ts file name")
    base = output.stem
    if streaming and base.endswith("_streaming"):
        base = base[: -len("_streaming")]
    folder = output.expanduser().resolve().parent
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(f"--output {str(output)!r} is inside the file {str(blocker)!r}")
    return folder / f"{base}{suffix}.ts", ["--output", str(folder), "--name", base]


def build_export_argv(
    rave: str,
    checkpoint: Path,
    *,
    streaming: bool,
    fidelity: float | None,
    extra: list[str],
) -> list[str]:
    """``rave export`` as an argv list, on one explicit checkpoint."""
    if fidelity is not None and not 0.1 <= fidelity <= 0.999:
        raise ConfigError(f"fidelity {fidelity} is out of range: RAVE accepts 0.1 to 0.999")
    argv = [
        rave,
        "export",
        "--run",
        str(checkpoint),
        "--streaming" if streaming else "--nostreaming",
    ]
    if fidelity is not None:
        argv += ["--fidelity", str(fidelity)]
    return argv + extra


#: How an SSH run's export job (``ravelab.core.ssh.remote_export``) says why it failed.
REMOTE_EXPORT_ERROR = "remote export failed: "


def parse_export_line(text: str, stream: str) -> JobProgressUpdate:
    """The export's stage, the path it reports having written, and a remote export's
    reason for failing."""
    if text.startswith(REMOTE_EXPORT_ERROR):
        return {"last_error": text[len(REMOTE_EXPORT_ERROR) :].strip()[:500]}
    exported = _EXPORTED.search(text)
    if exported:
        return {"stage": "done", "exported_path": exported.group("path").strip()}
    for stage in _STAGES:
        if f"] {stage}" in text:
            return {"stage": stage}
    if "will not work with the RAVE VST" in text:
        return {"vst_warning": text.split("] ", 1)[-1].strip()}
    return {}
