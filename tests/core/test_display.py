"""Times, durations and rates as people read them: unknown or hostile values show as ``-``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ravelab.core.display import duration, local_time, parse_time, speed


def test_parse_time_reads_iso_and_takes_utc_when_no_zone_is_given() -> None:
    assert parse_time("2026-01-02T03:04:05+00:00") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_time("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_time(None) is None
    assert parse_time("") is None
    assert parse_time("yesterday") is None


def test_local_time_is_to_the_minute_or_a_dash() -> None:
    shown = local_time("2026-01-02T03:04:05+00:00")
    assert len(shown) == len("2026-01-02 03:04") and shown.startswith("2026-01-0")
    assert local_time("not a time") == "-"
    assert local_time(None) == "-"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0:00:00"),
        (59.9, "0:00:59"),
        (3725, "1:02:05"),
        (90061, "1d 1:01:01"),
        (None, "-"),
        (-1, "-"),
        (float("nan"), "-"),
        (float("inf"), "-"),
    ],
)
def test_duration(seconds: float | None, expected: str) -> None:
    assert duration(seconds) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2.4, "2.40 it/s"),
        (1, "1.00 it/s"),
        (0.5, "2.00 s/it"),
        (0, "-"),
        (-3.0, "-"),
        (float("nan"), "-"),
        ("fast", "-"),
        (None, "-"),
    ],
)
def test_speed_is_tqdm_like(value: object, expected: str) -> None:
    assert speed(value) == expected
