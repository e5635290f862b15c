"""``ravelab``: build the parser, run a command, map errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any, NoReturn, cast

from ravelab import __version__
from ravelab.cli import logging_setup
from ravelab.cli.exit_codes import ExitCode

#: Every subcommand, in the order ``--help`` lists them: the module that defines it and its
#: one-line help. The help is kept here so that ``ravelab --help`` lists every command
#: without importing any command module (a test checks it against each module's own), and
#: a command imports only its own module, whose heavy imports wait for its handler.
COMMANDS: dict[str, tuple[str, str]] = {
    "dataset": ("commands_datasets", "register and list preprocessed RAVE datasets"),
    "train": ("commands_runs", "start a RAVE training (detached: it outlives this command)"),
    "list": ("commands_runs", "list experiments with their real status"),
    "show": ("commands_runs", "show one experiment"),
    "logs": ("commands_runs", "print a run's output"),
    "import-run": ("commands_runs", "bring in a run trained outside ravelab (plain `rave train`)"),
    "stop": ("commands_runs", "stop a run (SIGINT, then SIGTERM, then SIGKILL)"),
    "queue": ("commands_queue", "list, reorder or remove queued runs (train --queue)"),
    "rename": ("commands_lifetime", "give a run another name (its folder stays)"),
    "note": ("commands_lifetime", "show or set a run's notes"),
    "tag": ("commands_lifetime", "add or remove a run's tags (+x -y)"),
    "archive": ("commands_lifetime", "hide a run from `list` and the app (it is kept)"),
    "unarchive": ("commands_lifetime", "show an archived run again"),
    "delete": ("commands_lifetime", "delete an ended run, with --files its folder too"),
    "resume": (
        "commands_workflow",
        "continue a stopped or failed run, or extend a completed one, from a checkpoint",
    ),
    "checkpoints": (
        "commands_disk",
        "list a run's checkpoints; keep only the last N periodic ones",
    ),
    "disk": ("commands_disk", "free space and what each run's checkpoints take"),
    "export": ("commands_workflow", "export a .ts model for nn~ (runs `rave export`)"),
    "models": ("commands_workflow", "list exported models and their origin"),
    "render": ("commands_render", "encode and decode an audio file with a run's checkpoint"),
    "jobs": ("commands_workflow", "list preprocess and export jobs"),
    "stop-job": ("commands_workflow", "stop a preprocess or export job"),
    "diff": ("commands_workflow", "show which settings differ between two runs"),
    "plot": ("commands_plot", "render a metric of one or more runs to an image file"),
    "metrics": ("commands_metrics", "print a run's metric points as CSV or JSON"),
    "audio": ("commands_audio", "list or export a run's validation clips"),
    "configs": ("commands_info", "RAVE's base configs and modifiers"),
    "doctor": ("commands_info", "check rave, ffmpeg, GPUs and the database"),
    "gpus": ("commands_gpus", "show what each NVIDIA GPU is doing and which runs train on it"),
    "rave": ("commands_info", "install RAVE in an environment of its own"),
    "projects": ("commands_info", "list the projects (what --project takes)"),
    "settings": ("commands_info", "show or change stored settings"),
    "slurm": ("commands_slurm", "SLURM cluster settings and checks"),
    "remote": ("commands_remote", "machines runs are sent to over SSH: add, check, set up"),
    "gui": ("commands_gui", "open the desktop app"),
    "db": ("commands_db", "check, back up or describe the database file"),
    "notify": ("commands_notify", "send notifications (ntfy, Discord, email...) on run events"),
}


def command_module(name: str) -> ModuleType:
    """The module that defines subcommand ``name`` (imported now)."""
    return importlib.import_module(f"ravelab.cli.{COMMANDS[name][0]}")


def _error_codes() -> tuple[tuple[type[Exception], ExitCode], ...]:
    """Each error class a command may raise and its exit code, most specific first
    (imported when an error is being reported, not at every start)."""
    from ravelab.core.errors import (
        ConfigError,
        DatasetError,
        LaunchError,
        NotFoundError,
        RaveInstallError,
        RavelabError,
        RaveNotFoundError,
        SshError,
    )
    from ravelab.db.errors import DatabaseError

    return (
        (SshError, ExitCode.REMOTE),
        (NotFoundError, ExitCode.NOT_FOUND),
        (RaveNotFoundError, ExitCode.RAVE_NOT_FOUND),
        (ConfigError, ExitCode.INVALID),
        (DatasetError, ExitCode.INVALID),
        (LaunchError, ExitCode.RUN_FAILED),
        (DatabaseError, ExitCode.DATABASE),
        (RaveInstallError, ExitCode.RAVE_NOT_FOUND),
        (RavelabError, ExitCode.INVALID),
    )


class _Ignored:
    """Takes every call made to build a parser and keeps nothing: what a command module
    builds for its other commands (building them for real is most of the parsing time)."""

    def __getattr__(self, name: str) -> _Ignored:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Ignored:
        return self


class _OneCommand:
    """Stands for the subparsers while a command module adds its commands: only
    ``wanted`` is added for real, the module's other commands are ignored (they are
    listed from :data:`COMMANDS` instead)."""

    def __init__(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser], wanted: str
    ) -> None:
        self._subparsers = subparsers
        self._wanted = wanted

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name == self._wanted:
            parser: argparse.ArgumentParser = self._subparsers.add_parser(name, **kwargs)
            return parser
        return cast(argparse.ArgumentParser, _Ignored())


def _with_global_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` with the options that come before the command."""
    parser.add_argument("--version", action="version", version=f"ravelab {__version__}")
    parser.add_argument(
        "--db", metavar="PATH", help="database file (default: $RAVELAB_DB, else the user data dir)"
    )
    parser.add_argument(
        "--rave",
        metavar="PATH",
        help="the rave executable (default: $RAVELAB_RAVE, the stored setting, then PATH)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what ravelab does")
    return parser


