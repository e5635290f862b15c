"""What a registered dataset holds, as both front ends show it: examples, size, numbers.

``rave preprocess`` writes an LMDB database (``data.mdb``) with one record per example:
a chunk of ``2 x --num_signal`` samples, or for a lazy dataset one audio file. Its
``metadata.yaml`` gives ``n_seconds``, but RAVE computes it one chunk short and with a
``--num_signal`` that the folder does not record, so the count is read from the LMDB
file itself (read-only, without its lock file, as RAVE opens it), with the LMDB library
rather than by decoding its pages by hand. Where the file cannot be read, the count is
estimated from ``n_seconds`` and said to be an estimate.

Everything here reads a folder a user chose: anything that is not a regular file is
refused before it is opened (a FIFO named ``data.mdb`` would block the reader), links are
not followed when the size is summed, and no error escapes: a value that cannot be read
is ``None``.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ravelab.core.datasets import (
    CHANNELS_RANGE,
    N_SECONDS_MAX,
    SAMPLE_RATE_RANGE,
    stored_number,
)
from ravelab.db import DatasetRecord

# RAVE's default --num_signal: what an estimate assumes when the dataset's is unknown.
DEFAULT_NUM_SIGNAL = 131_072
# The most files a size walk visits: a dataset folder holds two or three; a folder with
# far more is not what `rave preprocess` wrote, and walking it could take minutes.
MAX_FILES_WALKED = 10_000


@dataclass(frozen=True)
class DatasetFacts:
    """What a dataset's folder holds now.

    Attributes:
        examples: records in its ``data.mdb``: chunks, or files for a lazy dataset.
        examples_exact: False where ``examples`` is estimated from ``n_seconds``.
        size_bytes: bytes its files take on disk, or None where they cannot be read.
    """

    examples: int | None
    examples_exact: bool
    size_bytes: int | None

    def as_dict(self) -> dict[str, int | bool | None]:
        """The JSON form (``ravelab dataset list --json``)."""
        return {
            "chunks": self.examples,
            "chunks_exact": self.examples_exact,
            "size_bytes": self.size_bytes,
        }


def displayable(record: DatasetRecord) -> DatasetRecord:
    """``record`` with every number that is not finite and in range made unknown: a row
    stored by an older version may hold ``n_seconds`` inf, or text, and one bad row must
    not break the listing of the others."""
    channels = stored_number(record.channels, *CHANNELS_RANGE)
    sample_rate = stored_number(record.sample_rate, *SAMPLE_RATE_RANGE)
    n_seconds = stored_number(record.n_seconds, 0, N_SECONDS_MAX)
    num_signal = stored_number(record.num_signal, 1, 2**31)
    return dataclasses.replace(
        record,
        channels=None if channels is None else int(channels),
        sample_rate=None if sample_rate is None else int(sample_rate),
        n_seconds=n_seconds,
        num_signal=None if num_signal is None else int(num_signal),
    )


def facts(record: DatasetRecord) -> DatasetFacts:
    """Examples and size of a (displayable) dataset record's folder."""
    counted = count_examples(record.path)
    if counted is not None:
        return DatasetFacts(counted, True, size_on_disk(record.path))
    return DatasetFacts(estimated_examples(record), False, size_on_disk(record.path))


def estimated_examples(record: DatasetRecord) -> int | None:
    """Chunks implied by ``n_seconds``: RAVE counts it one chunk short, and the chunk is
    ``2 x num_signal`` samples (RAVE's default where the dataset's is unknown). None for a
    lazy dataset (its records are files, not chunks) or without the numbers."""
    if record.lazy or not record.n_seconds or not record.sample_rate:
        return None
    num_signal = record.num_signal or DEFAULT_NUM_SIGNAL
    return round(record.n_seconds * record.sample_rate / (2 * num_signal)) + 1


def count_examples(folder: str | os.PathLike[str]) -> int | None:
    """Records in ``folder/data.mdb``, or None where it is missing, not a regular file or
    not an LMDB database."""
    data = Path(folder) / "data.mdb"
    try:
        if not stat.S_ISREG(os.stat(data).st_mode) or not Path(folder).is_dir():
            return None
    except (OSError, ValueError):
        return None
    import lmdb  # only the dataset listings need it

    try:
        # readonly + lock=False: never writes, not even a lock file, into the user's
        # folder, and never waits on a preprocess that still has it open.
        with lmdb.open(
            str(folder),
            readonly=True,
            lock=False,
            readahead=False,
            max_readers=1,
            max_dbs=0,
            create=False,
        ) as env:
            entries = env.stat().get("entries")
    except (lmdb.Error, OSError, ValueError, OverflowError):
        return None
    return entries if isinstance(entries, int) and entries >= 0 else None


def size_on_disk(folder: str | os.PathLike[str]) -> int | None:
    """Bytes the files under ``folder`` take on disk (allocated blocks: LMDB files may be
    sparse), links not followed; None where it is not a readable folder or holds more than
    ``MAX_FILES_WALKED`` files."""
    try:
        if not Path(folder).is_dir():
            return None
    except (OSError, ValueError):
        return None
    total = 0
    seen = 0
    failed: list[OSError] = []
    for root, _dirs, files in os.walk(folder, onerror=failed.append):
        for name in files:
            seen += 1
            if seen > MAX_FILES_WALKED:
                return None
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                return None
            if stat.S_ISREG(info.st_mode):
                total += getattr(info, "st_blocks", 0) * 512 or info.st_size
    if failed:
        return None
    return total
