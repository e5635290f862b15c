"""Who is launching a run, and when that launcher is provably gone: on this host when its
process no longer lives, on another when its lease has run out."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ravelab.core.runs.launch_owner import LAUNCH_LEASE_S, launcher_gone, this_launcher
from ravelab.core.runs.process_identity import HOST, identify
from ravelab.db.records import LaunchOwner


def test_this_process_owns_its_launch_while_it_lives() -> None:
    before = time.time()
    owner = this_launcher()
    me = identify(os.getpid())
    assert me is not None and (owner.pid, owner.start_time, owner.host) == (
        me.pid,
        me.start_time,
        HOST,
    )
    assert before + LAUNCH_LEASE_S <= owner.lease_until <= time.time() + LAUNCH_LEASE_S
    assert launcher_gone(owner) is False


def test_a_launcher_that_ended_is_gone_and_so_is_none() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = identify(child.pid)
    child.wait(timeout=60)
    assert identity is not None
    assert launcher_gone(LaunchOwner(child.pid, identity.start_time, HOST, time.time() + 600))
    assert launcher_gone(None)


def test_a_launcher_whose_pid_was_reused_is_gone() -> None:
    me = identify(os.getpid())
    assert me is not None
    reused = LaunchOwner(me.pid, me.start_time - 3600, HOST, time.time() + 600)
    assert launcher_gone(reused)


def test_another_hosts_launcher_holds_its_row_until_its_lease_ends() -> None:
    now = time.time()
    assert not launcher_gone(LaunchOwner(1, 1.0, "elsewhere", now + 60))
    assert launcher_gone(LaunchOwner(1, 1.0, "elsewhere", now - 1))
