"""`ravelab audio list|export` and `import-run --n-signal` through main(argv)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from ravelab.cli.exit_codes import ExitCode
from tests.core.tensorboard.test_run_events import _make_run_layout
from tests.helpers import run_cli


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    monkeypatch.setenv("RAVELAB_DB", str(tmp_path / "cli.db"))

    return functools.partial(run_cli, capsys)


def _import(run: object, tmp_path: Path, *extra: str) -> None:
    folder = _make_run_layout(tmp_path / "outside")
    code, _out, err = run("import-run", str(folder), *extra)  # type: ignore[operator]
    assert code == ExitCode.OK, err


def test_list_as_json_has_one_entry_per_clip(run: object, tmp_path: Path) -> None:
    _import(run, tmp_path)
    code, out, err = run("audio", "list", "capture", "--json")  # type: ignore[operator]
    assert code == ExitCode.OK and err == ""
    entries = json.loads(out)
    assert [e["step"] for e in entries] == [39, 79, 119, 159, 199, 239, 279, 318]
    for entry in entries:
        assert Path(entry["path"]).is_file()
        assert entry["sample_rate"] == 44100 and entry["pairs"] == 1
        assert entry["seconds"] == pytest.approx(2.972, abs=1e-3)
        assert {"version", "validation", "segment", "layout_source"} <= entry.keys()


def test_list_as_a_table_says_when_pairs_are_worked_out(run: object, tmp_path: Path) -> None:
    _import(run, tmp_path)
    code, out, _err = run("audio", "list", "1")  # type: ignore[operator]
    assert code == ExitCode.OK
    assert out.splitlines()[0].split() == [
        "STEP", "VERSION", "VAL", "PAIRS", "SECONDS", "RATE", "FILE"
    ]  # fmt: skip
    assert "1*" in out and "pass --n-signal" in out
    code, out, _err = run("audio", "list", "1", "--n-signal", "65536")  # type: ignore[operator]
    assert "1*" not in out and "--n-signal" not in out


def test_import_with_n_signal_is_remembered(run: object, tmp_path: Path) -> None:
    _import(run, tmp_path, "--n-signal", "65536")
    _code, out, _err = run("audio", "list", "capture", "--json")  # type: ignore[operator]
    assert {e["layout_source"] for e in json.loads(out)} == {"run"}


def test_import_refuses_an_n_signal_rave_would_not_take(run: object, tmp_path: Path) -> None:
    folder = _make_run_layout(tmp_path / "outside")
    code, _out, err = run("import-run", str(folder), "--n-signal", "12")  # type: ignore[operator]
    assert code == ExitCode.INVALID and "--n-signal 12 is out of range" in err


def test_export_writes_the_pair_and_refuses_to_overwrite(run: object, tmp_path: Path) -> None:
    _import(run, tmp_path)
    out_dir = tmp_path / "heard"
    args = ("audio", "export", "capture", "--step", "318", "--pair", "0", "-o", str(out_dir))
    code, out, _err = run(*args)  # type: ignore[operator]
    assert code == ExitCode.OK
    assert [Path(line).name for line in out.splitlines()] == [
        "capture-step318-pair0-input.wav",
        "capture-step318-pair0-reconstruction.wav",
    ]
    code, _out, err = run(*args)  # type: ignore[operator]
    assert code == ExitCode.INVALID and "already exists" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--step", "300"), ExitCode.NOT_FOUND, "nearest are at 279 and 318"),
        (("--step", "39", "--pair", "2"), ExitCode.NOT_FOUND, "has no pair 2"),
        (("--step", "-4"), 2, "--step"),
        (("--step", "39", "--version", "3"), ExitCode.NOT_FOUND, "in version 3"),
    ],
)
def test_export_errors_name_the_value(
    run: object, tmp_path: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    _import(run, tmp_path)
    with pytest.raises(SystemExit) if code == 2 else _nothing():
        got, _out, err = run("audio", "export", "capture", "-o", str(tmp_path / "o"), *args)  # type: ignore[operator]
        assert got == code and words in err


def test_an_unknown_run_is_named(run: object) -> None:
    code, _out, err = run("audio", "list", "nosuch")  # type: ignore[operator]
    assert code == ExitCode.NOT_FOUND and "'nosuch' not found" in err


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> bool:
        return False
