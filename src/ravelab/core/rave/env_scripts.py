"""Running ravelab's own scripts in RAVE's environment (ravelab never imports torch).

The scripts under ``core/rave/scripts/`` import torch, gin and rave; they run with the
Python that runs the configured ``rave`` command: the interpreter its shebang names (a
console script always has one), else ``python`` next to it (a virtualenv's or conda's
``bin/``). They are started as an argv list and answer with one JSON object per line on
stdout; stderr (torch's warnings, a crash's traceback) is kept for the error message.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ravelab.core.errors import RaveNotFoundError

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
RENDER_SCRIPT = SCRIPTS_DIR / "render_audio.py"
CHECK_SCRIPT = SCRIPTS_DIR / "check_model.py"

#: The most of a script's stderr kept for an error message.
_STDERR_TAIL = 4000
#: A stdout line longer than this is not one of the scripts' messages.
_MAX_LINE = 1 << 20


def rave_python(rave: str) -> list[str]:
    """The interpreter (as an argv prefix) of the environment ``rave`` belongs to.

    Raises:
        RaveNotFoundError: neither a shebang nor a ``python`` next to it.
    """
    interpreter: list[str] = []
    try:
        with open(rave, "rb") as handle:
            first = handle.readline(512)
    except OSError as error:
        raise RaveNotFoundError(f"cannot read the rave executable {rave!r}: {error}") from None
    if first.startswith(b"#!"):
        interpreter = first[2:].decode(errors="replace").strip().split()
    if interpreter and Path(interpreter[0]).is_file():
        return interpreter
    for name in ("python", "python3"):
        sibling = Path(rave).parent / name
        if sibling.is_file() and os.access(sibling, os.X_OK):
            return [str(sibling)]
    raise RaveNotFoundError(
        f"cannot tell which Python runs {rave!r} (no usable #! line, no python next to "
        "it): point ravelab at the `rave` inside RAVE's environment"
    )


@dataclass
class ScriptRun:
    """What a script said: its JSON messages in order, its exit status, its stderr tail."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    stderr_tail: str = ""

    def last(self, event: str) -> dict[str, Any] | None:
        return next((m for m in reversed(self.messages) if m.get("event") == event), None)

    def failure(self, what: str) -> str:
        """One line (or a short tail) saying why the script gave no result."""
        error = self.last("error")
        if error is not None:
            return str(error.get("message", "unknown error"))
        lines = [line for line in self.stderr_tail.splitlines() if line.strip()]
        detail = lines[-1].strip() if lines else "no output"
        return f"{what} stopped (exit status {self.returncode}): {detail}"


def _messages(stream: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in stream:
        if len(line) > _MAX_LINE:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue  # a library printing on stdout
        if isinstance(message, dict) and isinstance(message.get("event"), str):
            yield message


def run_script(
    python: list[str],
    script: Path,
    args: list[str],
    on_message: Callable[[dict[str, Any]], None] | None = None,
    timeout_s: float | None = None,
) -> ScriptRun:
    """Run ``script`` with RAVE's Python; hand each message to ``on_message`` as it comes.

    The child is killed if this call ends early (an exception in ``on_message``, Ctrl-C).
    """
    run = ScriptRun()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)  # ravelab's own path must not shadow RAVE's packages
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [*python, str(script), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
        try:
            assert process.stdout is not None
            for message in _messages(iter(process.stdout.readline, "")):
                run.messages.append(message)
                if on_message is not None:
                    on_message(message)
            run.returncode = process.wait(timeout=timeout_s)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        size = stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, size - _STDERR_TAIL))
        run.stderr_tail = stderr.read().decode("utf-8", errors="replace")
    return run
