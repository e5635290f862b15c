"""Replay engine of the fake rave: genuine captures, the run folder, checkpoints, signals.

A good ``rave train`` is replayed from ``train.timed.jsonl`` (``train_resume`` with ``--ckpt``,
``train_noprogress`` with ``--noprogress``): every record's exact bytes go to stdout or stderr
at its capture time multiplied by ``FAKE_RAVE_TIME_SCALE``. Interleaved with them, on the same
clock, the double creates the run folder and copies the fixture TensorBoard event file record
by record at each record's capture time (wall_time minus the capture's ``started_unix``).
The global step is read back from the tqdm bar it replays (``Epoch E: … n/total``), which
drives ``--max_steps``, ``--save_every`` and the placeholder checkpoints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tests.fake_rave import FIXTURES
from tests.fake_rave.captures import (
    Record,
    TfRecord,
    emit,
    load_capture,
    rave_traceback,
    read_tfrecords,
    substitute,
    time_scale,
)

#: The --batch of every training capture: with 19 train examples, 4 batches per epoch.
CAPTURE_BATCH = 4
#: How long Lightning's graceful shutdown took after SIGINT in ``train_sigint`` (1.28 s).
SIGINT_SHUTDOWN_S = 1.3

_BAR = re.compile(rb"Epoch (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")
_EPOCH = re.compile(rb"Epoch (\d+):")
_TRAIN_SET = re.compile(rb"train set: (\d+) examples")
_WORKER_CODE = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(600)"


@dataclass(frozen=True)
class CaptureSpec:
    prefix: str
    events_file: str | None
    start_step: int  # global step the captured process started from
    final_step: int  # the capture's own --max_steps
    vnum: bytes  # the bar postfix naming the captured TensorBoard version


TRAIN_EVENTS = "events.out.tfevents.1795672257.vm.29866.0"
TRAIN = CaptureSpec("train", TRAIN_EVENTS, 0, 300, b"v_num=0")
RESUME_EVENTS = "events.out.tfevents.1795672861.vm.14705.0"
RESUME = CaptureSpec("train_resume", RESUME_EVENTS, 300, 340, b"v_num=1")
NOPROGRESS = CaptureSpec("train_noprogress", None, 0, 24, b"v_num=0")
CAPTURED_CKPT = b"/data/rave/runs/capture_65097e39f0/version_0/checkpoints/epoch_300.ckpt"
CAPTURED_OLD_DIR = b"/data/rave/runs/capture_65097e39f0/version_0/checkpoints"
CAPTURED_NEW_DIR = b"/data/rave/runs/capture_65097e39f0/version_1/checkpoints"


@dataclass
class RunPlan:
    """What rave_cli decided from the flags; the replay carries it out."""

    run_dir: Path
    config_text: bytes
    progress: bool
    max_steps: int
    save_every: int
    workers: int
    channels: int = 1  # --channels, recorded in the placeholder checkpoints
    resume_from: str | None = None  # the .ckpt RAVE prints in `loading state from file`
    inherited_last: str | None = None  # PL's best_model_path of the monitor=None callback
    no_checkpoint_found: bool = False
    ready_file: str | None = None
    hold_at: int | None = None  # the global step at which the replay holds...
    hold_file: str | None = None  # ...until this file exists (it touches <file>.reached)

    def next_version(self) -> int:
        # TensorBoardLogger takes max(existing version_N) + 1, not the first gap.
        numbers = [
            int(entry.name[8:])
            for entry in (self.run_dir.iterdir() if self.run_dir.is_dir() else [])
            if entry.name.startswith("version_") and entry.name[8:].isdigit()
        ]
        return max(numbers, default=-1) + 1


@dataclass
class Action:
    """One step of a replay: kind is stdout, stderr, bar (a bar parsed but not shown), exit,
    mkrun, config, fit, event (a TFRecord), tick (a --noprogress step) or crash."""

    t: float
    kind: str
    data: bytes = b""
    record: TfRecord | None = None
    number: int = 0


def _is_print_line(data: bytes) -> bool:
    """A RAVE print() line rather than a piece of a tqdm bar (kept under --noprogress)."""
    return (
        data.endswith(b"\n")
        and b"\r" not in data
        and b"\x1b" not in data
        and b"it/s" not in data
        and b"s/it" not in data
        and data.strip() != b""
    )


def _index(actions: list[Action], needle: bytes) -> int:
    for index in range(len(actions)):
        if needle in actions[index].data and actions[index].kind in ("stdout", "stderr", "bar"):
            return index
    raise LookupError(needle)


class Replayer:
    """Runs one good ``rave train`` replay and returns its exit code."""

    def __init__(self, spec: CaptureSpec, plan: RunPlan) -> None:
        self.spec, self.plan, self.scale = spec, plan, time_scale()
        self.version = plan.next_version()
        self.version_dir = plan.run_dir / f"version_{self.version}"
        self.ckpt_dir = self.version_dir / "checkpoints"
        self.records = load_capture(spec.prefix)
        meta = json.loads((FIXTURES / f"{spec.prefix}.meta.json").read_text(encoding="utf-8"))
        self.started_unix: float = meta["started_unix"]
        train_set = _TRAIN_SET.search(b"".join(r.data for r in self.records))
        self.batches_per_epoch = max(int(train_set[1]) if train_set else 19, 1) // CAPTURE_BATCH
        # Only a --max_steps below the capture's own ends the replay early (-1: no limit).
        self.cut_at: int | None = None
        if 0 <= plan.max_steps < spec.final_step:
            self.cut_at = plan.max_steps
        self.step: int | None = None  # highest global step the bar has shown
        self.epoch: int | None = None
        self.last_out = b""
        self.best_value: float | None = None
        self.last_epoch_ckpt = plan.inherited_last
        self.last_saved_step: int | None = None
        self.sigint_blocked = False
        self.sigint_pending = False  # a SIGINT taken while held, for the next wait
        self.workers: list[subprocess.Popen[bytes]] = []
        self.events: BinaryIO | None = None

    # -- building the timeline --
    def _pairs(self) -> list[tuple[bytes, bytes]]:
        pairs = [(self.spec.vnum, f"v_num={self.version}".encode())]
        if self.plan.resume_from is not None:
            new_dir = os.path.join(self.plan.run_dir, f"version_{self.version}", "checkpoints")
            old_dir = os.path.dirname(self.plan.resume_from)
            pairs += [
                (CAPTURED_CKPT, os.fsencode(self.plan.resume_from)),
                (CAPTURED_OLD_DIR, os.fsencode(old_dir)),
                (CAPTURED_NEW_DIR, os.fsencode(new_dir)),
            ]
        return pairs

    def build(self, crash_at: float | None) -> list[Action]:
        pairs, actions = self._pairs(), []
        for record in self.records:
            if record.stream == "stdout":
                kind = "stdout" if self.plan.progress or _is_print_line(record.data) else "bar"
                actions.append(Action(record.t, kind, substitute(record.data, pairs)))
            elif record.stream == "stderr":
                actions.append(Action(record.t, "stderr", substitute(record.data, pairs)))
            elif record.event == "exit":
                actions.append(Action(record.t, "exit", number=record.returncode or 0))
        # train.py: makedirs(run dir); print('selected gpu'); Trainer(...) prints the
        # GPU/TPU/IPU/HPU lines; search_for_run() prints; config.gin; fit() -> summary.
        gpu = _index(actions, b"selected gpu:")
        actions.insert(gpu, Action(actions[gpu].t, "mkrun"))
        needle = b"loading state from file" if self.plan.resume_from else b"HPU available"
        anchor = _index(actions, needle)
        extra = [Action(actions[anchor].t, "config")]
        if self.plan.no_checkpoint_found:
            extra.insert(0, Action(actions[anchor].t, "stdout", b"No checkpoint found\n"))
        actions[anchor + 1 : anchor + 1] = extra
        summary = _index(actions, b"  | Name") - 1  # the blank line opening the summary
        actions.insert(summary, Action(actions[summary].t, "fit"))
        fit_t = actions[summary].t
        keyed = [((a.t, 1, i), a) for i, a in enumerate(actions)]
        if self.spec.events_file:
            path = FIXTURES / self.spec.events_file
            for j, rec in enumerate(read_tfrecords(path, self.started_unix)):
                keyed.append(((max(rec.t, fit_t), 2, j), Action(rec.t, "event", record=rec)))
        else:
            # No event file was captured for --noprogress: its step is interpolated over the
            # training span (last warning before training -> `Trainer.fit` stopped).
            begin = actions[_index(actions, b"number of training batches")].t
            end = actions[_index(actions, b"`Trainer.fit` stopped")].t
            count = self.spec.final_step - self.spec.start_step
            for k in range(1, count + 1):
                t = begin + (end - begin) * k / count
                keyed.append(((t, 2, k), Action(t, "tick", number=self.spec.start_step + k)))
        if crash_at is not None:
            keyed.append(((crash_at, 0, 0), Action(crash_at, "crash")))
        keyed.sort(key=lambda item: item[0])
        return [action for _, action in keyed]

    # -- running it --
    def wait_until(self, deadline: float) -> bool:
        """Sleep until ``deadline``; True if SIGINT arrived (only once fit() has started)."""
        if self.sigint_pending:
            return True
        while True:
            remaining = deadline - time.monotonic()
            if self.sigint_blocked:
                if signal.sigtimedwait([signal.SIGINT], max(remaining, 0.0)) is not None:
                    return True
            elif remaining > 0:
                time.sleep(remaining)
            if deadline - time.monotonic() <= 0:
                return False

    def run(self, crash_at: float | None = None, crash: str = "error") -> int:
        actions, start = self.build(crash_at), time.monotonic()
        for index, action in enumerate(actions):
            if self.wait_until(start + action.t * self.scale):
                return self.interrupted()
            kind = action.kind
            if kind in ("stdout", "bar"):
                if kind == "stdout":
                    emit("stdout", action.data)
                    self.last_out = action.data
                if self.observe(action.data):
                    return self.ended_at_max_steps(actions[index + 1 :])
            elif kind == "stderr":
                emit("stderr", action.data)
            elif kind == "event" and action.record is not None:
                self.write_event(action.record)
            elif kind == "tick":
                self.epoch = (action.number - 1) // self.batches_per_epoch
                if self.advance(action.number):
                    return self.ended_at_max_steps(actions[index + 1 :])
            elif kind == "mkrun":
                self.plan.run_dir.mkdir(parents=True, exist_ok=True)
            elif kind == "config":
                (self.plan.run_dir / "config.gin").write_bytes(self.plan.config_text)
            elif kind == "fit":
                self.start_fit()
            elif kind == "crash":
                emit("stderr", crash_traceback(crash))
                return 1
            elif kind == "exit":
                return action.number
        return 0

    def start_fit(self) -> None:
        # Lightning turns SIGINT into a graceful stop only inside trainer.fit(); before
        # that Python's KeyboardInterrupt applies. Blocking SIGINT and collecting it with
        # sigtimedwait() keeps it from ever landing in the middle of a file write.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        self.sigint_blocked = True
        self.version_dir.mkdir(parents=True, exist_ok=True)
        (self.version_dir / "hparams.yaml").write_text("{}\n", encoding="utf-8")
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.0"
        self.events = open(self.version_dir / name, "ab")  # noqa: SIM115 - lives for the run
        if not self.spec.events_file:  # --noprogress: the header/text records of the main run
            for rec in read_tfrecords(FIXTURES / TRAIN_EVENTS, self.started_unix):
                if rec.group_step < 0:
                    self._append(rec.raw)
        # DataLoader workers stay in the trainer's process group and inherit its stdout and
        # stderr; these ignore SIGINT (inherited blocked + SIG_IGN), die on SIGTERM and
        # outlive the trainer, so whoever launched it has to end the group.
        for _ in range(max(self.plan.workers, 0)):
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _WORKER_CODE, "fake-rave-dataloader-worker"],
                    stdin=subprocess.DEVNULL,
                )
            )
        if self.plan.ready_file:
            Path(self.plan.ready_file).touch()

    def _append(self, raw: bytes) -> None:
        handle = self.events
        if handle is not None:
            handle.write(raw)
            handle.flush()

    def observe(self, data: bytes) -> bool:
        """Track the epoch and global step the bar shows; True when max_steps is reached."""
        match = _BAR.search(data)
        if match is None:
            epoch = _EPOCH.search(data)
            if epoch is not None:
                self.epoch = int(epoch[1])
            return False
        self.epoch = int(match[1])
        bpe = self.batches_per_epoch
        return self.advance(self.epoch * bpe + min(int(match[2]), bpe))

    def advance(self, step: int) -> bool:
        if self.step is not None and step <= self.step:
            return False
        previous, self.step = self.step, step
        self.hold(step)
        every = self.plan.save_every
        if every > 0:
            # rave.core.ModelCheckpoint counts the batches of this process only.
            done = max((previous if previous is not None else step) - self.spec.start_step, 0)
            for counter in range(done + 1, step - self.spec.start_step + 1):
                if counter % every == 0:
                    self.write_ckpt(f"epoch_{counter}.ckpt")
                    self.last_saved_step = step
        return self.cut_at is not None and step >= self.cut_at

    def hold(self, step: int) -> None:
        """At the plan's hold step, once: say so (``<hold_file>.reached``) and wait for the
        hold file, so a test can act while the run is surely still training."""
        plan = self.plan
        if plan.hold_file is None or plan.hold_at is None or step < plan.hold_at:
            return
        if getattr(self, "_held", False):
            return
        self._held = True
        Path(f"{plan.hold_file}.reached").touch()
        while not Path(plan.hold_file).exists():
            # A held trainer still stops on SIGINT, as RAVE does at any step of fit():
            # the signal is kept for the next wait, which ends the run gracefully.
            if self.sigint_blocked:
                if signal.sigtimedwait([signal.SIGINT], 0.01) is not None:
                    self.sigint_pending = True
                    return
            else:
                time.sleep(0.01)

    def write_event(self, record: TfRecord) -> None:
        if self.cut_at is not None and record.group_step >= self.cut_at:
            return
        self._append(record.raw)
        if record.tag == "validation" and record.value is not None and record.step is not None:
            self.on_validation(record.step, record.value)

    def on_validation(self, logged_step: int, value: float) -> None:
        # ModelCheckpoint(monitor="validation", filename="best"): the lowest so far (per process).
        if self.best_value is None or value < self.best_value:
            self.best_value = value
            self.write_ckpt("best.ckpt")
        # The monitor=None "epoch-{epoch:04d}" callback skips a global step it has already
        # saved at (PL 1.9 _should_skip_saving_checkpoint), i.e. right after an epoch_K save:
        # why the noprogress capture kept epoch-epoch=0003 although it validated at epoch 5.
        if self.step is not None and self.last_saved_step == self.step:
            return
        epoch = self.epoch
        if epoch is None:
            epoch = (logged_step + 1) // self.batches_per_epoch - 1
        path = str((self.ckpt_dir / f"epoch-epoch={epoch:04d}.ckpt").resolve())
        previous, self.last_epoch_ckpt = self.last_epoch_ckpt, path
        self.write_ckpt(Path(path).name)
        self.last_saved_step = self.step
        # save_top_k=1 removes its previous best_model_path; after a resume that path comes
        # from the checkpoint, so the old version's epoch-epoch file goes (as in run_tree.txt).
        if previous and previous != path and os.path.isfile(previous):
            os.remove(previous)

    def write_ckpt(self, name: str) -> None:
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        (self.ckpt_dir / name).write_text(
            f"fake checkpoint step={self.step}\nepoch={self.epoch}\n"
            f"none_monitor_best_model_path={self.last_epoch_ckpt or ''}\n"
            f"channels={self.plan.channels}\n",
            encoding="utf-8",
        )

    def _ending(self) -> tuple[float, float, list[Record]]:
        """(time of the Trainer.fit line, time of exit, stderr records after that line)."""
        index = next(i for i, r in enumerate(self.records) if b"`Trainer.fit` stopped" in r.data)
        exit_t = self.records[-1].t
        after = [r for r in self.records[index + 1 :] if r.stream == "stderr"]
        return self.records[index].t, exit_t, after

    def finish_early(self, rest: list[Action]) -> int:
        """max_steps reached before the capture's end: stop the way Lightning does."""
        cut = self.cut_at if self.cut_at is not None else 0
        # Lightning still logs the last batch's scalars (and runs a validation due at that
        # epoch's end) after the bar shows the last step: copy those records, nothing later.
        for action in rest:
            if action.kind == "event" and action.record is not None:
                if action.record.group_step >= cut:
                    break
                self.write_event(action.record)
            elif action.kind in ("stdout", "bar"):
                match = _BAR.search(action.data)
                bpe = self.batches_per_epoch
                if match and int(match[1]) * bpe + min(int(match[2]), bpe) > (self.step or 0):
                    break
            elif action.kind in ("tick", "exit", "crash"):
                break
        emit("stderr", f"`Trainer.fit` stopped: `max_steps={cut}` reached.\n".encode())
        if self.plan.progress:
            emit("stdout", self.last_out.rstrip(b"\r\n") + b"\n")  # tqdm closes the bar
        stopped_t, exit_t, report = self._ending()
        for record in report:
            emit("stderr", record.data)
        time.sleep(max(exit_t - stopped_t, 0.0) * self.scale)
        return 0

    def ended_at_max_steps(self, rest: list[Action]) -> int:
        """max_steps reached: the end of the run, unless a SIGINT came during a hold at
        that very step (then the stop it asked for)."""
        return self.interrupted() if self.sigint_pending else self.finish_early(rest)

    def interrupted(self) -> int:
        """SIGINT inside fit(): Lightning's warning, ~1.3 s of shutdown, exit 0, no checkpoint."""
        for record in load_capture("train_sigint"):
            if record.stream == "stderr" and b"KeyboardInterrupt" in record.data:
                emit("stderr", record.data)
        if self.plan.progress and self.last_out.endswith(b"\r") and self.last_out.strip():
            emit("stdout", self.last_out[:-1])  # the bar tqdm had drawn, never terminated
        time.sleep(SIGINT_SHUTDOWN_S * self.scale)
        return 0


