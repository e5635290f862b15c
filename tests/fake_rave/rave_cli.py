"""The fake ``rave`` command (acids-rave 2.3.1): absl flags, RAVE's checks, then a replay.

``rave`` alone (or an unknown subcommand) replays ``cli_noargs`` (exit 0). ``rave train``
parses its flags the way absl does (``FATAL Flags parsing error: …``, exit 1; ``--help`` and
``--helpfull`` replay their captures, exit 1), runs RAVE's checks in RAVE's order (dataset
metadata, channels, augmentations, config or resume config, channel count, dataset size),
replaying the genuine failure captures with the real paths and names, and otherwise replays
a good run (see replay.py). ``rave preprocess`` and ``rave export`` are emulated in
preprocess.py and export.py (their docstrings list what real RAVE does and the double
copies); ``train_prior``, ``export_onnx``, ``remote_dataset`` and ``generate`` are not
(exit 2 with a note on stderr).

Environment knobs:

* ``FAKE_RAVE_TIME_SCALE``: capture seconds -> real seconds (float, default 0.02; 0 = no
  sleeping at all). A whole good run is 574 capture seconds.
* ``FAKE_RAVE_READY_FILE``: a path touched once the run folder exists (run dir, config.gin,
  version_N/hparams.yaml, the event file) and the fake workers are up.
* ``FAKE_RAVE_HOLD_AT`` (a global step) with ``FAKE_RAVE_HOLD_FILE``: on reaching that
  step the replay touches ``<file>.reached`` and waits until the file exists (a test acts
  while the run surely still trains, whatever the machine's load).
* ``FAKE_RAVE_CRASH_AT`` (capture seconds) with ``FAKE_RAVE_CRASH=oom|error`` (default
  error): at that point a traceback on stderr ending in ``torch.OutOfMemoryError: CUDA out of
  memory. …`` or ``RuntimeError: fake failure``, exit 1.
* ``FAKE_RAVE_STEP_LINES=N``: instead of the capture, N lines ``step: i loss: x lr: y`` (every
  10th followed by ``Validation val_loss: v``) on stdout, as fast as possible or at
  ``FAKE_RAVE_STEP_RATE`` lines per second; the run folder is still created; exit 0.
* ``FAKE_RAVE_ASSUME_FFMPEG=1`` (preprocess): act as if ffmpeg and ffprobe were on PATH.
  Otherwise ``shutil.which`` looks for them on the double's own PATH, as RAVE's subprocesses
  would.
* ``FAKE_RAVE_AUDIO_SECONDS`` (preprocess): length given to audio files the double cannot
  measure (anything but WAV; default 0, i.e. no chunk).
* ``FAKE_RAVE_PREPROCESS_SECONDS_PER_CHUNK`` (preprocess): real seconds added per chunk (or
  per file with --lazy), on top of the scaled capture timing (default 0).
* ``FAKE_RAVE_HANG_LIMIT`` (preprocess): where real RAVE hangs forever (no file found
  without --lazy, a worker error), the double gives up after this many real seconds
  (default 600) with a note on stderr and exit 124.

Placeholder checkpoints record ``channels=N`` (train's ``--channels``), which the fake
export compares with config.gin's ``RAVE.n_channels`` (RAVE 2.3.1 never writes it).

Deliberate differences from real RAVE: ``--workers`` defaults to 0 (RAVE: 8); ``--batch``,
``--val_every``, ``--n_signal``, ``--gpu`` and the other training knobs are parsed and
validated but the replay is always the captured one (19 examples, batch 4, validation every
40 steps, phase 2 from step 150); a run never goes past the capture's last step (300, 340
after a resume, 24 with ``--noprogress``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Any

from tests.fake_rave import FIXTURES
from tests.fake_rave import export as export_command
from tests.fake_rave import preprocess as preprocess_command
from tests.fake_rave.absl_flags import (
    ABSL_FLAGS,
    TRAIN_FLAGS,
    FlagError,
    HelpRequested,
    NegatedWithValue,
    parse_flags,
)
from tests.fake_rave.captures import emit, rave_traceback, replay_plain
from tests.fake_rave.replay import NOPROGRESS, RESUME, TRAIN, Replayer, RunPlan, run_step_lines

AVAILABLE_SCRIPTS = (
    "preprocess",
    "train",
    "train_prior",
    "export",
    "export_onnx",
    "remote_dataset",
    "generate",
)
#: rave/configs/*.gin in the 2.3.1 wheel, and rave/configs/augmentations/*.gin.
SHIPPED_CONFIGS = (
    "v1",
    "v2",
    "v2_small",
    "v2_nopqmf",
    "v2_nopqmf_small",
    "v2_with_augs",
    "v3",
    "discrete",
    "discrete_v3",
    "onnx",
    "raspberry",
    "wasserstein",
    "spherical",
    "spectral_discriminator",
    "descript_discriminator",
    "causal",
    "noise",
    "hybrid",
    "snake",
    "adain",
    "normalize_ambient",
)
AUGMENTATIONS = ("mute", "compress", "gain")
_WHEEL_GIN = {f"configs/{c}.gin" for c in SHIPPED_CONFIGS} | {
    f"configs/augmentations/{a}.gin" for a in AUGMENTATIONS
}

_GIN_PREFIXES = ("", "configs/", "configs/augmentations/")  # below site-packages/rave/
_ABSL_APP_FRAME = b'  File "/opt/rave-env/lib/python3.11/site-packages/absl/app.py", line 410'


def _absl_traceback(last_line: str) -> bytes:
    """A traceback raised inside absl's flag parsing: the genuine frames down to app.run."""
    raw = (FIXTURES / "train_bad_db_path.stderr.raw").read_bytes()
    return raw[: raw.index(_ABSL_APP_FRAME)] + last_line.encode() + b"\n"


