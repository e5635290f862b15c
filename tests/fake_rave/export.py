"""The fake ``rave export`` (scripts/export.py of acids-rave 2.3.1).

A good export replays ``export_streaming`` or ``export_nonstreaming`` (stderr only; stdout
stays empty) with the checkpoint and the output path substituted, and writes the ``.ts``
file: a small ZIP whose ``fake_torchscript/version`` holds ``3`` and whose
``fake_torchscript/info.json`` tells what was exported. Every failure below was reproduced
with the real command (acids-rave 2.3.1, torch 2.9.1, gin-config 0.5.0, absl-py 2.5.1):

* the config comes from rave.core.search_for_config: ``config.gin`` *anywhere below* --run
  (then ``<run>/config.gin`` is returned even if the file is deeper), else next
  to its parent or grandparent. None -> ``Config file not found in <run>`` on stdout and a
  ``TypeError`` from ``gin.parse_config_file(None)``; a returned path that does not exist ->
  gin's ``I… system_path_file_exists`` / ``E… Path not found`` lines and ``OSError: Unable
  to open file: <path>. Searched config paths: [''].``; exit 1 either way;
* the checkpoint: a --run containing ``.ckpt`` is taken as is, else the newest ``*.ckpt``
  below it by mtime. None -> ``No checkpoint found`` on **stdout**, then ``FLAGS.run = None``
  trips absl's required-flag validator: ``absl.flags._exceptions.IllegalFlagValueError:
  flag --run=None: Flag --run must have a value other than None.``, exit **1** (the
  ``logging.error("No checkpoint found"); exit()`` branch after it is never reached);
* a checkpoint trained with other channels than config.gin's ``RAVE.n_channels`` (default 1:
  RAVE never writes it) -> ``RuntimeError: Error(s) in loading state_dict for RAVE:``
  and 12 size-mismatch lines (v2_small shapes); the double reads ``channels=N`` from the
  placeholder checkpoints of its ``rave train`` (1 when absent);
* ``--sr`` not a multiple of the model's rate -> ``AssertionError: Incompatible target
  sampling rate``; a checkpoint path of fewer than 4 components without --name ->
  ``IndexError: list index out of range``;
* a 2-channel model exports with ``W… this model will not work with the RAVE VST.`` instead
  of the ``I… seems compatible`` line; more than 2 channels: neither line.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.fake_rave import FIXTURES
from tests.fake_rave.absl_flags import (
    ABSL_FLAGS,
    EXPORT_FLAGS,
    FlagError,
    HelpRequested,
    NegatedWithValue,
    parse_flags,
)
from tests.fake_rave.captures import (
    SITE,
    absl_value_error,
    cli_traceback,
    emit,
    fatal_flag_error,
    load_capture,
    replay_plain,
    substitute,
    time_scale,
)
from tests.fake_rave.preprocess import die_by_sigint

_PY = f"{SITE}/scripts/export.py"
CAPTURED_CKPT = b"/data/rave/runs/capture_65097e39f0/version_1/checkpoints/epoch-epoch=0079.ckpt"
CAPTURED_DIR = b"/data/rave/runs/capture_65097e39f0/version_1/checkpoints"
T_FLAGS = 1.7055  # absl parses the flags (export_help printed at 1.71)
_ABSL_LINE = re.compile(rb"^[IWE](\d{4}) (\d\d:\d\d:\d\d\.\d{6}) (\d+) ")
_TORCH_OPEN = (
    f'  File "{_PY}", line 506, in main\n'
    "    checkpoint = torch.load(FLAGS.run, map_location='cpu')\n"
    "                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    f'  File "{SITE}/torch/serialization.py", line 1484, in load\n'
    '    with _open_file_like(f, "rb") as opened_file:\n'
    "         ^^^^^^^^^^^^^^^^^^^^^^^^\n"
    f'  File "{SITE}/torch/serialization.py", line 759, in _open_file_like\n'
    "    return _open_file(name_or_buffer, mode)\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    f'  File "{SITE}/torch/serialization.py", line 740, in __init__\n'
    "    super().__init__(open(name, mode))\n"
    "                     ^^^^^^^^^^^^^^^^\n"
)
#: (parameter, its shape with c channels) of the size mismatches of a v2_small RAVE.
_MISMATCHED = [
    ("encoder.encoder.net.0.weight_v", lambda c: [48, 16 * c, 7]),
    ("decoder.waveform_module.weight_g", lambda c: [32 * c, 1, 1]),
    ("decoder.waveform_module.weight_v", lambda c: [32 * c, 48, 7]),
    ("decoder.noise_module.net.4.weight", lambda c: [512 * c, 64, 4]),
    *[
        (f"discriminator.discriminators.0.layers.{i}.net.0.weight_v", lambda c: [48, c, 5, 1])
        for i in range(5)
    ],
    *[
        (f"discriminator.discriminators.1.layers.{i}.net.0.weight_v", lambda c: [48, c, 15])
        for i in range(3)
    ],
]


def search_for_config(folder: str) -> str | None:
    """rave.core.search_for_config, rglob quirks included (see the module docstring)."""
    if os.path.isfile(folder):
        folder = os.path.dirname(folder)
    if any(Path(folder).rglob("config.gin")):
        return os.path.abspath(os.path.join(folder, "config.gin"))
    if Path(folder).is_dir():  # rglob("../config.gin") from the folder itself ("" is ".")
        for relative in ("../config.gin", "../../config.gin"):
            if os.path.exists(os.path.join(folder, relative)):
                return os.path.abspath(os.path.join(folder, relative))
    return None


def search_for_run(run: str) -> str | None:
    """rave.core.search_for_run: ``.ckpt`` in the path -> as is; else the newest below."""
    if ".ckpt" in run:
        return run
    found = sorted(map(str, Path(run).rglob("*.ckpt")), key=os.path.getmtime)
    return found[-1] if found else None


def _int_match(pattern: str, text: str, default: int) -> int:
    match = re.search(pattern, text, re.MULTILINE)
    return int(match[1]) if match else default


def ckpt_channels(path: str) -> int:
    """``channels=N`` of the train double's placeholder checkpoints; 1 otherwise."""
    try:
        if os.path.getsize(path) > 65536:
            return 1
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 1
    return _int_match(r"^channels=(\d+)$", text, 1)


