"""TaskRunner: work off the GUI thread, results and errors delivered back on it."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from ravelab.db.errors import DiskFullError
from ravelab.gui.workers import TaskRunner
from tests.helpers import wait_until


def test_a_result_arrives_on_the_gui_thread(qtbot: Any) -> None:
    runner = TaskRunner()
    got: list[tuple[int, bool]] = []
    main = threading.get_ident()

    def work() -> int:
        assert threading.get_ident() != main
        return 42

    runner.submit(work, lambda result: got.append((result, threading.get_ident() == main)))
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    assert got == [(42, True)]
    runner.shutdown()


def test_an_error_goes_to_its_handler(qtbot: Any) -> None:
    runner = TaskRunner()
    errors: list[BaseException] = []

    def work() -> None:
        raise ValueError("bad value")

    runner.submit(work, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert isinstance(errors[0], ValueError)
    runner.shutdown()


@pytest.mark.parametrize("database_error", [True, False], ids=["database", "bug"])
def test_an_unhandled_error_is_logged_a_database_one_without_a_traceback(
    qtbot: Any, caplog: pytest.LogCaptureFixture, database_error: bool
) -> None:
    runner = TaskRunner()

    def work() -> None:
        if database_error:
            raise DiskFullError("database x.db: disk full: free space on /x and retry")
        raise KeyError("a bug")

    with caplog.at_level(logging.ERROR, logger="ravelab.gui.workers"):
        runner.submit(work)
        qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
        wait_until(lambda: caplog.records, what="the error logged")
    (record,) = caplog.records
    message = record.getMessage()
    if database_error:
        assert message == (
            "background task failed: database x.db: disk full: free space on /x and retry"
        )
    else:
        assert "Traceback" in message and "KeyError: 'a bug'" in message
    runner.shutdown()