def _inferred_failure(frames: str, last_line: str) -> int:
    """A failure that was not captured: frames and message read in RAVE's source."""
    emit("stderr", rave_traceback(frames, last_line))
    return 1


def add_gin_extension(name: str) -> str:
    return name if name[-4:] == ".gin" else name + ".gin"


def gin_resolves(name: str) -> bool:
    """gin's search path: '' (the working directory), rave/, rave/configs/, …/augmentations/."""
    name = add_gin_extension(name)
    if os.path.isfile(name):
        return True
    return any(f"{prefix}{name}" in _WHEEL_GIN for prefix in _GIN_PREFIXES)


def read_metadata(path: str) -> dict[str, str]:
    """metadata.yaml as ``key: value`` lines (yaml.safe_dump of four scalars)."""
    result = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, colon, value = line.partition(":")
            if colon:
                result[key.strip()] = value.strip()
    return result


def search_for_config(ckpt: str) -> Path | None:
    """rave.core.search_for_config: config.gin next to the ckpt or up to two levels above."""
    if not os.path.exists(ckpt):
        return None
    folder = os.path.dirname(ckpt) if os.path.isfile(ckpt) else ckpt
    for relative in ("config.gin", "../config.gin", "../../config.gin"):
        candidate = os.path.join(folder, relative)
        if os.path.isfile(candidate):
            return Path(os.path.abspath(candidate))
    return None


def search_for_run(ckpt: str) -> str | None:
    """rave.core.search_for_run: a path with ``.ckpt`` as is, else the newest *.ckpt below."""
    if ".ckpt" in ckpt:
        return ckpt
    found = sorted(map(str, Path(ckpt).rglob("*.ckpt")), key=os.path.getmtime)
    return found[-1] if found else None


def _inherited_last(ckpt: str) -> str | None:
    """The monitor=None callback's best_model_path saved in one of the double's checkpoints."""
    try:
        if os.path.getsize(ckpt) > 65536:
            return None
        text = Path(ckpt).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^none_monitor_best_model_path=(.+)$", text, re.MULTILINE)
    return match[1] if match else None