def main(args: list[str]) -> int:
    try:
        flags = parse_flags(args, EXPORT_FLAGS | ABSL_FLAGS, ("run",), "export")
    except HelpRequested as help_request:
        if (FIXTURES / f"{help_request}.timed.jsonl").is_file():
            return replay_plain(str(help_request))
        error: Exception | None = help_request
    except (FlagError, NegatedWithValue) as parse_error:
        error = parse_error
    else:
        error = None
    export = Export(flags if error is None else {"streaming": False})
    try:
        export.replay_until(b"INFO:root:DEBUG")  # import time, before absl parses anything
        if isinstance(error, HelpRequested):
            emit("stderr", f"fake rave: `{error}` was not captured\n".encode())
            return 2
        if isinstance(error, FlagError):
            export.sleep_until(T_FLAGS)
            return fatal_flag_error(str(error))
        if isinstance(error, NegatedWithValue):
            emit("stderr", absl_value_error("export", str(error)))
            return 1
        return 0 if flags["only_check_args"] else export.run()
    except KeyboardInterrupt:
        # Not captured: the frames depend on where torch is when SIGINT lands; only the
        # outer frames and the exception are given. CPython then dies by SIGINT (-2).
        emit("stderr", cli_traceback("export", "", "KeyboardInterrupt"))
        return die_by_sigint()


