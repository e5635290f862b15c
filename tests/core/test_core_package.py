"""ravelab.core's rooms: modules that moved still answer to their earlier flat names."""

from __future__ import annotations

import importlib

import pytest

import ravelab.core
from ravelab.core import MOVED


def test_every_earlier_name_is_the_moved_module_itself() -> None:
    for old, new in MOVED.items():
        moved = importlib.import_module(f"ravelab.core.{new}")
        assert importlib.import_module(f"ravelab.core.{old}") is moved
        assert moved.__spec__ is not None and moved.__spec__.name == moved.__name__


def test_from_imports_and_patches_through_an_earlier_name_reach_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.core import training_manager
    from ravelab.core.runs import training_manager as moved

    assert training_manager is moved
    monkeypatch.setattr("ravelab.core.training_manager.STALLED_SETTING", "patched")
    assert moved.STALLED_SETTING == "patched"


def test_an_unknown_name_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("ravelab.core.no_such_module")
    assert not hasattr(ravelab.core, "no_such_module")
