"""core/datasets: metadata.yaml as untrusted input, registration, lookup by id or name."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ravelab.core.datasets import (
    MAX_METADATA_BYTES,
    read_dataset_folder,
    register_dataset,
    resolve_dataset,
    stored_number,
)
from ravelab.core.errors import ConfigError, DatasetError
from ravelab.db import Database
from ravelab.db import datasets as dataset_rows

GOOD = b"channels: 2\nlazy: false\nn_seconds: 56.5\nsr: 44100\n"


def _dataset(folder: Path, metadata: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.yaml").write_bytes(metadata)
    (folder / "data.mdb").write_bytes(b"\0" * 64)
    return folder


def test_a_genuine_metadata_file_is_read(dataset_dir: Path) -> None:
    info = read_dataset_folder(dataset_dir)
    assert (info.channels, info.sample_rate, info.lazy) == (1, 44100, False)
    assert info.n_seconds == pytest.approx(56.47, abs=0.01)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (b"channels: 1\nn_seconds: .inf\nsr: 44100\n", "n_seconds is inf"),
        (b"channels: 1\nn_seconds: .nan\nsr: 44100\n", "n_seconds is nan"),
        (b"channels: 1\nn_seconds: -3.5\nsr: 44100\n", "n_seconds is -3.5"),
        (b"channels: 1\nn_seconds: 1.0e+300\nsr: 44100\n", "n_seconds is 1e+300"),
        (b"channels: 1\nn_seconds: " + b"9" * 500 + b"\n", "n_seconds is an integer too big"),
        (b"channels: 1\nn_seconds: '56'\nsr: 44100\n", "n_seconds is '56'"),
        (b"channels: 0\nn_seconds: 5\nsr: 44100\n", "channels is 0"),
        (b"channels: -2\nn_seconds: 5\nsr: 44100\n", "channels is -2"),
        (b"channels: 10^23\nn_seconds: 5\nsr: 44100\n", "channels is '10^23'"),
        (b"channels: 1.5\nn_seconds: 5\nsr: 44100\n", "channels is 1.5"),
        (b"channels: true\nn_seconds: 5\nsr: 44100\n", "channels is True"),
        (b"channels: [1, 2]\nn_seconds: 5\nsr: 44100\n", "channels is a list"),
        (b"channels: {a: 1}\nn_seconds: 5\nsr: 44100\n", "channels is a dict"),
        (b"channels: 1\nn_seconds: 5\nsr: 0\n", "sr is 0"),
        (b"channels: 1\nn_seconds: 5\nsr: .nan\n", "sr is nan"),
        (b"channels: 1\nn_seconds: 5\nsr: 44100\nlazy: maybe\n", "lazy is 'maybe'"),
        (b"channels: 1\nn_seconds: 0\nsr: 44100\n", "is empty (n_seconds: 0.0)"),
        (b"channels: \xff\xfe1\n", "is not UTF-8 text"),
        (b"\x00\x01\x02", "is not valid YAML"),
        (b"channels: [1\n", "is not valid YAML"),
        (b"- 1\n- 2\n", "expected key: value lines"),
        (b"", "expected key: value lines"),
        (b"just text\n", "expected key: value lines"),
        (b"# " + b"x" * MAX_METADATA_BYTES + b"\n", "is over 64 KiB"),
        (b"channels: " + b"[" * 5000 + b"]" * 5000 + b"\n", "is not valid YAML"),
        (b"channels: !!python/object/apply:os.system ['true']\n", "is not valid YAML"),
    ],
)
def test_bad_metadata_is_refused_naming_the_file_field_and_value(
    tmp_path: Path, metadata: bytes, message: str
) -> None:
    folder = _dataset(tmp_path / "ds", metadata)
    with pytest.raises(DatasetError) as raised:
        read_dataset_folder(folder)
    text = str(raised.value)
    assert message in text
    assert str(folder) in text
    assert len(text) < 600 and "\n" not in text


def test_a_yaml_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    # Nine levels of nine aliases: 9**9 strings if anything walked it.
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("channels: *a9")
    folder = _dataset(tmp_path / "bomb", "\n".join(lines).encode())
    with pytest.raises(DatasetError, match="YAML aliases"):
        read_dataset_folder(folder)


def test_an_unreadable_metadata_file_is_a_dataset_error(tmp_path: Path) -> None:
    folder = _dataset(tmp_path / "ds", GOOD)
    (folder / "metadata.yaml").unlink()
    (folder / "metadata.yaml").mkdir()  # a folder where the file should be
    with pytest.raises(DatasetError, match=r"has no metadata\.yaml"):
        read_dataset_folder(folder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_give_a_dataset_or_a_dataset_error(tmp_path_factory: Any, raw: bytes) -> None:
    folder = _dataset(tmp_path_factory.mktemp("fuzz"), raw)
    try:
        info = read_dataset_folder(folder)
    except DatasetError:
        return
    assert 1 <= info.channels <= 64
    assert math.isfinite(info.n_seconds) and info.n_seconds > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["channels", "sr", "n_seconds", "lazy", "other"]),
        st.one_of(
            st.integers(),
            st.floats(),
            st.booleans(),
            st.text(max_size=10),
            st.none(),
            st.lists(st.integers(), max_size=3),
        ),
    )
)
def test_any_typed_values_are_checked(tmp_path_factory: Any, data: dict[str, Any]) -> None:
    import yaml

    folder = _dataset(tmp_path_factory.mktemp("typed"), yaml.safe_dump(data).encode())
    try:
        info = read_dataset_folder(folder)
    except DatasetError:
        return
    assert isinstance(info.channels, int) and 1 <= info.channels <= 64
    assert isinstance(info.sample_rate, int) and 1000 <= info.sample_rate <= 768_000
    assert math.isfinite(info.n_seconds) and 0 < info.n_seconds <= 1e9
    assert isinstance(info.lazy, bool)


def test_a_folder_registered_twice_is_refused_by_its_name(db: Database, tmp_path: Path) -> None:
    folder = _dataset(tmp_path / "drums", GOOD)
    first = register_dataset(db, folder)
    for spelling in (folder, tmp_path / "drums" / ".." / "drums", f"{folder}/"):
        with pytest.raises(ConfigError, match=r"registered already as dataset 1 \('drums'\)"):
            register_dataset(db, spelling, name="other")
    assert [d.id for d in dataset_rows.list_datasets(db)] == [first.id]


def test_an_unknown_project_is_refused_before_the_insert(db: Database, tmp_path: Path) -> None:
    folder = _dataset(tmp_path / "drums", GOOD)
    with pytest.raises(ConfigError, match=r"project 99 not found: `ravelab projects`"):
        register_dataset(db, folder, project_id=99)
    assert dataset_rows.list_datasets(db) == []


def test_resolve_by_id_or_name_never_by_unicode_digits(db: Database, tmp_path: Path) -> None:
    record = register_dataset(db, _dataset(tmp_path / "drums", GOOD))
    assert resolve_dataset(db, "1").id == record.id
    assert resolve_dataset(db, 1).id == record.id
    assert resolve_dataset(db, "drums").id == record.id
    for ref in ("²", "١", "１", "1_0", "9" * 5000, ""):
        with pytest.raises(ConfigError, match="not found"):
            resolve_dataset(db, ref)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(56.5, 56.5), (math.inf, None), (math.nan, None), (-1.0, None), ("abc", None), (None, None)],
)
def test_stored_numbers_out_of_range_read_as_unknown(value: object, expected: object) -> None:
    assert stored_number(value, 0, 1e9) == expected


def test_rows_with_bad_numbers_read_back_as_unknown(db: Database, tmp_path: Path) -> None:
    db.execute(
        "INSERT INTO datasets(project_id, name, path, channels, sample_rate, n_seconds, lazy, "
        "status, created_at, sources, num_signal) "
        "VALUES (1, 'old', '/gone', 'two', -44100, ?, 0, 'ready', '2025-01-01', '[]', 0)",
        (math.inf,),
    )
    (record,) = dataset_rows.list_datasets(db)
    assert (record.channels, record.sample_rate, record.n_seconds, record.num_signal) == (
        None,
        None,
        None,
        None,
    )
    assert dataset_rows.get_dataset(db, record.id) == record