def _help_width() -> int:
    """The width help text is wrapped to, found as :func:`shutil.get_terminal_size` finds
    it (``$COLUMNS`` when a positive number, else the terminal, else 80) less argparse's
    margin of 2."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns if columns > 0 else 80) - 2


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told its width: left to itself it imports :mod:`shutil` (and
    its compression modules) to ask, which costs a short command a tenth of its time,
    and it is made for every option added, not only when help is printed."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
        **kwargs: Any,
    ) -> None:
        if width is None:
            width = _help_width()
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


class _Parser(argparse.ArgumentParser):
    """An argument parser (and, through ``add_subparsers``, every subcommand's) with
    :class:`_Formatter` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def build_parser(
    commands: Iterable[str] | None = None, *, list_others: bool = True
) -> argparse.ArgumentParser:
    """The ``ravelab`` argument parser.

    Args:
        commands: the subcommands built in full (their module imported). None: all.
        list_others: the other subcommands are listed by name and help (what ``--help``
            and a wrong command show); False leaves them out (the parser of a command
            known to be the one asked for).
    """
    parser = _with_global_options(
        _Parser(
            prog="ravelab",
            description="Train RAVE models: datasets, supervised runs, metrics in SQLite.",
        )
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    full = set(COMMANDS) if commands is None else set(commands)
    for name, (_, text) in COMMANDS.items():
        if name in full:
            command_module(name).add_parsers(_OneCommand(subparsers, name))
        elif list_others:
            subparsers.add_parser(name, help=text)
    return parser


class _Unsure(Exception):
    """The probe could not tell the command: the full parser reads the arguments."""


class _Probe(_Parser):
    """A parser that raises instead of printing an error and exiting."""

    def error(self, message: str) -> NoReturn:
        raise _Unsure(message)


def asked_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` asks for, read as ``ravelab``'s parser reads it (same options,
    same abbreviations), without building any subcommand; None when it cannot tell (no
    or an unknown command, ``--help`` or anything unknown before the command)."""
    probe = _with_global_options(_Probe(prog="ravelab", add_help=False))
    probe.add_argument("command", choices=COMMANDS)
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        args, before = probe.parse_known_args(argv)
    except _Unsure:
        return None
    return None if before else str(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ravelab`` command and return its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only the command asked for is built (its module imported); ``--help``, a missing or
    # unknown command and anything odd get the parser that lists every command.
    command = asked_command(argv)
    if command is None:
        args = build_parser(()).parse_args(argv)  # prints the help or the error, and exits
    else:
        args = build_parser((command,), list_others=False).parse_args(argv)
    logging_setup.configure(logging_setup.INFO if args.verbose else logging_setup.WARNING)
    from ravelab.cli.context import Context

    ctx = Context(args)
    try:
        return int(args.handler(ctx))
    except KeyboardInterrupt:
        ctx.err.write("interrupted\n")
        return ExitCode.INTERRUPTED
    except Exception as error:
        for kind, code in _error_codes():
            if isinstance(error, kind):
                ctx.err.write(f"ravelab: error: {error}\n")
                return code
        raise
    finally:
        ctx.close()


#: The status a shell reports for a program ended by SIGPIPE: 128 + 13 (SIGPIPE is 13
#: wherever it exists; :mod:`signal` is not imported at start for it).
EXIT_BROKEN_PIPE = 128 + 13


def entrypoint() -> None:
    """The console script.

    A reader that goes away early (``ravelab logs 3 | head -1``) ends the command quietly
    with the status a shell gives to SIGPIPE, as other command-line tools do: Python
    ignores SIGPIPE, so the write raises BrokenPipeError instead.
    """
    try:
        code = main()
        # Flush here, where a closed pipe can still be handled: at interpreter exit it
        # would print "Exception ignored ... BrokenPipeError" and exit 120.
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_output()
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


def _discard_output() -> None:
    """Point stdout and stderr at the null device, so that nothing written or flushed
    later (the error message, the final flush at exit) meets the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            continue  # not a file (replaced by a test, or already closed)
    os.close(devnull)
