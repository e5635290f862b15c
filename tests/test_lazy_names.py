"""A package's names imported on first use."""

from __future__ import annotations

from typing import Any

import pytest

from ravelab.lazy_names import load_name


def test_a_name_is_imported_from_its_module_and_kept() -> None:
    namespace: dict[str, Any] = {}
    exports = {"dumps": "json"}
    import json

    assert load_name("pkg", exports, "dumps", namespace) is json.dumps
    assert namespace == {"dumps": json.dumps}  # the next lookup finds it without a call


def test_a_name_not_exported_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        load_name("pkg", {"dumps": "json"}, "nope", {})


def test_the_packages_give_their_names_and_refuse_others() -> None:
    import ravelab
    import ravelab.db
    import ravelab.db.records

    assert ravelab.db.records.JobRecord is ravelab.db.JobRecord  # moved, still there
    for module in (ravelab, ravelab.db, ravelab.db.records):
        with pytest.raises(AttributeError, match="has no attribute 'nope'"):
            module.nope  # noqa: B018
