"""What a dataset folder holds: examples read from its LMDB file, size, shown numbers."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from ravelab.core import dataset_facts
from ravelab.db import DatasetRecord
from tests.helpers import write_lmdb


def _record(path: Path, **changes: object) -> DatasetRecord:
    record = DatasetRecord(
        id=1,
        project_id=1,
        name="synth",
        path=str(path),
        channels=1,
        sample_rate=44_100,
        n_seconds=56.47092970521542,  # the genuine capture: 20 examples of 65536 x 2
        lazy=False,
        status="ready",
        reason=None,
        created_at="2026-12-03T00:00:00+00:00",
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def test_the_count_is_read_from_the_lmdb_file_without_writing_to_the_folder(
    tmp_path: Path,
) -> None:
    write_lmdb(tmp_path, 20)
    before = sorted(p.name for p in tmp_path.iterdir())
    found = dataset_facts.facts(_record(tmp_path))
    assert found.examples == 20 and found.examples_exact
    assert found.size_bytes is not None and found.size_bytes >= 20 * 256
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no lock.mdb made


def test_without_a_readable_lmdb_the_count_is_an_estimate_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "data.mdb").write_bytes(b"not an lmdb file" * 300)
    # 56.47 s is 19 chunks of 2 x 65536 samples: RAVE counts one short.
    found = dataset_facts.facts(_record(tmp_path, num_signal=65_536))
    assert found.examples == 20 and not found.examples_exact
    # Without the dataset's --num_signal, RAVE's default is assumed (and is wrong here:
    # why the LMDB file is read first).
    assert dataset_facts.facts(_record(tmp_path)).examples == 11
    assert dataset_facts.facts(_record(tmp_path, lazy=True)).examples is None
    assert dataset_facts.facts(_record(tmp_path, n_seconds=None)).examples is None


def test_a_fifo_or_a_folder_named_data_mdb_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "data.mdb")
    assert dataset_facts.count_examples(fifo) is None
    folder = tmp_path / "folder"
    (folder / "data.mdb").mkdir(parents=True)
    assert dataset_facts.count_examples(folder) is None
    assert dataset_facts.count_examples(tmp_path / "gone") is None
    assert dataset_facts.count_examples("\0bad") is None


def test_the_size_counts_files_and_never_follows_links(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    (folder / "sub").mkdir(parents=True)
    (folder / "data.mdb").write_bytes(b"x" * 10_000)
    elsewhere = tmp_path / "big"
    elsewhere.mkdir()
    (elsewhere / "huge").write_bytes(b"y" * 1_000_000)
    (folder / "sub" / "link").symlink_to(elsewhere, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    size = dataset_facts.size_on_disk(folder)
    assert size is not None and 10_000 <= size < 1_000_000
    assert dataset_facts.size_on_disk(tmp_path / "gone") is None
    assert dataset_facts.size_on_disk(folder / "data.mdb") is None


def test_a_folder_with_too_many_files_has_no_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset_facts, "MAX_FILES_WALKED", 3)
    for index in range(4):
        (tmp_path / f"f{index}").write_bytes(b"z")
    assert dataset_facts.size_on_disk(tmp_path) is None


def test_numbers_out_of_range_are_shown_as_unknown(tmp_path: Path) -> None:
    shown = dataset_facts.displayable(
        _record(tmp_path, channels=0, sample_rate=10**12, n_seconds=float("inf"), num_signal=-1)
    )
    assert (shown.channels, shown.sample_rate, shown.n_seconds, shown.num_signal) == (
        None,
        None,
        None,
        None,
    )
    assert dataset_facts.facts(shown).examples is None
