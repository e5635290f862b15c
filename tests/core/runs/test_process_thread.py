"""``ProcessThread``, the original API's base of the followers: it polls until the
watched process is recorded as ended or it is halted, and a database error pauses it and
has it take up again from the database instead of ending it."""

from __future__ import annotations

import logging
import threading

import pytest

from ravelab.core.runs.process_thread import ProcessThread
from ravelab.db import DiskFullError


class _Counter(ProcessThread):
    """Done after ``polls`` polls; the polls listed in ``failing`` raise a database error."""

    def __init__(self, polls: int, failing: tuple[int, ...] = ()) -> None:
        super().__init__(name="counter", poll_interval=0.001)
        self.polls, self.failing = polls, failing
        self.calls = 0
        self.recovered_before: list[int] = []

    def recover(self) -> None:
        self.recovered_before.append(self.calls)

    def poll(self) -> bool:
        self.calls += 1
        if self.calls in self.failing:
            raise DiskFullError("database is full: free some space")
        if self.calls >= self.polls:
            self._done.set()
        return False


def test_it_polls_until_the_end_is_recorded() -> None:
    thread = _Counter(polls=5)
    thread.start()
    assert thread.wait(30) and thread.is_done
    thread.join(30)
    assert not thread.is_alive() and thread.calls == 5 and thread.daemon


def test_a_database_error_pauses_it_and_it_recovers_from_the_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    thread = _Counter(polls=6, failing=(2, 3))
    with caplog.at_level(logging.WARNING, logger="ravelab.core.runs.process_thread"):
        thread.start()
        assert thread.wait(30)
        thread.join(30)
    assert thread.calls == 6 and thread.recovered_before == [2, 3]  # before each retry
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "counter: database is full: free some space (retrying)",  # said once, not per try
        "counter: the database answers again",
    ]


def test_a_halt_ends_the_following_not_the_process() -> None:
    class Endless(ProcessThread):
        def __init__(self) -> None:
            super().__init__(name="endless", poll_interval=0.001)
            self.polled = threading.Event()

        def poll(self) -> bool:
            self.polled.set()
            return False

    thread = Endless()
    thread.start()
    assert thread.polled.wait(30)
    thread.halt()
    thread.join(30)
    assert not thread.is_alive() and thread.halted and not thread.is_done
    assert thread.wait(0) is False


def test_a_crash_is_logged_not_silent(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(ProcessThread):
        def poll(self) -> bool:
            raise RuntimeError("a bug")

    thread = Broken(name="broken")
    with caplog.at_level(logging.ERROR, logger="ravelab.core.runs.process_thread"):
        thread.start()
        thread.join(30)
    assert "broken crashed" in caplog.text and "RuntimeError: a bug" in caplog.text