def train(args: list[str]) -> int:
    try:
        flags = parse_flags(args, TRAIN_FLAGS | ABSL_FLAGS)
    except HelpRequested as help_request:
        return replay_plain(str(help_request))
    except FlagError as error:
        message = str(error)
        gap = "" if message.startswith("\n") else " "  # absl's multi-line form has no space
        emit("stderr", f"FATAL Flags parsing error:{gap}{message}\n".encode())
        emit("stderr", b"Pass --helpshort or --helpfull to see help on flags.\n")
        return 1
    except NegatedWithValue as error:
        emit("stderr", _absl_traceback(f"ValueError: {error}"))
        return 1
    if flags["only_check_args"]:
        return 0
    db_path, name = str(flags["db_path"]), str(flags["name"])
    channels = int(flags["channels"])
    configs = [add_gin_extension(str(c)) for c in flags["config"]]
    ckpt = flags["ckpt"]

    metadata_path = os.path.join(db_path, "metadata.yaml")
    if not os.path.isfile(metadata_path):
        captured = b"'/data/rave/does_not_exist/metadata.yaml'"
        return replay_plain("train_bad_db_path", [(captured, repr(metadata_path).encode())])
    metadata = read_metadata(metadata_path)
    dataset_channels = metadata.get("channels", "")
    if dataset_channels.isdigit() and channels > int(dataset_channels):
        # Inferred from rave/dataset.py:167 (not captured): the error message itself fails.
        return _inferred_failure(
            '  File "/opt/rave-env/lib/python3.11/site-packages/scripts/train.py", line 139, '
            "in main\n"
            "    n_channels = rave.dataset.get_training_channels(FLAGS.db_path, FLAGS.channels)\n"
            '  File "/opt/rave-env/lib/python3.11/site-packages/rave/dataset.py", line 167, '
            "in get_training_channels\n"
            "    raise RuntimeError('[Error] Requested number of channels is %s, but dataset has"
            " %s channels')%(FLAGS.channels, dataset_channels)\n",
            "NameError: name 'FLAGS' is not defined",
        )
    for bad in [add_gin_extension(str(a)) for a in flags["augment"]]:
        if not gin_resolves(bad):
            return replay_plain("train_bad_config", [(b"v9_nonexistent.gin", bad.encode())])
    config_file: Path | None = None
    if ckpt is not None:
        config_file = search_for_config(str(ckpt))
        if config_file is None:
            # Inferred from scripts/train.py:150 (not captured): FLAGS.run does not exist.
            return _inferred_failure(
                '  File "/opt/rave-env/lib/python3.11/site-packages/scripts/train.py", line 150, '
                "in main\n"
                "    print('Config file not found in %s'%FLAGS.run)\n"
                '  File "/opt/rave-env/lib/python3.11/site-packages/absl/flags/_flagvalues.py", '
                "line 537, in __getattr__\n"
                "    raise AttributeError(name)\n",
                "AttributeError: run",
            )
    else:
        for config in configs:
            if not gin_resolves(config):
                return replay_plain("train_bad_config", [(b"v9_nonexistent.gin", config.encode())])
    # The captured gin lookups name v2_small.gin; name the first config instead.
    lookup = [] if ckpt or "/" in configs[0] else [(b"v2_small.gin", configs[0].encode())]
    if channels <= 0:
        return replay_plain("train_channels0", lookup)
    try:
        empty = float(metadata.get("n_seconds", "1")) <= 0
    except ValueError:
        empty = False
    if empty:
        return replay_plain("train_empty_dataset", lookup)
    return _good_run(flags, name, configs, config_file)


