"""`ravelab notify add | list | remove | test`: channels checked by apprise, URLs masked,
every bad input one line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.operations.notify_servers import silent_server, webhook_server


def test_add_list_test_and_remove_a_channel(cli: Any) -> None:
    with webhook_server() as server:
        url = server.url.replace("json://", "json://me:t0ken@")
        code, out, err = cli("notify", "add", url, "--events", "failed,completed")
        assert (code, err) == (0, "")
        assert "channel 1 added" in out and "t0ken" not in out and "failed, completed" in out
        code, out, _ = cli("notify", "list")
        assert code == 0 and "t0ken" not in out and "failed,completed" in out
        code, out, _ = cli("notify", "test", "1")
        assert code == 0 and "sent" in out
        assert server.titles() == ["ravelab: test message"]
        code, out, _ = cli("notify", "list", "--json")
        (channel,) = json.loads(out)
        assert channel["id"] == 1 and "t0ken" not in channel["url"]
        assert channel["events"] == ["failed", "completed"]
        assert cli("notify", "remove", "1")[0] == 0
        assert "no notification channels" in cli("notify", "list")[1]


def test_a_failing_channel_is_reported_by_test(cli: Any) -> None:
    with silent_server() as port:
        assert cli("notify", "add", f"json://127.0.0.1:{port}/hook?rto=1")[0] == 0
    # The port is closed now: nothing listens there.
    code, out, err = cli("notify", "test")
    assert code == 4 and "FAILED" in out and err == ""


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("notify", "add", "foo://bar"), 4, "unknown notification URL 'foo://bar'"),
        (("notify", "add", "discord://"), 4, "invalid discord:// URL"),
        (("notify", "add", "ntfy://topic", "--events", "done"), 4, "unknown event 'done'"),
        (("notify", "remove", "9"), 3, "notification channel 9 not found"),
        (("notify", "test", "9"), 3, "notification channel 9 not found"),
    ],
)
def test_bad_input_is_one_line(cli: Any, args: tuple[str, ...], code: int, says: str) -> None:
    got, _, err = cli(*args)
    assert got == code and says in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_id_is_refused_by_argparse(cli: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        cli("notify", "remove", "x")
    assert exited.value.code == 2
