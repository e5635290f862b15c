"""The typed vocabulary: statuses and health as string enums equal to their stored strings."""

from __future__ import annotations

import json

import ravelab
from ravelab.db import FINAL, LIVE, Health, RunProgress, RunStatus


def test_a_status_is_its_stored_string() -> None:
    assert RunStatus.RUNNING == "running" and json.dumps(RunStatus.FAILED) == '"failed"'
    assert f"{RunStatus.STOPPED}" == "stopped"
    assert {status.value for status in FINAL} == {"completed", "failed", "stopped"}
    assert {RunStatus.QUEUED, RunStatus.RUNNING} == LIVE and "queued" in LIVE
    assert RunStatus.parse("completed") is RunStatus.COMPLETED
    assert RunStatus.parse("stopping") is None and RunStatus.parse(3) is None
    assert Health.parse("stalled") is Health.STALLED and Health.parse(None) is Health.OK
    assert ravelab.RunStatus is RunStatus and ravelab.RunProgress is RunProgress
