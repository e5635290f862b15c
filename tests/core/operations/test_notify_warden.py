"""End to end: a real run of the `rave` double, followed by nobody but a warden process,
is told to a local JSON webhook as completed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.operations import notifications, warden
from ravelab.db import Database
from tests.core.operations.notify_servers import webhook_server
from tests.helpers import run_config, wait_until


def test_a_run_followed_only_by_the_warden_is_notified_as_completed(
    db: Database,
    make_manager: Any,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    runs_dir: Path,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.02")
    monkeypatch.setenv(warden.IDLE_ENV, "0")
    with webhook_server() as server:
        notifications.add_channel(db, server.url, "completed,failed")
        launcher = make_manager(follow=False)  # a one-shot CLI command: it follows nothing
        launcher.start_training(run_config(dataset_id, name="overnight"))
        process = subprocess.Popen(
            [sys.executable, "-m", "ravelab.core.operations.warden", db.path]
        )
        try:
            wait_until(lambda: server.received, timeout=120, what="the completed message")
            assert process.wait(timeout=60) == 0  # delivered, nothing left: it exits
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        assert server.titles() == ["Run 'overnight' completed"]
        (channel,) = notifications.list_channels(db)
        assert (channel.sent, channel.pending, channel.failed) == (1, 0, 0)
