"""``ravelab gui``: open the desktop app (the ``gui`` extra: PySide6 and matplotlib).

The CLI never imports the GUI package at import time, so the CLI and the core keep
working where Qt is not installed.
"""

from __future__ import annotations

import argparse
import importlib

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode

GUI_HINT = "the desktop app needs its extra: pip install 'ravelab[gui]' (PySide6, matplotlib)"


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gui = subparsers.add_parser("gui", help="open the desktop app")
    gui.add_argument("--runs-dir", help="where run folders go (default: next to the database)")
    gui.set_defaults(handler=cmd_gui)


def cmd_gui(ctx: Context) -> int:
    try:
        app = importlib.import_module("ravelab.gui.app")
    except ImportError as error:
        if any(name in str(error) for name in ("PySide6", "shiboken6", "matplotlib")):
            ctx.err.write(f"ravelab: {GUI_HINT} ({error})\n")
            return ExitCode.INVALID
        raise
    argv: list[str] = []
    if ctx.args.db:
        argv += ["--db", ctx.args.db]
    if ctx.args.rave:
        argv += ["--rave", ctx.args.rave]
    if ctx.args.runs_dir:
        argv += ["--runs-dir", ctx.args.runs_dir]
    return int(app.main(argv))
