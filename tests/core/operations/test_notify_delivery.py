"""Run events detected from the database and delivered by apprise to real local endpoints
(an HTTP server taking the JSON webhook, an SMTP server, a socket that never answers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.operations import notifications
from ravelab.core.operations.delivery import BACKOFF_S, DeliveryDuty
from ravelab.core.operations.duties import WardenContext
from ravelab.core.operations.run_events import RunEventsDuty
from ravelab.db import Database
from ravelab.db import notifications as delivery_rows
from tests.core.operations.notify_servers import mail_server, silent_server, webhook_server
from tests.helpers import wait_until

PAST = "2020-01-01T00:00:00+00:00"


def _context(db: Database, now: float | None = None) -> WardenContext:
    return WardenContext(db=db, manager=None, now=time.time() if now is None else now)  # type: ignore[arg-type]


def _run(db: Database, name: str, *, status: str, reason: str | None = None) -> int:
    """A run that started and ended now with ``status``."""
    cursor = db.execute(
        "INSERT INTO experiments(name, status, created_at, started_at, pid) "
        "VALUES (?, 'running', strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), "
        "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), 1)",
        (name,),
    )
    experiment_id = int(cursor.lastrowid or 0)
    db.execute(
        "UPDATE experiments SET status = ?, reason = ?, "
        "ended_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now') WHERE id = ?",
        (status, reason, experiment_id),
    )
    return experiment_id


def _deliver(duty: DeliveryDuty, db: Database, done: Callable[[], Any], what: str) -> Any:
    def tick_then_check() -> Any:
        duty.tick(_context(db))
        return done()

    return wait_until(tick_then_check, timeout=60, what=what)


def _events(db: Database) -> list[tuple[Any, ...]]:
    return db.query_tuples("SELECT kind, key, title, body FROM events ORDER BY id")


def test_a_failed_run_is_notified_once_with_its_reason_though_two_detectors_see_it(
    db: Database, db_path: Path
) -> None:
    with webhook_server() as server:
        notifications.add_channel(db, server.url)
        experiment_id = _run(db, "night", status="failed", reason="CUDA out of memory")
        other = Database(db_path)  # a second detector, on its own connection
        try:
            first, second = RunEventsDuty(), RunEventsDuty()
            first.tick(_context(db))
            second.tick(_context(other))
            first.tick(_context(db))
        finally:
            other.close()
        events = _events(db)
        assert [(kind, key) for kind, key, _, _ in events] == [
            ("failed", f"failed:run:{experiment_id}:attempt:1")
        ]
        duty = DeliveryDuty()
        _deliver(duty, db, lambda: server.received, "the webhook to receive the event")
        _deliver(duty, db, lambda: not duty.busy(_context(db)), "the delivery to be done")
        assert server.requests == 1
        (message,) = server.received
        assert "night" in message["title"] and "failed" in message["title"]
        assert "CUDA out of memory" in message["message"]
        (channel,) = notifications.list_channels(db)
        assert (channel.sent, channel.pending, channel.failed) == (1, 0, 0)


def test_mail_reaches_a_local_smtp_server(db: Database) -> None:
    with mail_server() as smtp:
        notifications.add_channel(db, smtp.url())
        _run(db, "mailed", status="completed")
        RunEventsDuty().tick(_context(db))
        duty = DeliveryDuty()
        _deliver(duty, db, lambda: smtp.messages, "the SMTP server to receive the mail")
        (mail,) = smtp.messages
        assert "mailed" in mail["Subject"] and "completed" in mail["Subject"]
        assert mail["To"] == "someone@example.com"


def test_a_channel_answering_500_is_retried_and_delivered_once(db: Database) -> None:
    now = [time.time()]
    with webhook_server(statuses=[500]) as server:
        notifications.add_channel(db, server.url)
        _run(db, "retry", status="completed")
        RunEventsDuty().tick(_context(db))
        duty = DeliveryDuty(clock=lambda: now[0])
        states = lambda: delivery_rows.delivery_states(db, 1)  # noqa: E731
        _deliver(duty, db, lambda: states()[1][1] == 1, "the first try to fail")
        state, attempts, error = states()[1]
        assert (state, attempts) == ("pending", 1) and error and "500" in error
        (channel,) = notifications.list_channels(db)
        assert channel.last_error and "500" in channel.last_error and channel.pending == 1
        duty.tick(_context(db))  # not due yet: nothing is sent
        assert server.requests == 1
        now[0] += BACKOFF_S[0] + 1
        _deliver(duty, db, lambda: states()[1][0] == "sent", "the retry to be delivered")
        assert server.requests == 2 and len(server.received) == 1
        assert states()[1] == ("sent", 2, None)


def test_a_channel_that_never_answers_blocks_neither_the_others_nor_the_loop(
    db: Database,
) -> None:
    with silent_server() as port, webhook_server() as server:
        # apprise's own read timeout set far beyond the duty's: only the duty's counts.
        hung = notifications.add_channel(db, f"json://127.0.0.1:{port}/hook?rto=600")
        notifications.add_channel(db, server.url)
        _run(db, "hung", status="completed")
        RunEventsDuty().tick(_context(db))
        duty = DeliveryDuty(timeout_s=1.0)
        longest = 0.0

        def tick_then_check() -> Any:
            nonlocal longest
            started = time.monotonic()
            duty.tick(_context(db))
            longest = max(longest, time.monotonic() - started)
            state = delivery_rows.delivery_states(db, 1)[hung.id]
            return server.received and state[1] == 1 and state

        state = wait_until(tick_then_check, timeout=60, what="the hung send to time out")
        assert state[0] == "pending" and "timed out" in str(state[2])
        assert len(server.received) == 1  # the other channel got its message meanwhile
        assert longest < 5  # a tick never waits on a channel (generous: a busy machine)
        (hung_row, _) = notifications.list_channels(db)
        assert hung_row.last_error and "timed out" in hung_row.last_error


def test_a_channel_filtered_to_failed_gets_no_completed(db: Database) -> None:
    with webhook_server() as everything, webhook_server() as failures:
        notifications.add_channel(db, everything.url)
        notifications.add_channel(db, failures.url, "failed")
        detector, duty = RunEventsDuty(), DeliveryDuty()
        _run(db, "good", status="completed")
        detector.tick(_context(db))
        _deliver(duty, db, lambda: everything.received, "the completed event")
        _run(db, "bad", status="failed", reason="Killed")
        detector.tick(_context(db))
        _deliver(duty, db, lambda: failures.received, "the failed event")
        _deliver(duty, db, lambda: len(everything.received) == 2, "both events")
        assert ["failed" in title for title in failures.titles()] == [True]
        assert failures.requests == 1


def test_runs_that_ended_before_events_since_are_history(db: Database) -> None:
    old = _run(db, "old", status="failed", reason="long ago")
    db.execute("UPDATE experiments SET ended_at = ? WHERE id = ?", (PAST, old))
    db.set_setting("events_since", "2021-01-01T00:00:00+00:00")
    detector = RunEventsDuty()
    assert not detector.busy(_context(db))
    detector.tick(_context(db))
    assert _events(db) == []
    new = _run(db, "new", status="failed", reason="now")
    assert detector.busy(_context(db))  # an ended run not yet told keeps the warden
    detector.tick(_context(db))
    assert [key for _, key, _, _ in _events(db)] == [f"failed:run:{new}:attempt:1"]


def _live_run(db: Database, name: str, progress: str, health: str = "ok") -> int:
    cursor = db.execute(
        "INSERT INTO experiments(name, status, created_at, pid, progress, health, health_detail) "
        "VALUES (?, 'running', strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), 1, ?, ?, 'detail')",
        (name, progress, health),
    )
    return int(cursor.lastrowid or 0)


def test_health_phase_and_export_events_are_recorded_once(db: Database) -> None:
    now = time.time()
    progress = f'{{"step": 3000, "phase": 2, "updated_at": {now}}}'
    broken = _live_run(db, "nan", progress, health="broken")
    stalled = _live_run(db, "stuck", progress, health="stalled")
    db.execute(
        "INSERT INTO jobs(kind, experiment_id, status, created_at, ended_at) VALUES "
        "('export', ?, 'completed', ?, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))",
        (broken, PAST),
    )
    detector = RunEventsDuty()
    for _ in range(3):
        detector.tick(_context(db))
    keys = sorted(key for _, key, _, _ in _events(db))
    assert keys == sorted(
        [
            f"nonfinite:run:{broken}:attempt:1",
            f"stalled:run:{stalled}:attempt:1:step:3000",
            f"phase2:run:{broken}",
            f"phase2:run:{stalled}",
            "export_finished:job:1",
        ]
    )
    # A new stall episode (at a later step) is news again.
    db.execute(
        "UPDATE experiments SET progress = ? WHERE id = ?",
        (f'{{"step": 4000, "phase": 2, "updated_at": {now}}}', stalled),
    )
    detector.tick(_context(db))
    assert f"stalled:run:{stalled}:attempt:1:step:4000" in [k for _, k, _, _ in _events(db)]


def test_a_new_best_validation_is_told_at_most_once_per_window_never_for_the_first(
    db: Database,
) -> None:
    from ravelab.db import experiments as experiment_rows

    run = _live_run(db, "val", f'{{"step": 10, "updated_at": {time.time()}}}')
    wall = time.time()

    def validation(step: int, value: float) -> None:
        experiment_rows.insert_points(db, run, [("validation", step, value, wall)])

    detector = RunEventsDuty()
    validation(100, 5.0)
    detector.tick(_context(db))
    assert _events(db) == []  # the first validation is no news
    validation(200, 6.0)
    detector.tick(_context(db))
    assert _events(db) == []  # worse
    validation(300, 4.0)
    detector.tick(_context(db))
    assert [key for _, key, _, _ in _events(db)] == [f"best_validation:run:{run}:step:300"]
    validation(400, 3.0)
    detector.tick(_context(db))
    assert len(_events(db)) == 1  # within the window
    validation(500, 2.0)
    RunEventsDuty().tick(_context(db, now=time.time() + 31 * 60))  # a fresh detector, later
    assert [key for _, key, _, _ in _events(db)][-1] == f"best_validation:run:{run}:step:500"


@pytest.mark.parametrize("url", ["foo://x", "discord://", "", "json://a b\x00"])
def test_bad_urls_are_refused_in_one_line(db: Database, url: str) -> None:
    from ravelab.core.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        notifications.add_channel(db, url)
    assert "\n" not in str(raised.value)
    assert notifications.list_channels(db) == []


def test_urls_are_shown_masked(db: Database) -> None:
    channel = notifications.add_channel(db, "json://user:s3cret@127.0.0.1:9/hook", "failed")
    assert "s3cret" not in channel.url and channel.url.startswith("json://user:")
    assert channel.events == ("failed",)
    with pytest.raises(Exception, match="unknown event"):
        notifications.add_channel(db, "json://127.0.0.1:9/hook", "completed,sometimes")
    assert notifications.rough_mask("zz://me:pw@host/token/123") == "zz://me:****@host/…"


def test_a_channel_that_always_fails_is_given_up_after_eight_tries(db: Database) -> None:
    from ravelab.core.operations.delivery import MAX_ATTEMPTS, next_try

    now = [time.time()]
    with webhook_server(statuses=[500] * 20) as server:
        notifications.add_channel(db, server.url)
        _run(db, "doomed", status="completed")
        RunEventsDuty().tick(_context(db))
        duty = DeliveryDuty(clock=lambda: now[0])
        for attempt in range(1, MAX_ATTEMPTS + 1):
            _deliver(
                duty,
                db,
                lambda n=attempt: delivery_rows.delivery_states(db, 1)[1][1] == n,
                f"try {attempt}",
            )
            now[0] += 3600 + 1
        assert server.requests == MAX_ATTEMPTS
        state, attempts, error = delivery_rows.delivery_states(db, 1)[1]
        assert (state, attempts) == ("failed", MAX_ATTEMPTS) and error and "500" in error
        assert not duty.busy(_context(db))
        (channel,) = notifications.list_channels(db)
        assert (channel.failed, channel.pending) == (1, 0) and channel.last_error
    assert [next_try(n, 0.0) for n in (1, 2, 3, 4, 5, 6)] == [30, 120, 600, 1800, 3600, 3600]
    assert next_try(MAX_ATTEMPTS, 0.0) is None


def test_a_send_claimed_by_a_warden_that_died_is_taken_up_after_the_lease(db: Database) -> None:
    with webhook_server() as server:
        notifications.add_channel(db, server.url)
        _run(db, "orphan", status="completed")
        RunEventsDuty().tick(_context(db))
        died = delivery_rows.claim_due(db, time.time() - 3600, 300.0, limit=5)
        assert len(died) == 1  # claimed an hour ago, never finished
        assert delivery_rows.claim_due(db, time.time(), 300.0, limit=5)[0].event_id == 1
        db.execute("UPDATE deliveries SET claimed_at = ?", (time.time() - 3600,))
        duty = DeliveryDuty()
        _deliver(duty, db, lambda: server.received, "the orphaned delivery")
        _deliver(duty, db, lambda: not duty.busy(_context(db)), "the delivery to be done")
        assert server.requests == 1
        assert not delivery_rows.mark_sent(db, died[0])  # the dead claim can write nothing


def test_a_backlog_on_one_channel_never_hides_another_channels_delivery(db: Database) -> None:
    from ravelab.core.operations.events import EventKind, record_event

    first = notifications.add_channel(db, "json://127.0.0.1:9/first")
    for index in range(250):
        record_event(db, EventKind.COMPLETED, f"backlog:{index}", "old news")
    second = notifications.add_channel(db, "json://127.0.0.1:9/second")
    record_event(db, EventKind.COMPLETED, "fresh", "fresh news")
    claimed = delivery_rows.claim_due(
        db, time.time(), 300, limit=8, busy_channels=frozenset({first.id})
    )
    assert [(d.channel_id, d.title) for d in claimed] == [(second.id, "fresh news")]


def test_an_outcome_that_cannot_be_written_is_kept_and_never_sent_twice(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ravelab.core.operations.events import EventKind, record_event

    sent: list[str] = []
    notifications.add_channel(db, "json://127.0.0.1:9/hook")
    record_event(db, EventKind.COMPLETED, "once", "exactly once")
    duty = DeliveryDuty(send=lambda url, title, body: sent.append(title), lease_s=0.0)
    real_mark_sent = delivery_rows.mark_sent
    locked = {"on": True}

    def mark_sent(db: Database, delivery: Any) -> bool:
        if locked["on"]:
            raise RuntimeError("database is locked")  # another process holds the write lock
        return real_mark_sent(db, delivery)

    monkeypatch.setattr(delivery_rows, "mark_sent", mark_sent)
    wait_until(lambda: (duty.tick(_context(db)), sent)[1], timeout=30, what="the send")
    for _ in range(3):  # the lease has long run out: a claimer must not send it again
        duty.tick(_context(db))
    assert sent == ["exactly once"] and duty.busy(_context(db))
    locked["on"] = False
    duty.tick(_context(db))
    assert not duty.busy(_context(db)) and sent == ["exactly once"]
    state = db.query_tuples("SELECT state, attempts FROM deliveries")
    assert state == [("sent", 1)]


def test_secrets_in_channel_urls_are_never_shown() -> None:
    shown = notifications.mask_url(
        "json://hooks.example.com/ravelab?-Authorization=Bearer%20sk_live_SECRET&+token=abc"
    )
    assert "sk_live_SECRET" not in shown and "abc" not in shown and "hooks.example.com" in shown
    rough = notifications.rough_mask("tgramx://123456789:AAHsecretTOKEN/12345")
    assert "AAHsecretTOKEN" not in rough and "12345" not in rough.split("://", 1)[1][10:]
    assert notifications.rough_mask("http://host:8080/x") == "http://host:8080/…"


def test_an_events_since_in_another_form_is_read_as_the_moment_it_names(db: Database) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from ravelab.core.operations.run_events import events_since

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    db.set_setting("events_since", an_hour_ago.astimezone(timezone(timedelta(hours=4))).isoformat())
    assert events_since(db) == an_hour_ago.isoformat(timespec="seconds")
    experiment_id = _run(db, "news", status="completed")
    RunEventsDuty().tick(_context(db))
    assert [key for _, key, _, _ in _events(db)] == [f"completed:run:{experiment_id}:attempt:1"]
