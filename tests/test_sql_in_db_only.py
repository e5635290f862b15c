"""Every SQL statement lives in the data layer (``ravelab.db``): no string literal
outside it starts like one, so a table's shape is known to one package only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ravelab

PACKAGE = Path(ravelab.__file__).parent
#: Statements are written in capitals here (prose says "Update the ...", never "UPDATE").
STATEMENT = re.compile(
    r"^\s*(SELECT|UPDATE|INSERT|DELETE|CREATE|ALTER|DROP|PRAGMA|WITH)\s"
    r"(.*\b(FROM|SET|INTO|TABLE|INDEX)\b|\s*[a-z_]+)",
    re.DOTALL,
)


def sql_literals(path: Path) -> list[str]:
    """``line: text`` of each string literal in ``path`` that reads as a SQL statement."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and STATEMENT.match(node.value)
        ):
            found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_no_sql_outside_the_data_layer() -> None:
    outside = [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] != "db"]
    assert len(outside) > 50
    found = [hit for path in outside for hit in sql_literals(path)]
    assert not found, "SQL outside ravelab.db (add a repository function):\n" + "\n".join(found)


def test_the_check_finds_statements_and_passes_prose(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'db.execute("UPDATE experiments SET reason = ? WHERE id = ?", ())\n'
        'db.query(\n    "SELECT id FROM jobs "\n    "WHERE pid IS NULL"\n)\n'
        'print("update the settings from the menu")\n'
        'print("Select a dataset to continue.")\n'
    )
    assert [hit.split(":")[1] for hit in sql_literals(sample)] == ["1", "3"]
    assert len(sql_literals(PACKAGE / "db" / "experiments.py")) > 10
