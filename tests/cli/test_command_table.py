"""The command table: ``--help`` complete without importing any command module, each
command built alone, and short commands that import only what they use."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.main import COMMANDS, _help_width, asked_command, build_parser, main
from ravelab.db import Database
from ravelab.db import experiments as experiment_rows

SRC = str(Path(__file__).resolve().parents[2] / "src")

#: Libraries that none of the short commands needs (each costs tens of milliseconds).
HEAVY = ("numpy", "matplotlib", "google.protobuf", "tensorboard", "psygnal", "psutil", "yaml")


def _listed(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return [(c.dest, c.help) for c in action._choices_actions]  # type: ignore[attr-defined]


def test_the_table_has_every_command_with_the_help_its_module_gives() -> None:
    built = _listed(build_parser())  # every module imported, each command its own help
    assert built == [(name, text) for name, (_, text) in COMMANDS.items()]


def test_help_lists_every_command_without_building_one() -> None:
    assert _listed(build_parser(())) == _listed(build_parser())


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_built_alone_has_its_own_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: ravelab {command} ")
    assert COMMANDS[command][1].split()[0] in build_parser().format_help()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["list"], "list"),
        (["list", "--json"], "list"),
        (["list", "-h"], "list"),
        (["--db", "list", "show", "1"], "show"),  # a database file named "list"
        (["--db=x.db", "-v", "dataset", "list"], "dataset"),
        (["--d", "x.db", "jobs"], "jobs"),  # argparse's abbreviation of --db
        (["-v", "--rave", "/bin/rave", "stop", "3"], "stop"),
        (["-h", "list"], None),  # the top-level help, listing every command
        (["lst"], None),
        ([], None),
        (["--bogus", "list"], None),
    ],
)
def test_the_command_asked_for_is_read_as_argparse_reads_it(
    argv: list[str], expected: str | None
) -> None:
    assert asked_command(argv) == expected


def test_errors_before_a_command_list_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["lst"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'lst'" in err and "'stop-job'" in err and "'db'" in err


def _modules_after(argv: list[str], db: Path, code: str | None = None) -> dict[str, Any]:
    """Run ``ravelab ARGV`` in a fresh interpreter; the modules it imported, and its output."""
    script = code or (
        "import json, sys\n"
        "from ravelab.cli.main import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as exited:\n"
        "    code = exited.code\n"
        "sys.stdout.flush()\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC, RAVELAB_DB=str(db))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    result["out"] = done.stdout
    return result


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["list"], ["show", "1"], ["dataset", "list"], ["jobs"], ["list", "--help"]],
)
def test_short_commands_import_no_heavy_library_and_no_other_command(
    argv: list[str], tmp_path: Path
) -> None:
    done = _modules_after(argv, tmp_path / "empty.db")
    modules = set(done["modules"])
    assert not [name for name in HEAVY if name in modules]
    commands = {f"ravelab.cli.{module}" for module, _ in COMMANDS.values()}
    own = set() if argv[0].startswith("-") else {f"ravelab.cli.{COMMANDS[argv[0]][0]}"}
    if argv[0] == "dataset":
        own.add("ravelab.cli.commands_workflow")  # defines `dataset create` and `remove`
    assert commands & modules <= own
    assert "ravelab.core.runs.training_manager" not in modules  # nothing to re-attach


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["show", "1"], ["dataset", "list"]])
def test_the_shortest_commands_load_neither_logging_nor_shutil(
    argv: list[str], tmp_path: Path
) -> None:
    """Both cost these commands a tenth of their time: logging is set up when first
    imported (nothing here logs, once the file exists), and argparse is told the
    terminal's width."""
    Database(tmp_path / "empty.db").close()  # a new file's migrations are logged
    modules = set(_modules_after(argv, tmp_path / "empty.db")["modules"])
    assert not {"logging", "shutil"} & modules


def test_list_still_settles_a_run_that_needs_it(tmp_path: Path) -> None:
    """A row whose end is not recorded still gets the manager: here one that was never
    started and whose launcher is gone is settled as failed, as before."""
    db_path = tmp_path / "runs.db"
    with Database(db_path) as db:
        experiment_rows.insert_experiment(
            db, name="orphan", project_id=1, dataset_id=None, config={"config": "v2"}
        )
    done = _modules_after(["list", "--json"], db_path)
    assert done["code"] == ExitCode.OK
    (listed,) = json.loads(done["out"])
    assert listed["status"] == "failed" and "never started" in listed["reason"]
    assert "ravelab.core.runs.training_manager" in done["modules"]
    assert not [
        name for name in ("numpy", "google.protobuf", "matplotlib") if name in done["modules"]
    ]


def test_a_manager_over_finished_runs_imports_no_follower(tmp_path: Path) -> None:
    """Creating a ``TrainingManager`` (re-attaching) brings neither NumPy nor protobuf nor
    psygnal when no run needs following."""
    script = (
        "import json, sys\n"
        "from ravelab import Database, TrainingManager\n"
        f"TrainingManager(Database({str(tmp_path / 'm.db')!r}), follow=False)\n"
        "print(json.dumps({'code': 0, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    modules = set(_modules_after([], tmp_path / "m.db", script)["modules"])
    assert not [
        name for name in ("numpy", "google.protobuf", "matplotlib", "psygnal") if name in modules
    ]
    assert "ravelab.core.runs.training_process" not in modules


@pytest.mark.parametrize(
    "columns",
    [None, "100", "0", "-3", "wide", "33", " 120", "1_000", "+90", "\u00b2", "9" * 5000],
    ids=lambda columns: repr(columns)[:10],
)
def test_help_is_as_wide_as_argparse_would_make_it(
    columns: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The width the parsers are told is the one argparse asks shutil for."""
    import shutil

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _help_width() == shutil.get_terminal_size().columns - 2
