"""The CLI's text output: aligned tables that keep a row on one line, progress bars that
take stored (untrusted) progress without raising."""

from __future__ import annotations

import io
import json

import pytest

from ravelab.cli.formatting import print_json, progress_bar, run_duration, table


def test_table_aligns_columns_and_escapes_control_characters() -> None:
    text = table(["id", "name"], [[1, "a\nb"], [22, None]])
    assert text.splitlines() == ["id  name", "--  ----", "1   a\\nb", "22"]


@pytest.mark.parametrize(
    ("step", "total", "expected"),
    [
        (10, 40, "[######..................]  25.0%"),
        (50, 40, "[########################] 100.0%"),
        (-5, 40, "[........................]   0.0%"),
        (7, None, "step 7"),
        (7, 0, "step 7"),
        ("x", float("inf"), "step 0"),
        pytest.param(10**400, 40, "[........................]   0.0%", id="huge-step"),
        pytest.param(5, 10**400, "step 5", id="huge-total"),
        (True, 40, "[........................]   0.0%"),
    ],
)
def test_progress_bar_takes_any_stored_value(step: object, total: object, expected: str) -> None:
    assert progress_bar(step, total) == expected


def test_run_duration_until_the_end_or_now() -> None:
    assert run_duration("2026-01-01T00:00:00", "2026-01-01T01:00:00") == 3600
    assert run_duration(None, "2026-01-01T01:00:00") is None
    ongoing = run_duration("2000-01-01T00:00:00", None)
    assert ongoing is not None and ongoing > 0


def test_print_json_keeps_non_standard_values_readable() -> None:
    out = io.StringIO()
    print_json({"a": float("nan"), "when": object}, out)
    assert json.loads(out.getvalue())["a"] != json.loads(out.getvalue())["a"]  # NaN
