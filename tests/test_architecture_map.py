"""docs/ARCHITECTURE.md's map names every module under src/ravelab, and only modules that exist.

The map is the first fenced block after the heading "Layers and packages". Its format (also
described above the block): a line whose first word ends in ``/`` opens a package, nested
by indentation; a line whose first word ends in ``.py`` names a module of the package it is
indented under, and more may follow it separated by commas (``datasets.py, projects.py``; a
list ending in a comma goes on at the next line, at the same indentation). A name may hold
slashes (``runs/manager.py``): it is a path relative to the enclosing package, so a
top-level line can name ``core/runs/manager.py`` directly. A package heading stands for its
``__init__.py``. A line indented deeper than the module line above it continues that
module's description; every other line is ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGE = ROOT / "src" / "ravelab"

_NAME = r"[\w.]+(?:/[\w.]+)*(?:\.py|/)"
_ENTRY = re.compile(rf"^(?P<indent> *)(?P<first>{_NAME})(?P<more>(?:, *{_NAME})*),?(?=\s|:|$)")


def map_block(text: str) -> list[str]:
    """The lines of the first fenced block after the "Layers and packages" heading."""
    heading = re.search(r"^#+ +Layers and packages *$", text, re.MULTILINE)
    assert heading, "docs/ARCHITECTURE.md has no 'Layers and packages' heading"
    fence = re.search(r"^```[^\n]*\n(.*?)^```", text[heading.end() :], re.MULTILINE | re.DOTALL)
    assert fence, "no fenced map block after 'Layers and packages'"
    return fence.group(1).splitlines()


def mapped_paths(lines: list[str]) -> set[str]:
    """Every module path the map names, relative to the repository root (``src/ravelab/...``).

    Package headings are recorded as their ``__init__.py``."""
    stack: list[tuple[int, str]] = []  # (indent, package path ending in "/")
    found: set[str] = set()
    module_indent: int | None = None  # of the module line above, in the same package
    for line in lines:
        entry = _ENTRY.match(line)
        if entry is None:
            continue
        indent = len(entry.group("indent"))
        if module_indent is not None and indent > module_indent:
            continue  # a description continued below its module's name
        names = [entry.group("first")]
        names += [name.strip() for name in entry.group("more").split(",") if name.strip()]
        if names[0].endswith("/"):
            while stack and stack[-1][0] >= indent:
                stack.pop()
            parent = stack[-1][1] if stack else ""
            stack.append((indent, parent + names[0]))
            found.add(stack[-1][1] + "__init__.py")
            module_indent = None
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        found.update(parent + name for name in names if name.endswith(".py"))
        module_indent = indent
    return found


def package_modules() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def test_every_module_is_on_the_map() -> None:
    mapped = mapped_paths(map_block(MAP.read_text(encoding="utf-8")))
    missing = sorted(package_modules() - mapped)
    assert not missing, f"modules missing from docs/ARCHITECTURE.md's map: {missing}"


def test_the_map_names_only_modules_that_exist() -> None:
    mapped = mapped_paths(map_block(MAP.read_text(encoding="utf-8")))
    stale = sorted(path for path in mapped if path.startswith("src/") and path.endswith(".py"))
    stale = [path for path in stale if not (ROOT / path).is_file()]
    assert not stale, f"docs/ARCHITECTURE.md's map names modules that do not exist: {stale}"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        # a package heading, then file names (one or several a line) and a description
        (
            "src/ravelab/\n  db/   data\n    a.py   what a does\n    b.py,\n    c.py\n"
            "                  continued.py is a description, not a module\n",
            {"src/ravelab/__init__.py", "src/ravelab/db/__init__.py"}
            | {f"src/ravelab/db/{n}.py" for n in "abc"},
        ),
        # nested subpackages by indentation, then back out to the outer package
        (
            "src/ravelab/\n  core/\n    runs/\n      manager.py\n    gpus.py\n  x.py\n",
            {
                "src/ravelab/__init__.py",
                "src/ravelab/core/__init__.py",
                "src/ravelab/core/runs/__init__.py",
                "src/ravelab/core/runs/manager.py",
                "src/ravelab/core/gpus.py",
                "src/ravelab/x.py",
            },
        ),
        # paths relative to the enclosing package, as a flat list would name them
        (
            "src/ravelab/\n  core/runs/manager.py   runs\n  core/runs/process.py: follows\n",
            {
                "src/ravelab/__init__.py",
                "src/ravelab/core/runs/manager.py",
                "src/ravelab/core/runs/process.py",
            },
        ),
    ],
)
def test_the_map_parser(block: str, expected: set[str]) -> None:
    assert mapped_paths(block.splitlines()) == expected
