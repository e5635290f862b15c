"""Opening a file that a trainer wrote, which may since have been replaced by anything.

A run's ``stdout.log`` or event file is opened again at every poll. If someone (or
something) replaced it by a folder, a FIFO or a device, a plain ``open`` raises or, for a
FIFO, blocks the follower forever. :func:`open_regular` opens without blocking and refuses
anything that is not a regular file with an ``OSError`` that names the path and says what
it is, so the caller can flag the run and go on with its other files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFileError(OSError):
    """The path exists but is not a regular file (a folder, a FIFO, a device...)."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for reading in binary mode, if it is a regular file.

    Raises:
        FileNotFoundError: it does not exist.
        NotRegularFileError: it is a folder, FIFO, socket or device.
        OSError: it cannot be opened (permissions, I/O).
    """
    # O_NONBLOCK: opening a FIFO without a writer must not wait for one. It changes
    # nothing for a regular file, which is all that is read past the check.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError as error:
        raise NotRegularFileError(error.errno, f"{path} is a folder, not a file") from error
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{Path(path)} is {_kind(mode)}, not a file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
