"""The Remotes dialog: reached from the Settings menu; add and remove go through the core
(its refusals shown), and a check of an unreachable remote runs in a worker and shows the
failing ssh line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.core.ssh.remotes import Remote, add_remote, list_remotes
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.gui.main_window import MainWindow
from ravelab.gui.remotes_dialog import RemotesDialog
from tests.ssh_server import SshServer, ssh_exclusive, ssh_server  # noqa: F401

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: QtBot, manager: TrainingManager, settings: QSettings) -> Iterator[MainWindow]:
    shown = MainWindow(manager, settings, confirm_close=False)
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    shown.cleanup()


@pytest.fixture
def dialog(qtbot: QtBot, db: Database) -> RemotesDialog:
    shown = RemotesDialog(db)
    qtbot.addWidget(shown)
    shown.show()
    return shown


def test_the_settings_menu_opens_the_dialog_with_the_stored_remotes(
    window: MainWindow, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(db, "lab", "me@gpu.example.org", port=2222)
    opened: list[RemotesDialog] = []
    monkeypatch.setattr(RemotesDialog, "exec", lambda self: opened.append(self) or 0)
    assert window.remotes_action.text() == "&Remotes..."
    window.remotes_action.trigger()
    (dialog,) = opened
    cells = [dialog.table.item(0, column).text() for column in range(3)]
    assert cells == ["lab", "me@gpu.example.org, port 2222", "ravelab/runs"]
    assert "ravelab remote setup NAME" in dialog.setup_hint.text()
    dialog.table.selectRow(0)
    assert "ravelab remote setup lab" in dialog.setup_hint.text()
    dialog.done(0)


def test_add_from_the_form_goes_through_the_core(
    dialog: RemotesDialog, db: Database, tmp_path: Path
) -> None:
    key = tmp_path / "id_test"
    key.write_text("not a real key", encoding="utf-8")
    dialog.name_edit.setText("lab")
    dialog.destination_edit.setText("me@gpu.example.org")
    dialog.port_box.setValue(2222)
    dialog.identity_edit.setText(str(key))
    dialog.runs_dir_edit.setText("~/scratch/runs")
    dialog.rave_edit.setText("/opt/rave/bin/rave")
    added = dialog.add_from_form()
    assert added is not None
    (stored,) = list_remotes(db)
    assert (stored.name, stored.user, stored.host, stored.port) == (
        "lab",
        "me",
        "gpu.example.org",
        2222,
    )
    assert stored.identity == str(key.resolve())
    assert (stored.runs_dir, stored.rave) == ("scratch/runs", "/opt/rave/bin/rave")
    assert dialog.table.rowCount() == 1 and dialog.selected_remote() == stored
    assert dialog.name_edit.text() == "" and dialog.port_box.value() == 0
    assert "Remote lab added" in dialog.status.text()


@pytest.mark.parametrize(
    ("name", "destination", "identity", "said"),
    [
        ("-bad", "host", "", "remote name '-bad' is not usable"),
        ("lab", "-oProxyCommand=x", "", "is not a host name"),
        ("lab", "host", "/no/such/key", "is not a file on this machine"),
        ("taken", "host", "", "choose another name"),
    ],
)
def test_a_refused_remote_is_not_added_and_says_why(
    dialog: RemotesDialog, db: Database, name: str, destination: str, identity: str, said: str
) -> None:
    add_remote(db, "taken", "elsewhere")
    dialog.reload()
    dialog.name_edit.setText(name)
    dialog.destination_edit.setText(destination)
    dialog.identity_edit.setText(identity)
    assert dialog.add_from_form() is None
    assert said in dialog.status.text()
    assert [remote.name for remote in list_remotes(db)] == ["taken"]
    assert dialog.name_edit.text() == name  # the form is kept for a correction


def test_remove_asks_and_is_refused_while_a_run_there_has_not_ended(
    dialog: RemotesDialog, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(db, "lab", "me@gpu.example.org")
    run = rows.insert_experiment(
        db,
        name="far",
        project_id=1,
        dataset_id=None,
        config={"executor": "ssh", "executor_options": {"remote": "lab"}},
    )
    rows.update_fields(db, run, executor="ssh")
    dialog.reload()
    assert dialog.select_remote("lab")

    asked: list[str] = []

    def confirm(remote: Remote) -> bool:
        asked.append(remote.name)
        return True

    monkeypatch.setattr(dialog, "confirm_remove", confirm)
    assert not dialog.remove_selected()
    assert asked == ["lab"]
    assert "has runs that have not ended" in dialog.status.text()
    assert f"{run} 'far'" in dialog.status.text()
    assert [remote.name for remote in list_remotes(db)] == ["lab"]

    rows.update_fields(db, run, ended_at="2026-01-01T00:00:00Z", status="stopped")
    assert dialog.remove_selected()
    assert list_remotes(db) == [] and dialog.table.rowCount() == 0
    assert "Remote lab removed" in dialog.status.text()


def test_remove_does_nothing_when_not_confirmed(
    dialog: RemotesDialog, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(db, "lab", "gpu.example.org")
    dialog.reload()
    dialog.select_remote("lab")
    monkeypatch.setattr(dialog, "confirm_remove", lambda remote: False)
    assert not dialog.remove_selected()
    assert [remote.name for remote in list_remotes(db)] == ["lab"]


def test_a_check_of_an_unreachable_remote_runs_in_a_worker_and_shows_the_ssh_line(
    qtbot: QtBot, dialog: RemotesDialog, db: Database
) -> None:
    # Nothing listens on port 1: ssh is refused at once.
    add_remote(db, "nowhere", "me@127.0.0.1", port=1)
    dialog.reload()
    dialog.select_remote("nowhere")
    assert dialog.check_button.isEnabled() and dialog.check_table.isHidden()
    with qtbot.waitSignal(dialog.check_finished, timeout=60_000) as finished:
        dialog.check_selected()
        # The call returned before the check ended: its result reaches the GUI thread
        # only through the event loop, so the dialog stays responsive meanwhile.
        assert dialog.checking and dialog.last_check is None
        assert not dialog.check_button.isEnabled()
        assert "Checking nowhere (me@127.0.0.1)" in dialog.status.text()
    assert finished.args == ["nowhere"]
    assert dialog.last_check is not None and not dialog.last_check.ready
    (line,) = dialog.check_text()
    assert line.startswith("MISSING  ssh: ")
    assert "refused the connection" in line
    assert dialog.check_table.isVisible()
    assert "nowhere is not ready" in dialog.status.text()
    assert dialog.check_button.isEnabled() and not dialog.checking
    dialog.resize(820, 760)
    qtbot.waitUntil(lambda: dialog.check_table.rowHeight(0) > 0)
    picture = dialog.grab()
    assert not picture.isNull()
    picture.save("/tmp/sshgui_dialog.png")


@pytest.mark.ssh
def test_a_check_of_a_reachable_remote_lists_what_it_has(
    qtbot: QtBot, dialog: RemotesDialog, db: Database, request: pytest.FixtureRequest
) -> None:
    # The exclusive server: a test that cuts ssh connections would fail this check.
    server: SshServer = request.getfixturevalue("ssh_exclusive")
    add_remote(db, "lab", server.host, ssh_config=str(server.config))
    dialog.reload()
    dialog.select_remote("lab")
    with qtbot.waitSignal(dialog.check_finished, timeout=120_000):
        dialog.check_selected()
    lines = dialog.check_text()
    # What follows rsync depends on whether ravelab was set up there: not asserted.
    assert lines[0].startswith(f"ok  ssh: logged in as {server.host}"), lines
    assert lines[1].startswith("ok  rsync: rsync"), lines
    assert all(line.split()[0] in ("ok", "warning", "MISSING") for line in lines)
    dialog.resize(820, 800)
    qtbot.waitUntil(lambda: dialog.check_table.rowHeight(len(lines) - 1) > 0)
    picture = dialog.grab()
    assert not picture.isNull()
    picture.save("/tmp/sshgui_dialog_reachable.png")
