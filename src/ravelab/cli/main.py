"""``ravelab``: build the parser, run a command, map errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from ravelab import __version__
from ravelab.cli import (
    commands_datasets,
    commands_db,
    commands_gui,
    commands_info,
    commands_metrics,
    commands_plot,
    commands_runs,
    commands_slurm,
    commands_workflow,
)
from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.core.errors import (
    ConfigError,
    DatasetError,
    LaunchError,
    NotFoundError,
    RavelabError,
    RaveNotFoundError,
)
from ravelab.core.rave_env import RaveInstallError
from ravelab.db import DatabaseError

#: Each module adds its subcommands; listed as data so the docs test can walk them.
COMMAND_MODULES: tuple[
    Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...
] = (
    commands_datasets.add_parsers,
    commands_runs.add_parsers,
    commands_workflow.add_parsers,
    commands_plot.add_parsers,
    commands_metrics.add_parsers,
    commands_info.add_parsers,
    commands_slurm.add_parsers,
    commands_gui.add_parsers,
    commands_db.add_parsers,
)

_ERROR_CODES: tuple[tuple[type[Exception], ExitCode], ...] = (
    (NotFoundError, ExitCode.NOT_FOUND),
    (RaveNotFoundError, ExitCode.RAVE_NOT_FOUND),
    (ConfigError, ExitCode.INVALID),
    (DatasetError, ExitCode.INVALID),
    (LaunchError, ExitCode.RUN_FAILED),
    (DatabaseError, ExitCode.DATABASE),
    (RaveInstallError, ExitCode.RAVE_NOT_FOUND),
    (RavelabError, ExitCode.INVALID),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``ravelab`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ravelab",
        description="Train RAVE models: datasets, supervised runs, metrics in SQLite.",
    )
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
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMAND_MODULES:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ravelab`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx = Context(args)
    try:
        return int(args.handler(ctx))
    except KeyboardInterrupt:
        ctx.err.write("interrupted\n")
        return ExitCode.INTERRUPTED
    except Exception as error:
        for kind, code in _ERROR_CODES:
            if isinstance(error, kind):
                ctx.err.write(f"ravelab: error: {error}\n")
                return code
        raise
    finally:
        ctx.close()


#: The status a shell reports for a program ended by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 128 + getattr(signal, "SIGPIPE", 13)


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
