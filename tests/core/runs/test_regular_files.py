"""Opening a file a trainer wrote only while it is a regular file: a folder or a FIFO in
its place is refused at once, never waited on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ravelab.core.runs.regular_files import NotRegularFileError, open_regular


def test_open_regular_refuses_folders_and_fifos_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for name, kind in (("folder", "folder"), ("fifo", "FIFO")):
        with pytest.raises(NotRegularFileError, match=kind):
            open_regular(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing")
    (tmp_path / "file").write_bytes(b"ok")
    with open_regular(tmp_path / "file") as handle:
        assert handle.read() == b"ok"
