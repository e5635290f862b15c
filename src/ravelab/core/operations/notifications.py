"""Notification channels: add, list, remove and test them; send one message with apprise.

A channel is any URL apprise understands (``ntfy://``, ``discord://``, ``slack://``,
``tgram://``, ``mailto://``, ``json://`` for a plain JSON webhook, ``dbus://`` for a
desktop notification...), optionally limited to some event kinds. apprise is used
rather than hand-written HTTP: one dependency speaks a hundred services, each with its
own authentication, payload and limits, and renders a URL with its secrets masked.

A channel's URL holds secrets. It is stored as given in the user's database file and
shown (CLI, app, logs) only as apprise renders it in privacy mode, or, where apprise
cannot read it, as its scheme and host with everything else elided.

apprise logs what went wrong instead of raising; :func:`send_message` captures what it
logs in the calling thread (and keeps it off the root logger, so a one-line CLI error
stays one line) and returns it as the failure's reason.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.operations.events import EventKind
from ravelab.db import notifications as rows

if TYPE_CHECKING:
    from ravelab.db import Database

#: How long a test message may take before it is reported as timed out.
TEST_TIMEOUT_S = 30.0
_URL_LIMIT = 4096
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Channel:
    """A channel as shown: its URL masked, the kinds it wants, how its deliveries went."""

    id: int
    url: str  # masked
    events: tuple[str, ...]  # empty: every kind
    created_at: str
    sent: int
    pending: int
    failed: int
    last_error: str | None
    last_error_at: float | None
    last_sent_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "created_at": self.created_at,
            "sent": self.sent,
            "pending": self.pending,
            "failed": self.failed,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_sent_at": self.last_sent_at,
        }


@dataclass(frozen=True)
class SendReport:
    """What a test message to one channel did: ``error`` is None when it was sent."""

    channel_id: int
    url: str  # masked
    error: str | None


@dataclass(frozen=True)
class RecentEvent:
    """A recorded event, for the app's tray."""

    id: int
    kind: str
    experiment_id: int | None
    title: str
    body: str
    created_at: str


# -- apprise ----------------------------------------------------------------------------


class _Capture(logging.Filter):
    """Keeps what apprise logs in one thread (and stops it there)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.thread:
            return True
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())
        return False

    def reason(self, fallback: str) -> str:
        text = "; ".join(dict.fromkeys(m.strip() for m in self.messages if m.strip()))
        return _one_line(text or fallback)


@contextmanager
def _captured() -> Iterator[_Capture]:
    capture = _Capture()
    logger = logging.getLogger("apprise")
    logger.addFilter(capture)
    try:
        yield capture
    finally:
        logger.removeFilter(capture)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MESSAGE_LIMIT else line[: _MESSAGE_LIMIT - 1] + "…"


def rough_mask(url: str) -> str:
    """A URL apprise cannot read, shown without what may be secret: its scheme and host
    (a user name kept, a password and everything after the host elided)."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]{0,30})://([^/?#]*)(.*)$", url.strip(), re.S)
    if match is None:
        return _one_line(url[:12]) + "…" if len(url) > 12 else _one_line(url)
    scheme, authority, rest = match.groups()
    user = ""
    if "@" in authority:
        user, _, authority = authority.rpartition("@")
        name = user.split(":", 1)[0]
        user = f"{name[:16]}:****@" if ":" in user else f"{name[:16]}@"
    host, colon, port = authority.partition(":")
    if colon and not (port.isascii() and port.isdigit()):
        host = f"{host[:16]}:****"  # not a port: a token written as host:secret
    elif colon:
        host = f"{host}:{port}"
    return f"{scheme}://{user}{host[:80]}{'/…' if rest else ''}"


def mask_url(url: str) -> str:
    """A channel URL as it may be shown: apprise's privacy rendering, else ``rough_mask``."""
    with _captured():
        try:
            plugin = _instantiate(url)
            if plugin is not None:
                return _user_params_only(str(plugin.url(privacy=True)), url)
        except Exception:  # a plugin that cannot render itself: fall back
            pass
    return rough_mask(url)


def _user_params_only(shown: str, original: str) -> str:
    """apprise's rendering with only the query parameters the user wrote (it adds every
    default: ``overflow=upstream&retry=0&...``), so a listing shows what was chosen."""
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

    written = {key.lower() for key, _ in parse_qsl(urlsplit(original).query, True)}
    parts = urlsplit(shown)
    kept = []
    for item in parts.query.split("&"):
        key, equals, _ = item.partition("=")
        if key.lower() not in written:
            continue
        # apprise shows request headers (-name=) and payload fields (+name=, :name=) as
        # written, and they often carry a token: their values, and any that looks like a
        # secret by its name, are masked.
        secret = key[:1] in "-+:" or _SECRET_NAME.search(key) is not None
        kept.append(f"{key}=****" if equals and secret else item)
    return urlunsplit(parts._replace(query="&".join(kept)))


_SECRET_NAME = re.compile(r"(?i)token|key|secret|pass|auth|pwd|sig|cookie|session")


_loaded = threading.Lock()


def _apprise() -> Any:
    """apprise, its plugins loaded (~0.3 s: only where a channel is read or used).

    Loading them imports modules the standard library deprecates (``imghdr``, for the
    e-mail plugin): those warnings are apprise's business, not the user's.
    """
    import apprise

    module: Any = apprise
    with _loaded, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module.NotificationManager().load_modules()
    return module


def _instantiate(url: str) -> Any:
    return _apprise().Apprise.instantiate(url)


