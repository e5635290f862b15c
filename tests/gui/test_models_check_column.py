"""The Models page shows each model's export check (ok, problems, not checked), the torch
that exported it, a warning colour and the details in a tooltip; "Check" runs it again
(through the RAVE-environment double)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from ravelab.db import Database
from ravelab.db import jobs as job_rows
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.models_page import CHECK_COLUMN, HEADERS, WARNING_COLOUR, ModelsPage
from ravelab.gui.style import ERROR_COLOUR
from tests.core.rave.conftest import make_run
from tests.fake_rave.env_python import write_rave_env
from tests.gui.conftest import save_screenshot

pytestmark = pytest.mark.gui


def _model(
    db: Database, run_id: int, path: Path, check: dict[str, object] | None, torch: str | None
) -> int:
    path.write_bytes(b"not a zip")
    model_id = job_rows.insert_model(
        db,
        experiment_id=run_id,
        job_id=None,
        path=str(path),
        size_bytes=42_400_000,
        streaming=True,
        fidelity=0.95,
        checkpoint=None,
        step=1200,
    )
    if check is not None:
        job_rows.set_model_check(db, model_id, json.dumps(check), torch)
    return model_id


def test_the_check_column(
    qtbot: QtBot, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(db, tmp_path)
    params = {"encode": [1, 1, 8, 512], "decode": [8, 512, 1, 1], "forward": [1, 1, 1, 1]}
    _model(db, run.id, tmp_path / "unchecked.ts", None, None)
    _model(
        db,
        run.id,
        tmp_path / "broken.ts",
        {"ok": False, "problems": ["forward returned NaN or inf"], "warnings": []},
        "2.0.0",
    )
    _model(
        db,
        run.id,
        tmp_path / "good.ts",
        {
            "ok": True,
            "problems": [],
            "warnings": [],
            "params": params,
            "stream": {"blocks": 22, "block": 4096, "ms_per_block": 8.0},
        },
        "2.9.1+cu128",
    )
    monkeypatch.setenv("RAVELAB_RAVE", str(write_rave_env(tmp_path / "env")))
    page = ModelsPage(db, AppSignals())
    qtbot.addWidget(page)
    try:
        page.resize(1400, 260)
        with qtbot.waitSignal(page.models_loaded, timeout=10_000):
            page.show()
        rows = {
            Path(
                page.tree.topLevelItem(i).text(HEADERS.index("File"))
            ).name: page.tree.topLevelItem(i)
            for i in range(page.tree.topLevelItemCount())
        }
        good, broken, unchecked = rows["good.ts"], rows["broken.ts"], rows["unchecked.ts"]
        assert good.text(CHECK_COLUMN) == "ok, 1 warning"
        assert good.text(HEADERS.index("Torch")) == "2.9.1+cu128"
        assert good.foreground(CHECK_COLUMN).color() == QColor(WARNING_COLOUR)
        tooltip = good.toolTip(CHECK_COLUMN)
        assert "warning: exported with torch 2.9.1+cu128, newer than the libtorch" in tooltip
        assert "forward: [1, 1, 1, 1]" in tooltip and "22 blocks of 4096" in tooltip
        assert broken.text(CHECK_COLUMN) == "1 problem"
        assert broken.foreground(CHECK_COLUMN).color() == QColor(ERROR_COLOUR)
        assert "problem: forward returned NaN or inf" in broken.toolTip(CHECK_COLUMN)
        assert unchecked.text(CHECK_COLUMN) == "not checked"
        assert unchecked.text(HEADERS.index("Torch")) == "-"
        assert not page.check_button.isEnabled()
        qtbot.wait(50)
        save_screenshot(page, "models_page_check.png")

        # Check the unchecked one: the double cannot open "not a zip", like torch.jit.load.
        unchecked.setSelected(True)
        assert page.check_button.isEnabled()
        with qtbot.waitSignal(page.models_loaded, timeout=60_000):
            assert page.check_selected()
        assert page.check_label.text() == f"model {page.rows[-1].model.id}: problems"
        item = next(
            page.tree.topLevelItem(i)
            for i in range(page.tree.topLevelItemCount())
            if page.tree.topLevelItem(i).text(HEADERS.index("File")).endswith("unchecked.ts")
        )
        assert item.text(CHECK_COLUMN).startswith("1 problem")
        assert "torch.jit.load fails" in item.toolTip(CHECK_COLUMN)
        assert item.text(HEADERS.index("Torch")) == "2.9.1+cu128"
    finally:
        page.cleanup()
