"""DeliveryDuty: the warden sends each recorded event to each channel that wants it.

Every second it collects the sends that finished, then claims the deliveries that are due
(``pending`` whose ``next_try_at`` has come, or ``sending`` whose claim is older than
:data:`LEASE_S`: the warden that claimed it died mid-send) in one transaction, and sends
each in a thread of its own. The warden's loop never waits on a channel: a send that has
not answered within :data:`SEND_TIMEOUT_S` is counted as a failed try and left to end on
its own, and its channel gets no other send until that thread ends (so a hung endpoint
holds one thread, never the loop, a run, or the other channels).

A failed try goes back to ``pending`` after a growing wait (:data:`BACKOFF_S`), and after
:data:`MAX_ATTEMPTS` tries the delivery is ``failed`` for good with its last error kept;
``ravelab notify list`` shows each channel's counts and last error, and the warden's log
says which channel failed and why (its URL masked).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ravelab.core.operations.duties import WardenContext
from ravelab.core.operations.notifications import mask_url, send_message
from ravelab.db import notifications as rows

if TYPE_CHECKING:
    from ravelab.db import Database

logger = logging.getLogger(__name__)

#: Waits after the 1st, 2nd, ... failed try (the last repeats).
BACKOFF_S: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0, 3600.0)
#: Tries before a delivery is given up.
MAX_ATTEMPTS = 8
#: How long one send may take before it counts as failed.
SEND_TIMEOUT_S = 60.0
#: A ``sending`` claim older than this was left by a warden that died mid-send.
LEASE_S = 300.0
#: Sends at once (each in its own thread, one per channel).
MAX_IN_FLIGHT = 8

#: ``send(url, title, body)`` -> None when sent, else the reason (one line).
Sender = Callable[[str, str, str], "str | None"]


def next_try(attempts: int, now: float) -> float | None:
    """When to try again after ``attempts`` failed tries; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]


@dataclass
class _Send:
    delivery: rows.DueDelivery
    started: float
    thread: threading.Thread | None = None
    outcome: list[str | None] = field(default_factory=list)  # filled when it ends


#: How long a leaving warden waits for the sends in flight.
FINISH_WAIT_S = 15.0


class DeliveryDuty:
    """Sends due deliveries (see the module)."""

    name = "notifications"
    interval_s = 1.0

    def __init__(
        self,
        *,
        send: Sender = send_message,
        timeout_s: float = SEND_TIMEOUT_S,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._send = send
        self.timeout_s = timeout_s
        self.lease_s = max(lease_s, timeout_s)  # a claim outlives its own send's timeout
        self._clock = clock
        self._in_flight: dict[tuple[int, int], _Send] = {}
        self._abandoned: dict[int, threading.Thread] = {}  # channel -> a timed-out send

    def busy(self, context: WardenContext) -> bool:
        return bool(self._in_flight) or rows.undone_count(context.db) > 0

    def tick(self, context: WardenContext) -> None:
        db = context.db
        self._collect(db)
        self._abandoned = {c: t for c, t in self._abandoned.items() if t.is_alive()}
        busy = frozenset({channel for _, channel in self._in_flight} | set(self._abandoned))
        due = rows.claim_due(
            db,
            self._clock(),
            self.lease_s,
            limit=MAX_IN_FLIGHT - len(self._in_flight),
            busy_channels=busy,
        )
        for delivery in due:
            self._start(delivery)

    def finish(self, context: WardenContext) -> None:
        """Before the warden leaves: let sends in flight end (a little while) and write
        their outcomes, so a message that went out is not sent again after the lease."""
        self.wait_idle(FINISH_WAIT_S)
        self._collect(context.db)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no send is in flight (tests and shutdown); whether none is."""
        deadline = time.monotonic() + timeout
        for send in list(self._in_flight.values()):
            if send.thread is not None:
                send.thread.join(max(0.0, deadline - time.monotonic()))
        return all(send.outcome for send in self._in_flight.values())

    def _start(self, delivery: rows.DueDelivery) -> None:
        send = _Send(delivery, time.monotonic())

        def work() -> None:
            try:
                send.outcome.append(self._send(delivery.url, delivery.title, delivery.body))
            except Exception as error:  # a sender must never kill its thread silently
                send.outcome.append(f"{type(error).__name__}: {error}")

        send.thread = threading.Thread(
            target=work, name=f"ravelab-notify-{delivery.channel_id}", daemon=True
        )
        self._in_flight[(delivery.event_id, delivery.channel_id)] = send
        send.thread.start()

    def _collect(self, db: Database) -> None:
        for key, send in list(self._in_flight.items()):
            delivery = send.delivery
            if send.outcome:
                error = send.outcome[0]
            elif time.monotonic() - send.started >= self.timeout_s:
                error = f"no answer within {self.timeout_s:.0f} s (timed out)"
                if send.thread is not None:
                    self._abandoned[delivery.channel_id] = send.thread
            else:
                continue
            try:
                self._finish(db, delivery, error)
            except Exception:
                # The send happened but its outcome could not be written (the database
                # busy or locked): keep it and write it at the next tick, rather than let
                # the claim's lease run out and send the message a second time.
                logger.exception(
                    "could not record the outcome of event %d on channel %d; trying again",
                    delivery.event_id,
                    delivery.channel_id,
                )
                continue
            del self._in_flight[key]

    def _finish(self, db: Database, delivery: rows.DueDelivery, error: str | None) -> None:
        if error is None:
            rows.mark_sent(db, delivery)
            return
        attempts = delivery.attempts + 1
        retry_at = next_try(attempts, self._clock())
        rows.mark_failed_try(db, delivery, error, retry_at)
        what = "giving up" if retry_at is None else f"retrying in {retry_at - self._clock():.0f} s"
        logger.warning(
            "notification channel %d (%s) failed on try %d of event %d: %s; %s",
            delivery.channel_id,
            mask_url(delivery.url),
            attempts,
            delivery.event_id,
            error,
            what,
        )
