"""Damaging a SQLite file on purpose: garbling the rows of a table's data page.

The page header and the file header are left alone, so the file still opens and the damage
shows only when the rows are read, as after a bad sector or a torn write.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_LEAF_TABLE = 0x0D
_INTERIOR_TABLE = 0x05


def _page(data: bytes, number: int, size: int) -> tuple[int, bytes]:
    start = (number - 1) * size
    return start, data[start : start + size]


def garble_rows_of(path: Path, table: str) -> int:
    """Overwrite the cell contents (the rows) of the first data page of ``table`` in the
    closed database file ``path``; return that page's number.

    Everything is first checkpointed into the main file (no -wal content left), so the
    garbled bytes are what SQLite reads next.
    """
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "another connection is using the database"
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    finally:
        conn.close()
    data = bytearray(path.read_bytes())
    number = int(root)
    while True:
        start, page = _page(bytes(data), number, size)
        header = 100 if number == 1 else 0
        kind = page[header]
        if kind == _LEAF_TABLE:
            break
        assert kind == _INTERIOR_TABLE, f"page {number} of {table} is not a table page"
        # The left-most child: the 4-byte page number that starts the first cell.
        first_cell = int.from_bytes(page[header + 12 : header + 14], "big")
        number = int.from_bytes(page[first_cell : first_cell + 4], "big")
    content = int.from_bytes(page[header + 5 : header + 7], "big") or 65536
    assert content < size, f"page {number} of {table} holds no rows"
    # Every byte: a sparser pattern may leave each row's header readable (the damage then
    # shows only as odd values, or not at all), depending on how wide the rows are.
    for offset in range(start + content, start + size):
        data[offset] = 0xFF
    path.write_bytes(bytes(data))
    return number