def check_url(url: str) -> str:
    """A channel URL cleaned (whitespace trimmed) after apprise has read it.

    Raises:
        ConfigError: empty, too long, not a URL, a service apprise does not know, or a
            URL apprise refuses (the message names it masked, with apprise's reason).
    """
    text = url.strip()
    if not text:
        raise ConfigError("empty notification URL: give one apprise understands, e.g. ntfy://topic")
    if len(text) > _URL_LIMIT or any(ord(c) < 32 for c in text):
        raise ConfigError(
            f"notification URL {rough_mask(text)!r} is too long or holds control characters"
        )
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    apprise = _apprise()
    if not scheme or scheme not in apprise.NotificationManager():
        raise ConfigError(
            f"unknown notification URL {rough_mask(text)!r}: apprise knows no service "
            f"{(scheme or text[:12])!r}; see apprise's list of services (ntfy://, "
            "discord://, slack://, tgram://, mailto://, json://, dbus://, ...)"
        )
    with _captured() as capture:
        try:
            plugin = apprise.Apprise.instantiate(text)
        except Exception as error:
            plugin = None
            capture.messages.append(str(error))
    if plugin is None:
        reason = capture.reason("apprise could not read it")
        raise ConfigError(f"invalid {scheme}:// URL {rough_mask(text)!r}: {reason}")
    return text


def send_message(url: str, title: str, body: str) -> str | None:
    """Send one message now, in this thread: None when it went, else why not (one line).
    Never raises. It may take as long as the service's own timeouts: callers that must
    not wait run it in a thread (:func:`send_with_timeout`)."""
    with _captured() as capture:
        try:
            plugin = _instantiate(url)
            if plugin is None:
                return capture.reason("apprise could not read the URL")
            if plugin.notify(body=body or title, title=title):
                return None
        except Exception as error:  # a plugin's bug must not take the caller down
            capture.messages.append(f"{type(error).__name__}: {error}")
        return capture.reason("apprise reported a failure and said no more")


def send_with_timeout(url: str, title: str, body: str, timeout_s: float) -> str | None:
    """:func:`send_message` in a daemon thread, waited for at most ``timeout_s``; a send
    still going after it is reported as timed out (and left to end on its own)."""
    outcome: list[str | None] = []
    thread = threading.Thread(
        target=lambda: outcome.append(send_message(url, title, body)),
        name="ravelab-notify-test",
        daemon=True,
    )
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        return f"no answer within {timeout_s:.0f} s (timed out)"
    return outcome[0]


# -- use cases --------------------------------------------------------------------------


def parse_events(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Event kinds from ``completed,failed`` or a list; empty means every kind.

    Raises:
        ConfigError: an unknown kind (the message lists the known ones).
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds: list[str] = []
    for item in items:
        if not str(item).strip():
            continue
        try:
            kind = EventKind.parse(str(item)).value
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def _shown(row: rows.ChannelRow) -> Channel:
    return Channel(
        id=row.id,
        url=mask_url(row.url),
        events=row.events,
        created_at=row.created_at,
        sent=row.sent,
        pending=row.pending,
        failed=row.failed,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        last_sent_at=row.last_sent_at,
    )


def add_channel(db: Database, url: str, events: str | Iterable[str] | None = None) -> Channel:
    """Store a channel after apprise has read its URL; ``events`` limits the kinds it is
    told about (none: every kind). Events recorded before it are not sent to it.

    Raises:
        ConfigError: the URL or an event kind is refused (one line, URL masked).
    """
    kinds = parse_events(events)
    checked = check_url(url)
    channel_id = rows.insert_channel(db, checked, kinds)
    channel = get_channel(db, channel_id)
    assert channel is not None
    return channel


def list_channels(db: Database) -> list[Channel]:
    """Every channel, URLs masked, with its delivery counts and last error."""
    return [_shown(row) for row in rows.list_channels(db)]


def get_channel(db: Database, channel_id: int) -> Channel | None:
    row = rows.get_channel(db, channel_id)
    return None if row is None else _shown(row)


def _require(db: Database, channel_id: int) -> rows.ChannelRow:
    row = rows.get_channel(db, channel_id)
    if row is None:
        raise NotFoundError(
            f"notification channel {channel_id} not found: `ravelab notify list` shows them"
        )
    return row


def remove_channel(db: Database, channel_id: int) -> None:
    """Remove a channel and its deliveries.

    Raises:
        NotFoundError: no such channel.
    """
    _require(db, channel_id)
    rows.delete_channel(db, channel_id)


def send_test(
    db: Database, channel_id: int | None = None, *, timeout_s: float = TEST_TIMEOUT_S
) -> list[SendReport]:
    """Send a test message now to one channel (or to each), each waited for at most
    ``timeout_s``; what each did. Nothing is recorded.

    Raises:
        NotFoundError: no such channel.
    """
    targets = [_require(db, channel_id)] if channel_id is not None else rows.list_channels(db)
    results = []
    for row in targets:
        error = send_with_timeout(
            row.url,
            "ravelab: test message",
            "Notifications from ravelab reach this channel.",
            timeout_s,
        )
        results.append(SendReport(row.id, mask_url(row.url), error))
    return results


def recent_events(db: Database, after_id: int, limit: int = 100) -> list[RecentEvent]:
    """Events recorded after the one with id ``after_id``, oldest first."""
    return [
        RecentEvent(e.id, e.kind, e.experiment_id, e.title, e.body, e.created_at)
        for e in rows.events_after(db, after_id, limit)
    ]


def last_event_id(db: Database) -> int:
    """The newest event's id (0 when none): what the app has seen at its start."""
    return rows.last_event_id(db)


def event_kinds() -> Sequence[str]:
    """Every event kind, in their order (for the app's checkboxes and the CLI's help)."""
    return [kind.value for kind in EventKind]
