"""Telling a live process from a dead one, safely against pid reuse.

A pid alone is not an identity: after a reboot or a long time the same number names
another process. ravelab stores the pid together with the process's start time (and
the host), and a process counts as alive only while both match.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

#: psutil derives start times from clock ticks; allow for float rounding only.
_START_TIME_TOLERANCE_S = 0.05

HOST = socket.gethostname()


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as (host, pid, start time)."""

    pid: int
    start_time: float
    host: str = HOST


def identify(pid: int) -> ProcessIdentity | None:
    """The identity of a running process on this host, or None when it is gone."""
    try:
        return ProcessIdentity(pid, psutil.Process(pid).create_time(), HOST)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_alive(identity: ProcessIdentity) -> bool | None:
    """True when the process still runs, False when it has ended, None for another host."""
    if identity.host != HOST:
        return None
    try:
        process = psutil.Process(identity.pid)
        if abs(process.create_time() - identity.start_time) > _START_TIME_TOLERANCE_S:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes of a process group."""
    members = []
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if os.getpgid(process.info["pid"]) == pgid:
                members.append(int(process.info["pid"]))
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def processes_with_env(name: str, value: str) -> list[psutil.Process]:
    """The live (non-zombie) processes of this user whose environment has ``name=value``,
    this process excepted.

    How a run's processes are found when no file names them: every process of a run
    carries the run's marker in its environment, inherited by whatever it starts. Reading
    every environment costs a few milliseconds per hundred processes, so callers use it
    only when the recorded identities cannot answer.
    """
    found = []
    me = os.getpid()
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if process.pid == me or process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(name) == value:
                found.append(process)
        except (psutil.Error, OSError):
            continue  # gone meanwhile, or another user's (never a run of ours)
    return found
