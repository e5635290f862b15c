"""Names a module gives on first use (a module ``__getattr__``, PEP 562): a short command
imports only what it uses, while ``from ravelab import TrainingManager`` still works."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any


def load_name(
    module_name: str, exports: Mapping[str, str], name: str, namespace: MutableMapping[str, Any]
) -> Any:
    """``name``, imported from the module ``exports`` gives for it and kept in
    ``namespace`` (the asking module's globals, so it is imported once).

    Raises:
        AttributeError: ``name`` is not one of ``exports``, as for any missing attribute.
    """
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value