class Export:
    def __init__(self, flags: dict[str, Any]) -> None:
        self.flags = flags
        self.scale = time_scale()
        spec = "export_streaming" if flags["streaming"] else "export_nonstreaming"
        self.records = [r for r in load_capture(spec) if r.stream or r.event == "exit"]
        self.index = 0
        self.pairs: list[tuple[bytes, bytes]] = []
        self.t0 = time.monotonic()
        self.last = self.records[0]

    # -- replay -------------------------------------------------------------------------
    def sleep_until(self, t: float) -> None:
        delay = self.t0 + t * self.scale - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def replay_until(self, needle: bytes, include: bool = True) -> None:
        """Replay records up to the one containing ``needle`` (or just before it)."""
        while self.index < len(self.records):
            record = self.records[self.index]
            if needle in record.data and not include:
                return
            self.sleep_until(record.t)
            self.index += 1
            if record.stream:
                emit(record.stream, substitute(record.data, self.pairs))
                self.last = record
            if needle in record.data:
                return

    def absl_line(self, level: str, delta_us: int, where: str, message: str) -> bytes:
        """An absl log line stamped ``delta_us`` after the last replayed one."""
        match = _ABSL_LINE.match(self.last.data)
        day, clock, thread = (match[1], match[2], match[3]) if match else (b"1126", b"", b"1")
        stamp = datetime.strptime(clock.decode(), "%H:%M:%S.%f") + timedelta(microseconds=delta_us)
        head = f"{level}{day.decode()} {stamp.strftime('%H:%M:%S.%f')} {thread.decode()} "
        return f"{head}{where}] {message}\n".encode()

    def fail(self, frames: str, last_line: str) -> int:
        self.sleep_until(self.last.t + 0.001)
        emit("stderr", cli_traceback("export", frames, last_line))
        return 1

    # -- the run ------------------------------------------------------------------------
    def run(self) -> int:
        run = str(self.flags["run"])
        self.replay_until(b"building rave")
        config = search_for_config(run)
        if config is None:
            emit("stdout", f"Config file not found in {run}\n".encode())
            return self.fail(
                f'  File "{_PY}", line 500, in main\n    gin.parse_config_file(config_file)\n'
                f'  File "{SITE}/gin/config.py", line 2444, in parse_config_file\n'
                "    prefixes = _LOCATION_PREFIXES if not os.path.isabs(config_file) else ['']\n"
                "                                         ^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
                '  File "<frozen posixpath>", line 62, in isabs\n',
                "TypeError: expected str, bytes or os.PathLike object, not NoneType",
            )
        if not os.path.isfile(config):
            where = "resource_reader.py:"
            emit(
                "stderr",
                self.absl_line("I", 724, f"{where}50", f"system_path_file_exists:{config}"),
            )
            emit("stderr", self.absl_line("E", 1297, f"{where}55", f"Path not found: {config}"))
            return self.fail(
                f'  File "{_PY}", line 500, in main\n    gin.parse_config_file(config_file)\n'
                f'  File "{SITE}/gin/config.py", line 2457, in parse_config_file\n'
                "    raise IOError(err_str.format(config_file, prefixes))\n",
                f"OSError: Unable to open file: {config}. Searched config paths: [''].",
            )
        config_text = Path(config).read_text(encoding="utf-8", errors="replace")
        ckpt = search_for_run(run)
        if ckpt is None:
            emit("stdout", b"No checkpoint found\n")
            flagvalues = f"{SITE}/absl/flags/_flagvalues.py"
            return self.fail(
                f'  File "{_PY}", line 501, in main\n'
                "    FLAGS.run = rave.core.search_for_run(FLAGS.run)\n    ^^^^^^^^^\n"
                f'  File "{flagvalues}", line 550, in __setattr__\n'
                "    self._set_attributes(**{name: value})\n"
                f'  File "{flagvalues}", line 570, in _set_attributes\n'
                "    self._assert_validators(fl[name].validators)\n"
                f'  File "{flagvalues}", line 634, in _assert_validators\n'
                "    raise _exceptions.IllegalFlagValueError('\\n'.join(messages))\n",
                "absl.flags._exceptions.IllegalFlagValueError: flag --run=None: "
                "Flag --run must have a value other than None.",
            )
        self.pairs.append((CAPTURED_CKPT, ckpt.encode()))
        self.replay_until(b"model found")
        if not os.path.isfile(ckpt):
            if os.path.isdir(ckpt):
                return self.fail(
                    _TORCH_OPEN, f"IsADirectoryError: [Errno 21] Is a directory: {ckpt!r}"
                )
            return self.fail(
                _TORCH_OPEN, f"FileNotFoundError: [Errno 2] No such file or directory: {ckpt!r}"
            )
        model_channels = _int_match(
            r"^\s*(?:[\w./]+\.)?RAVE\.n_channels\s*=\s*(\d+)", config_text, 1
        )
        trained = ckpt_channels(ckpt)
        if trained != model_channels:
            return self.fail(
                f'  File "{_PY}", line 513, in main\n    pretrained.load_state_dict(\n'
                f'  File "{SITE}/torch/nn/modules/module.py", line 2629, in load_state_dict\n'
                "    raise RuntimeError(\n",
                "RuntimeError: Error(s) in loading state_dict for RAVE:"
                + "".join(
                    f"\n\tsize mismatch for {name}: copying a param with shape "
                    f"torch.Size({shape(trained)}) from checkpoint, the shape in current model "
                    f"is torch.Size({shape(model_channels)})."
                    for name, shape in _MISMATCHED
                ),
            )
        self.replay_until(b"optimize model")
        if self.flags["prior"] is not None:
            emit(
                "stderr", self.absl_line("I", 176, "export.py:545", "loading prior from checkpoint")
            )
            prior = str(self.flags["prior"])
            if search_for_config(prior) is not None:
                emit("stderr", b"fake rave: exporting with a prior is not emulated\n")
                return 2
            emit("stdout", f"Config file for prior not found in {prior}\n".encode())
        self.replay_until(b"script model")
        model_sr = _int_match(r"^SAMPLING_RATE\s*=\s*(\d+)", config_text, 44100)
        target_sr = self.flags["sr"]
        if target_sr is not None and target_sr != model_sr and target_sr % model_sr:
            return self.fail(
                f'  File "{_PY}", line 566, in main\n    scripted_rave = script_class(\n'
                "                    ^^^^^^^^^^^^^\n"
                f'  File "{_PY}", line 97, in __init__\n'
                '    assert not target_sr % self.sr, "Incompatible target sampling rate"\n',
                "AssertionError: Incompatible target sampling rate",
            )
        self.replay_until(b"save model")
        return self.save(ckpt, model_channels, model_sr)

    def save(self, ckpt: str, model_channels: int, model_sr: int) -> int:
        name = self.flags["name"]
        if not name:
            parts = ckpt.split(os.sep)
            if len(parts) < 4:
                return self.fail(
                    f'  File "{_PY}", line 578, in main\n'
                    "    model_name = FLAGS.name or FLAGS.run.split(os.sep)[-4]\n"
                    "                               ~~~~~~~~~~~~~~~~~~~~~~~^^^^\n",
                    "IndexError: list index out of range",
                )
            name = parts[-4]
        model_name = f"{name}{'_streaming' if self.flags['streaming'] else ''}.ts"
        output = os.path.abspath(self.flags["output"] or os.path.dirname(ckpt))
        if not os.path.isdir(output):
            try:
                os.makedirs(output)
            except OSError as error:
                frames = (
                    f'  File "{_PY}", line 585, in main\n    os.makedirs(output)\n'
                    '  File "<frozen os>", line 225, in makedirs\n'
                )
                return self.fail(frames, f"{type(error).__name__}: {error}")
        path = os.path.join(output, model_name)
        captured_ts = CAPTURED_DIR + b"/capture_65097e39f0"
        self.pairs.append((captured_ts + b"_streaming.ts", path.encode()))
        self.pairs.append((captured_ts + b".ts", path.encode()))
        vst = self.records[self.index]
        self.sleep_until(vst.t)
        self.write_ts(path, ckpt, model_channels, model_sr)
        if model_channels == 2:
            self.index += 1
            stamp = vst.data.split(b" export.py")[0].replace(b"I", b"W", 1)
            emit(
                "stderr",
                stamp + b" export.py:596] this model will not work with the RAVE VST. \n"
                b" Caught error : model output is not stereo\n",
            )
        elif model_channels > 2:
            self.index += 1  # `if pretrained.n_channels <= 2:` -- no VST test, no line
        self.replay_until(b"all good")
        self.replay_until(b"\x00never\x00")  # up to the exit record
        return 0

    def write_ts(self, path: str, ckpt: str, model_channels: int, model_sr: int) -> None:
        info = {
            "fake": "rave export (tests/fake_rave)",
            "streaming": bool(self.flags["streaming"]),
            "fidelity": float(self.flags["fidelity"]),
            "ckpt": ckpt,
            "ckpt_abspath": os.path.abspath(ckpt),
            "n_channels": model_channels,
            "channels": self.flags["channels"] or model_channels,
            "sr": self.flags["sr"] or model_sr,
            "ema_weights": bool(self.flags["ema_weights"]),
            "prior": self.flags["prior"],
            "name": os.path.basename(path),
        }
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("fake_torchscript/version", "3\n")
            archive.writestr("fake_torchscript/info.json", json.dumps(info, indent=1) + "\n")
