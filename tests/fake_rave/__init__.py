"""A test double of the real ``rave`` CLI (PyPI acids-rave 2.3.1), built from genuine captures.

``write_launcher(directory)`` writes an executable ``directory/rave`` that runs
``rave_cli.py`` with the interpreter running the tests; point ``RAVELAB_RAVE`` at it (or pass
it to the app). The double replays the byte-exact stdout/stderr captured from real RAVE
(``tests/fixtures/rave-2.3.1``), grows a real run folder (config.gin, version_N, hparams.yaml,
a TensorBoard event file copied record by record, placeholder checkpoints) and reacts to
SIGINT/SIGTERM the way RAVE did. ``rave preprocess`` (preprocess.py, dataset.py) measures the
WAV files it is given and writes a dataset folder; ``rave export`` (export.py) finds the
config and checkpoint as RAVE does and writes a small ``.ts`` ZIP describing the export.
``rave_cli.py``'s docstring lists the environment knobs.

This package imports only the standard library, so the double starts in milliseconds.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

#: The genuine captures of ``rave`` 2.3.1 that the double replays.
FIXTURES: Path = Path(__file__).resolve().parent.parent / "fixtures" / "rave-2.3.1"

_PACKAGE_DIR = Path(__file__).resolve().parent
_CLI = _PACKAGE_DIR / "rave_cli.py"


def write_launcher(directory: Path) -> Path:
    """Write an executable ``directory/rave`` that runs the double; return its path.

    The shebang is the absolute ``sys.executable``, so the launcher works without any
    virtualenv being active in the child's environment.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    launcher = directory / "rave"
    # The project root goes first on sys.path so that ``tests.fake_rave`` is this package
    # even where some installed distribution ships a top-level ``tests`` package.
    launcher.write_text(
        f"#!{sys.executable}\n"
        '"""Launcher of the fake rave CLI (tests/fake_rave/rave_cli.py)."""\n'
        "import runpy\n"
        "import sys\n"
        f"sys.path.insert(0, {str(_PACKAGE_DIR.parent.parent)!r})\n"
        f"runpy.run_path({str(_CLI)!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    mode = launcher.stat().st_mode
    launcher.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


def process_group_members(pgid: int) -> list[int]:
    """PIDs of the live (non-zombie) processes whose process group is ``pgid`` (Linux /proc).

    Handy to find the double's fake dataloader workers, which stay in the trainer's group.
    """
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses: split after it.
        fields = text[text.rfind(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(entry))
    return sorted(members)
