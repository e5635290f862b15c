"""Following a run in the terminal: its log lines and a progress bar."""

from __future__ import annotations

import time
from pathlib import Path

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import duration, progress_bar, speed
from ravelab.core.runs import run_queries
from ravelab.core.runs.log_tail import LogTail
from ravelab.core.runs.text_stream import Line
from ravelab.db import RunStatus

_POLL_S = 0.2
_DB_REFRESH_S = 1.0


class _ProgressLine:
    """One status line at the bottom of a terminal (only when stderr is a terminal)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tty = ctx.err.isatty()
        self.shown = False
        self.last_plain = 0.0

    def clear(self) -> None:
        if self.tty and self.shown:
            self.ctx.err.write("\r\x1b[2K")
            self.shown = False

    def show(self, text: str) -> None:
        if self.tty:
            self.ctx.err.write("\r\x1b[2K" + text)
            self.ctx.err.flush()
            self.shown = True
        elif time.monotonic() - self.last_plain > 30:
            self.ctx.err.write(text + "\n")
            self.last_plain = time.monotonic()


def _print_lines(ctx: Context, lines: list[tuple[str, Line]], bar: _ProgressLine) -> None:
    printed = False
    for stream, line in lines:
        if line.transient or not line.text.strip():
            continue  # tqdm redraws: the progress line shows their latest state
        if not printed:
            bar.clear()
            printed = True
        (ctx.out if stream == "stdout" else ctx.err).write(line.text + "\n")
    if printed:
        ctx.out.flush()


def follow_run(ctx: Context, experiment_id: int) -> int:
    """Print a run's log as it grows, with a progress line, until it ends."""
    manager = ctx.manager(follow=False)
    record = run_queries.get_experiment(ctx.db, experiment_id)
    assert record is not None and record.run_dir is not None
    tail = LogTail(Path(record.run_dir))
    bar = _ProgressLine(ctx)
    last_refresh = 0.0
    try:
        while True:
            _print_lines(ctx, tail.read(), bar)
            now = time.monotonic()
            if now - last_refresh >= _DB_REFRESH_S:
                manager.refresh(experiment_id)
                last_refresh = now
                record = run_queries.get_experiment(ctx.db, experiment_id)
                assert record is not None
                if record.ended_at is not None:
                    break
                p = record.progress
                bar.show(
                    f"{record.name}: {progress_bar(p.step, p.max_steps)}"
                    f" step {p.step}/{p.max_steps or '?'}"
                    f"  {speed(p.speed)}  ETA {duration(p.eta_s)}"
                    f"  epoch {'-' if p.epoch is None else p.epoch}"
                )
            time.sleep(_POLL_S)
    except KeyboardInterrupt:
        bar.clear()
        ctx.err.write(
            f"\nstopped following; run {experiment_id} keeps going "
            f"(`ravelab stop {experiment_id}` stops it)\n"
        )
        return ExitCode.INTERRUPTED
    _print_lines(ctx, tail.finish(), bar)
    bar.clear()
    ctx.err.write(f"run {record.id} '{record.name}' {record.status}")
    ctx.err.write(f": {record.reason}\n" if record.reason else "\n")
    if record.status == RunStatus.COMPLETED:
        return ExitCode.OK
    return ExitCode.RUN_STOPPED if record.status == RunStatus.STOPPED else ExitCode.RUN_FAILED
