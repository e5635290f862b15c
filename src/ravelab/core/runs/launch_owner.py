"""Who is launching a run or a job, and when that launcher is provably gone.

The process that inserts a run's (or job's) row is its owner until it has recorded the
supervisor it started: its pid, start time and host are stored with the row, with a lease
for other hosts, whose processes cannot be seen from here. Re-attaching leaves a row with
no process alone while its owner may still be launching it.
"""

from __future__ import annotations

import os
import time

from ravelab.core.runs.process_identity import HOST, ProcessIdentity, identify, is_alive
from ravelab.db.records import LaunchOwner

#: How long a launch may take before another host may call it never started (a launch
#: on this host is decided by whether the launching process lives, not by this).
LAUNCH_LEASE_S = 600.0


def this_launcher() -> LaunchOwner:
    """This process as the owner of a launch, with its lease for other hosts."""
    me = identify(os.getpid())
    start_time = me.start_time if me else time.time()
    return LaunchOwner(os.getpid(), start_time, HOST, time.time() + LAUNCH_LEASE_S)


def launcher_gone(owner: LaunchOwner | None) -> bool:
    """Whether a launch's owner is provably gone: on this host, once it no longer lives;
    on another, once its lease has expired. No owner recorded (a row from before owners
    were kept, or inserted through the repositories directly) counts as gone."""
    if owner is None:
        return True
    if owner.host == HOST:
        return is_alive(ProcessIdentity(owner.pid, owner.start_time, owner.host)) is False
    return time.time() >= owner.lease_until
