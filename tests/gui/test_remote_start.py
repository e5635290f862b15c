"""Starting an SSH run from the app: the launch (dataset sent first) runs in a worker
behind a busy dialog while the window keeps painting; its result or error comes back like
a plain call's."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from ravelab.core.ssh.remotes import add_remote
from ravelab.gui import training_page as page_module
from ravelab.gui.remote_start import run_while_waiting
from tests.helpers import run_config
from tests.ssh_remote import kill_remote_runs, remote_ready, ssh_run_row  # noqa: F401
from tests.ssh_server import SshServer, run_as_remote, ssh_exclusive, ssh_server  # noqa: F401


def test_the_window_paints_while_the_work_runs(qtbot: Any, page: Any) -> None:
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    # Set by the GUI thread once it has painted the work's line and ticked on: only if
    # it keeps running while the work waits.
    release = threading.Event()

    shown: list[str] = []

    def work(say: Any) -> str:
        say("12345 50% 1.00MB/s 0:00:01")
        assert release.wait(30), "the GUI thread froze"
        return "done"

    def look() -> None:
        from PySide6.QtWidgets import QApplication, QProgressDialog

        dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, QProgressDialog)]
        shown.extend(d.labelText() for d in dialogs if d.isVisible())
        if any("50%" in text for text in shown) and len(ticks) >= 5:
            release.set()
        else:
            QTimer.singleShot(20, look)

    QTimer.singleShot(0, look)
    assert run_while_waiting(page, "working", work) == "done"
    timer.stop()
    assert len(ticks) >= 5
    assert any("50%" in text for text in shown), shown


def test_an_error_comes_back_as_raised(qtbot: Any, page: Any) -> None:
    def work(_say: Any) -> None:
        raise ValueError("no such remote")

    with pytest.raises(ValueError, match="no such remote"):
        run_while_waiting(page, "working", work)


def test_an_unreachable_remote_says_why(
    qtbot: Any, page: Any, db: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[str] = []
    monkeypatch.setattr(
        page_module.QMessageBox, "critical", lambda _p, _t, text, *a: errors.append(text)
    )
    add_remote(db, "down", "127.0.0.1", port=1)
    config = run_config(dataset_id, "far", executor="ssh", executor_options={"remote": "down"})
    assert page.start_training(config) is None
    assert errors and "refused the connection" in errors[0]
    assert page.manager.list_records() == []


@pytest.mark.ssh
def test_an_ssh_run_starts_from_the_page(
    qtbot: Any,
    page: Any,
    db: Any,
    dataset_id: int,
    remote_ready: Path,  # noqa: F811
    ssh_exclusive: SshServer,  # noqa: F811
) -> None:
    runs = f"ravelab/test-runs/{uuid.uuid4().hex[:10]}"
    add_remote(
        db, "lab", ssh_exclusive.host, ssh_config=str(ssh_exclusive.config), runs_dir=runs,
        rave=str(remote_ready),
    )  # fmt: skip
    config = run_config(dataset_id, "far", executor="ssh", executor_options={"remote": "lab"})
    try:
        experiment_id = page.start_training(config)
        assert experiment_id is not None
        assert page.manager.wait(experiment_id, timeout=120)["status"] == "completed"
    finally:
        kill_remote_runs(f"/home/ravelab-remote/{runs}")
        run_as_remote(ssh_exclusive, ["rm", "-rf", "--", f"/home/ravelab-remote/{runs}"])


def test_the_details_name_where_an_ssh_run_is(
    qtbot: Any, db: Any, dataset_id: int, tmp_path: Path
) -> None:
    from ravelab.db import experiments as rows
    from ravelab.gui.run_details import RunDetails

    add_remote(db, "lab", "gpu.example.org")
    experiment_id, run = ssh_run_row(
        db, dataset_id, tmp_path, "lab", "/home/me/ravelab/runs/0001-far"
    )
    details = RunDetails()
    qtbot.addWidget(details)
    details.show_experiment(rows.get_experiment(db, experiment_id))
    assert details.folder.text() == f"{run} (mirrors lab:/home/me/ravelab/runs/0001-far)"
    assert "checkpoints stay there" in details.folder.toolTip()