def crash_traceback(kind: str) -> bytes:
    """FAKE_RAVE_CRASH: a RAVE traceback through trainer.fit() with an invented exception."""
    frames = (
        '  File "/opt/rave-env/lib/python3.11/site-packages/scripts/train.py", line 268, in main\n'
        "    trainer.fit(model, train, val, ckpt_path=run)\n"
    )
    if kind == "oom":
        return rave_traceback(
            frames,
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a "
            "total capacity of 79.10 GiB of which 1.06 GiB is free.",
        )
    return rave_traceback(frames, "RuntimeError: fake failure")


def run_step_lines(plan: RunPlan, count: int, rate: float | None) -> int:
    """FAKE_RAVE_STEP_LINES: the original API's ``step: i loss: x lr: y`` lines, not RAVE's."""
    replayer = Replayer(NOPROGRESS, plan)
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    (plan.run_dir / "config.gin").write_bytes(plan.config_text)
    replayer.start_fit()
    start = time.monotonic()
    for i in range(1, count + 1):
        if replayer.wait_until(start + (i - 1) / rate if rate else 0.0):
            return replayer.interrupted()
        loss = 0.1 + 2.0 / (1.0 + 0.05 * i)
        lr = 0.001 if i <= count // 2 else 0.0001
        line = f"step: {i} loss: {loss:.4f} lr: {lr}\n"
        if i % 10 == 0:
            line += f"Validation val_loss: {loss * 1.1:.4f}\n"
        emit("stdout", line.encode())
    return 0
