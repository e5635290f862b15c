"""Real endpoints for the notification tests: an HTTP server that takes apprise's JSON
webhook (``json://127.0.0.1:PORT/hook``), an SMTP server (aiosmtpd) that takes mail, and
a socket that accepts connections and never answers."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class WebhookServer:
    """Answers each POST with the next status of ``statuses`` (then 200) and keeps the
    JSON bodies of the ones it answered with 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def titles(self) -> list[str]:
        with self.lock:
            return [str(body.get("title", "")) for body in self.received]


@contextlib.contextmanager
def webhook_server(statuses: list[int] | None = None) -> Iterator[WebhookServer]:
    state = WebhookServer(statuses=list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            with state.lock:
                state.requests += 1
                status = state.statuses.pop(0) if state.statuses else 200
                if status == 200:
                    state.received.append(json.loads(data))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port whose connections are accepted (by the kernel's backlog) and never answered;
    closing it ends whatever waits on them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@dataclass
class MailServer:
    port: int
    messages: list[Any]

    def url(self) -> str:
        return f"mailto://localhost:{self.port}?from=ravelab@example.com&to=someone@example.com"


@contextlib.contextmanager
def mail_server() -> Iterator[MailServer]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    messages: list[Any] = []

    class Keep(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            messages.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailServer(port, messages)
    finally:
        controller.stop()
