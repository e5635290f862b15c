"""A remote run's checkpoint list in its local folder: read as remote checkpoints, every
entry checked (paths inside the run, RAVE's layout, sizes and times in range)."""

from __future__ import annotations

import json
from pathlib import Path

from ravelab.core.rave.checkpoints import REMOTE_LISTING, find_checkpoints
from ravelab.core.ssh.executor import _write_checkpoints


def test_listed_checkpoints_are_found_as_remote(tmp_path: Path) -> None:
    good = "run_1/version_0/checkpoints/best.ckpt"
    entries = [
        {"path": good, "size": 10, "mtime": 5.0},
        {"path": "../../etc/version_0/checkpoints/x.ckpt", "size": 1, "mtime": 1.0},
        {"path": "/abs/version_0/checkpoints/x.ckpt", "size": 1, "mtime": 1.0},
        {"path": "run_1/version_0/checkpoints/x.txt", "size": 1, "mtime": 1.0},
        {"path": "run_1/version_x/checkpoints/x.ckpt", "size": 1, "mtime": 1.0},
        {"path": "run_1/version_0/checkpoints/y.ckpt", "size": -1, "mtime": 1.0},
        {"path": "run_1/version_0/checkpoints/z.ckpt", "size": 1, "mtime": float("nan")},
        "not an entry",
    ]
    _write_checkpoints(tmp_path, entries)
    found = find_checkpoints(tmp_path)
    assert [(c.path, c.remote, c.size_bytes) for c in found] == [(tmp_path / good, True, 10)]


def test_a_damaged_listing_reads_as_none(tmp_path: Path) -> None:
    for text in ("{", "[]", json.dumps({"checkpoints": "x"}), "\0" * 10):
        (tmp_path / REMOTE_LISTING).write_text(text)
        assert find_checkpoints(tmp_path) == []


def test_a_local_file_wins_over_the_listing(tmp_path: Path) -> None:
    relative = "run_1/version_0/checkpoints/best.ckpt"
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_bytes(b"x" * 3)
    _write_checkpoints(tmp_path, [{"path": relative, "size": 99, "mtime": 1.0}])
    [found] = find_checkpoints(tmp_path)
    assert not found.remote and found.size_bytes == 3
