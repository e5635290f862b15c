"""Exit codes of the ``ravelab`` command, so scripts can tell outcomes apart."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``ravelab`` command's exit status means."""

    OK = 0
    RUN_FAILED = 1  #: a followed run ended as failed
    USAGE = 2  #: bad command-line syntax (argparse)
    NOT_FOUND = 3  #: an unknown experiment or dataset id/name
    INVALID = 4  #: a value was refused; nothing was created
    RAVE_NOT_FOUND = 5  #: the rave executable is missing
    DATABASE = 6  #: the database cannot be used (one line says why), or `db check` found damage
    RUN_STOPPED = 7  #: a followed run ended as stopped
    FILES = 8  #: some files could not be removed (each is named; the rest was done)
    REMOTE = 9  #: a remote could not be reached or used over ssh (one line says why)
    INTERRUPTED = 130  #: Ctrl-C in the CLI (runs keep going)
