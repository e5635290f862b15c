"""A process is alive only while its pid and start time both match (pid reuse never
makes a dead process look alive); another host's is unknown; a run's processes are found
by the environment they carry."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from ravelab.core.runs.process_identity import (
    HOST,
    ProcessIdentity,
    group_members,
    identify,
    is_alive,
    processes_with_env,
)

_WAIT = "import sys; sys.stdin.read()"  # lives until its stdin closes


def _child(**env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WAIT],
        stdin=subprocess.PIPE,
        env={**os.environ, **env},
        process_group=0,
    )


def _end(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=60)


def test_alive_while_pid_and_start_time_match() -> None:
    child = _child()
    try:
        identity = identify(child.pid)
        assert identity is not None and identity.host == HOST and is_alive(identity) is True
        older = ProcessIdentity(child.pid, identity.start_time - 10.0)
        assert is_alive(older) is False  # the same pid, another process
    finally:
        _end(child)
    assert is_alive(identity) is False and identify(child.pid) is None


def test_another_hosts_process_is_unknown() -> None:
    assert is_alive(ProcessIdentity(os.getpid(), 1.0, "another-host")) is None


def test_a_runs_processes_are_found_by_their_marker_and_their_group() -> None:
    marker = uuid.uuid4().hex
    child = _child(RAVELAB_PROCESS_IDENTITY_TEST=marker)
    try:
        found = processes_with_env("RAVELAB_PROCESS_IDENTITY_TEST", marker)
        assert [p.pid for p in found] == [child.pid]
        assert group_members(child.pid) == [child.pid]  # it leads a group of its own
        assert processes_with_env("RAVELAB_PROCESS_IDENTITY_TEST", "other") == []
    finally:
        _end(child)
    assert processes_with_env("RAVELAB_PROCESS_IDENTITY_TEST", marker) == []
    assert group_members(child.pid) == []