def _good_run(flags: dict[str, Any], name: str, configs: list[str], config: Path | None) -> int:
    out_path, ckpt = str(flags["out_path"]), flags["ckpt"]
    if config is not None:  # resume: the run's own config, and the hash in its folder name
        config_text = config.read_bytes()
        suffix = re.search(r"_([0-9a-f]{10})$", config.parent.name)
        digest = suffix[1] if suffix else hashlib.md5(config_text).hexdigest()[:10]
    else:
        config_text = (FIXTURES / "config.gin").read_bytes()
        # Stands in for md5(gin.operative_config_str()): the same flags, the same folder.
        keys = [f"config={c}" for c in configs]
        keys += [f"override={o}" for o in flags["override"]]
        keys += [f"augment={a}" for a in flags["augment"]]
        digest = hashlib.md5("\n".join(keys).encode()).hexdigest()[:10]
    progress = bool(flags["progress"])
    plan = RunPlan(
        run_dir=Path(out_path) / f"{name}_{digest}",
        config_text=config_text,
        progress=progress,
        max_steps=int(flags["max_steps"]),
        save_every=int(flags["save_every"]),
        workers=int(flags["workers"]),
        channels=int(flags["channels"]),
        ready_file=os.environ.get("FAKE_RAVE_READY_FILE") or None,
        hold_at=int(os.environ["FAKE_RAVE_HOLD_AT"])
        if os.environ.get("FAKE_RAVE_HOLD_AT")
        else None,
        hold_file=os.environ.get("FAKE_RAVE_HOLD_FILE") or None,
    )
    spec = TRAIN if progress else NOPROGRESS
    if ckpt is not None:
        run = search_for_run(str(ckpt))
        if run is None:
            plan.no_checkpoint_found = True  # printed (stdout), then a fresh start
        else:
            spec, plan.resume_from, plan.inherited_last = RESUME, run, _inherited_last(run)
    step_lines = os.environ.get("FAKE_RAVE_STEP_LINES")
    if step_lines:
        rate = float(os.environ.get("FAKE_RAVE_STEP_RATE") or 0) or None
        return run_step_lines(plan, int(step_lines), rate)
    crash_at = os.environ.get("FAKE_RAVE_CRASH_AT")
    crash = os.environ.get("FAKE_RAVE_CRASH", "error")
    return Replayer(spec, plan).run(float(crash_at) if crash_at else None, crash)


#: The knobs above; any other FAKE_RAVE_* variable is a typo or a renamed knob, refused so
#: that a test never silently runs with the capture it meant to replace.
KNOBS = frozenset(
    {
        "FAKE_RAVE_ASSUME_FFMPEG",
        "FAKE_RAVE_AUDIO_SECONDS",
        "FAKE_RAVE_CRASH",
        "FAKE_RAVE_CRASH_AT",
        "FAKE_RAVE_HANG_LIMIT",
        "FAKE_RAVE_HOLD_AT",
        "FAKE_RAVE_HOLD_FILE",
        "FAKE_RAVE_PREPROCESS_SECONDS_PER_CHUNK",
        "FAKE_RAVE_READY_FILE",
        "FAKE_RAVE_STEP_LINES",
        "FAKE_RAVE_STEP_RATE",
        "FAKE_RAVE_TIME_SCALE",
    }
)


#: Earlier names of knobs, still honoured: tests written before the rename keep working.
EARLIER_NAMES = {
    "FAKE_RAVE_SEED_LINES": "FAKE_RAVE_STEP_LINES",
    "FAKE_RAVE_SEED_RATE": "FAKE_RAVE_STEP_RATE",
}


def main(argv: list[str]) -> int:
    for earlier, name in EARLIER_NAMES.items():
        if earlier in os.environ:
            os.environ.setdefault(name, os.environ[earlier])
    unknown = sorted(name for name in os.environ if name.startswith("FAKE_RAVE_"))
    unknown = [name for name in unknown if name not in KNOBS and name not in EARLIER_NAMES]
    if unknown:
        emit("stderr", f"fake rave: unknown knob(s) {', '.join(unknown)}\n".encode())
        return 2
    if not argv or argv[0] not in AVAILABLE_SCRIPTS:
        return replay_plain("cli_noargs")
    command, rest = argv[0], argv[1:]
    if command == "train":
        return train(rest)
    if command == "preprocess":
        return preprocess_command.main(rest)
    if command == "export":
        return export_command.main(rest)
    emit("stderr", f"fake rave: `rave {command}` is not emulated\n".encode())
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
