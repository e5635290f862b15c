"""ravelab's own run files damaged in every way (wrong types, missing keys, null, a list,
not JSON, not UTF-8, too large, a folder in place of the file): every command that
re-attaches keeps working, the damaged run is settled or flagged with a reason naming the
file and the field, and the other runs are settled as if nothing happened."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ravelab.core.runs.run_files import (
    EXIT_FILE,
    LAUNCH_FILE,
    SUPERVISOR_FILE,
    ExitRecord,
    LaunchSpec,
    SupervisorInfo,
)
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.faults.run_helpers import (
    assert_points_exact,
    cli_env,
    experiment,
    no_traceback,
    ravelab_ok,
)
from tests.helpers import run_config

pytestmark = pytest.mark.faults

_FOLDER = "<a folder>"
_HUGE = "<2 MB>"
_BINARY = "<not UTF-8>"

#: (file, damaged content, a word the reason must contain: the field or what is wrong)
EXIT_DAMAGE = [
    ('{"exit_code": "x", "signal": null, "stop_requested": false, "ended_at": 1.0}', "exit_code"),
    ('{"exit_code": 0, "ended_at": "soon"}', "ended_at"),
    ('{"exit_code": 0, "stop_requested": "yes"}', "stop_requested"),
    ('{"exit_code": 1e400}', "exit_code"),
    ('{"exit_code": 0, "signal": 9}', "signal"),
    ("[0]", "list"),
    ("null", "NoneType"),
    ('{"exit_code": 0', "not valid JSON"),
    (_BINARY, "UTF-8"),
    (_HUGE, "too large"),
    (_FOLDER, "folder"),
]
SUPERVISOR_DAMAGE = [
    ('{"supervisor_pid": 1, "trainer_pid": null, "trainer_pgid": 1, "host": "h"}', "trainer_pid"),
    ('{"supervisor_pid": 1, "trainer_pgid": 1, "host": "h"}', "trainer_pid is missing"),
    ('{"supervisor_pid": 1, "trainer_pid": -4, "trainer_pgid": 1, "host": "h"}', "trainer_pid"),
    ('{"supervisor_pid": 1, "trainer_pid": true, "trainer_pgid": 1, "host": "h"}', "trainer_pid"),
    (
        '{"supervisor_pid": 1, "trainer_pid": 5, "trainer_pgid": 5, "host": "h", '
        '"trainer_start_time": "x"}',
        "trainer_start_time",
    ),
    ('{"supervisor_pid": 1, "trainer_pid": 5, "trainer_pgid": 5, "host": 7}', "host"),
    ('"text"', "str"),
    ("{", "not valid JSON"),
    (_FOLDER, "folder"),
]
LAUNCH_DAMAGE = [
    ('{"argv": [], "cwd": "."}', "argv"),
    ('{"argv": "rave", "cwd": "."}', "argv"),
    ('{"argv": ["rave", 3], "cwd": "."}', "argv"),
    ('{"argv": ["rave"], "cwd": 5}', "cwd"),
    ('{"argv": ["rave"], "cwd": ".", "env": {"A": 1}}', "env"),
    ('{"argv": ["rave"], "cwd": ".", "int_grace_s": "x"}', "int_grace_s"),
    ('{"argv": ["rave"], "cwd": ".", "term_grace_s": -1}', "term_grace_s"),
    ('{"argv": ["rave"], "cwd": ".", "stdin_text": []}', "stdin_text"),
    ("[]", "list"),
    (_FOLDER, "folder"),
]


def _damage(path: Path, content: str) -> None:
    if path.is_dir():
        path.rmdir()
    else:
        path.unlink(missing_ok=True)
    if content == _FOLDER:
        path.mkdir()
    elif content == _HUGE:
        path.write_text(" " * (2 << 20) + "{}")
    elif content == _BINARY:
        path.write_bytes(b'{"exit_code": "\xff\xfe"}')
    else:
        path.write_text(content)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, rave_double: Path) -> Path:
    """The folder of a real run of the double that completed (its files all sound)."""
    base = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAKE_RAVE_STEP_LINES", "40")
        # A module fixture runs before the autouse one that turns wardens off: without
        # this, starting the run spawns a warden nobody waits for.
        patch.setenv("RAVELAB_WARDEN", "0")
        database = Database(base / "template.db")
        from ravelab.core.datasets import register_dataset
        from tests.conftest import FIXTURES

        dataset = base / "dataset"
        dataset.mkdir()
        shutil.copy(FIXTURES / "dataset-prep" / "metadata.yaml", dataset / "metadata.yaml")
        (dataset / "data.mdb").write_bytes(b"\0" * 4096)
        dataset_id = register_dataset(database, dataset, "synth").id
        manager = TrainingManager(
            database, rave=str(rave_double), runs_dir=base / "runs", poll_interval=0.05
        )
        experiment_id = manager.start_training(run_config(dataset_id, name="template"))
        assert manager.wait(experiment_id, timeout=60)["status"] == "completed"
        manager.shutdown()
        run_dir = Path(experiment(database, experiment_id).run_dir)
        database.close()
    return run_dir


@pytest.fixture
def unended_copy(
    db: Database, dataset_id: int, template: Path, tmp_path: Path
) -> Callable[[str], int]:
    """``unended_copy(name)``: a row for a copy of the template run in ``tmp_path/runs``,
    as if its end had not been seen yet."""

    def copy(name: str) -> int:
        experiment_id = rows.insert_experiment(
            db, name=name, project_id=1, dataset_id=dataset_id, config=run_config(dataset_id)
        )
        run_dir = tmp_path / "runs" / f"{experiment_id:04d}-{name}"
        shutil.copytree(template, run_dir)
        info = json.loads((template / SUPERVISOR_FILE).read_text())
        rows.update_fields(
            db,
            experiment_id,
            run_dir=str(run_dir),
            pid=info["supervisor_pid"],
            pid_start_time=info["supervisor_start_time"],  # long gone: a dead identity
            host=info["host"],
        )
        return experiment_id

    return copy


@pytest.mark.parametrize(("content", "word"), EXIT_DAMAGE)
def test_a_damaged_exit_json_fails_its_run_with_the_reason_and_nothing_else(
    db: Database,
    db_path: Path,
    unended_copy: Callable[[str], int],
    rave_double: Path,
    content: str,
    word: str,
) -> None:
    damaged, sound = unended_copy("damaged"), unended_copy("sound")
    _damage(Path(experiment(db, damaged).run_dir) / EXIT_FILE, content)
    record = ExitRecord.read(Path(experiment(db, damaged).run_dir))
    assert record is not None and record.damaged and word in str(record.error)
    ravelab_ok(db_path, cli_env(rave_double), "list")
    bad = experiment(db, damaged)
    assert bad.status == "failed" and bad.ended_at is not None
    assert bad.reason.startswith("damaged run file: exit.json") and word in bad.reason
    good = experiment(db, sound)
    assert (good.status, good.reason) == ("completed", None)
    for experiment_id in (damaged, sound):
        assert len(assert_points_exact(db, experiment_id)) == 40  # read despite the damage


@pytest.mark.parametrize(("content", "word"), SUPERVISOR_DAMAGE)
def test_a_damaged_supervisor_json_is_named_and_harms_no_other_run(
    db: Database,
    db_path: Path,
    unended_copy: Callable[[str], int],
    tmp_path: Path,
    rave_double: Path,
    content: str,
    word: str,
) -> None:
    damaged, sound = unended_copy("damaged"), unended_copy("sound")
    run_dir = Path(experiment(db, damaged).run_dir)
    _damage(run_dir / SUPERVISOR_FILE, content)
    info = SupervisorInfo.read(run_dir)
    assert info is not None and info.problem is not None and word in info.problem
    assert "supervisor.json" in info.problem
    (run_dir / EXIT_FILE).unlink()  # and it ended without recording its exit
    manager = TrainingManager(db, rave=str(rave_double), runs_dir=tmp_path / "runs", follow=False)
    bad = experiment(db, damaged)
    assert bad.status == "failed" and bad.reason.startswith("process lost")
    assert (experiment(db, sound).status, experiment(db, sound).reason) == ("completed", None)
    assert not manager.stop_training(damaged)  # nothing of it lives: nothing to stop
    ravelab_ok(db_path, cli_env(rave_double), "list")
    for experiment_id in (damaged, sound):
        assert len(assert_points_exact(db, experiment_id)) == 40


@pytest.mark.parametrize(("content", "word"), LAUNCH_DAMAGE)
def test_a_damaged_launch_json_ends_the_supervisor_with_the_reason(
    db: Database,
    db_path: Path,
    unended_copy: Callable[[str], int],
    rave_double: Path,
    content: str,
    word: str,
) -> None:
    damaged = unended_copy("damaged")
    run_dir = Path(experiment(db, damaged).run_dir)
    (run_dir / EXIT_FILE).unlink()
    _damage(run_dir / LAUNCH_FILE, content)
    with pytest.raises(ValueError, match=word):
        LaunchSpec.read(run_dir)
    done = subprocess.run(
        [sys.executable, "-m", "ravelab.core.runs.supervisor", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    no_traceback(done.stdout, done.stderr)
    assert done.returncode == 2
    record = ExitRecord.read(run_dir)
    assert record is not None and record.exit_code == 127
    assert record.error is not None and record.error.startswith("damaged run file: launch.json")
    ravelab_ok(db_path, cli_env(rave_double), "list")
    bad = experiment(db, damaged)
    assert bad.status == "failed" and word in bad.reason and "launch.json" in bad.reason
