"""Workarounds for bugs of the Qt binding, applied once at startup.

PySide6 6.12.0 on Python 3.11 miscounts references to two singletons (measured here; the
wheel seems to assume Python 3.12's immortal objects):

* every ``SignalInstance.emit()`` called from Python drops one reference to ``True``;
* every call of a Python slot by a signal Qt emits (a QTimer's ``timeout``, a button's
  ``clicked``, a queued delivery) drops one reference to ``None``.

When a count reaches zero the interpreter aborts ("Fatal Python error: none_dealloc" or
"bool_dealloc"): within minutes in an app whose timers tick and whose runs report live.

``protect_singletons`` measures both leaks and gives each leaking singleton the
effectively endless reference count Python 3.12 gives it (2**40 more: 35 years at a
thousand leaks a second). Over-counting is harmless (these objects are never freed), so
this stays safe once the binding is fixed: then it finds no leak and does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

logger = logging.getLogger(__name__)

#: References added to a leaking singleton.
CUSHION = 1 << 40
_SAMPLES = 16
_protected: set[str] = set()


class _Probe(QObject):
    probed = Signal()


def _drift(singleton: object, action: Callable[[], None]) -> int:
    before = sys.getrefcount(singleton)
    for _ in range(_SAMPLES):
        action()
    return sys.getrefcount(singleton) - before


def leaking_singletons() -> dict[str, object]:
    """The singletons this binding drops references to (empty on Python 3.12+)."""
    if sys.version_info >= (3, 12):
        return {}  # immortal objects: nothing to drop
    found: dict[str, object] = {}
    probe = _Probe()
    if _drift(True, probe.probed.emit) <= -_SAMPLES // 2:
        found["True"] = True
    names = iter(range(10 * _SAMPLES))
    probe.objectNameChanged.connect(lambda _name: None)
    if _drift(None, lambda: probe.setObjectName(f"probe-{next(names)}")) <= -_SAMPLES // 2:
        found["None"] = None
    probe.deleteLater()
    return found


def protect_singletons() -> list[str]:
    """Give every leaking singleton a cushion of references; the names protected.

    Idempotent. Safe while other threads run: a concurrent change of a count during the
    update is off by a few references against a cushion of 2**40.
    """
    for name, singleton in leaking_singletons().items():
        if name in _protected:
            continue
        count = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt: the first field
        before = sys.getrefcount(singleton)
        count.value += CUSHION
        if sys.getrefcount(singleton) - before < CUSHION // 2:  # not the layout expected
            count.value -= CUSHION
            logger.warning("PySide6 leaks references to %s; could not work around it", name)
            continue
        _protected.add(name)
        logger.info("worked around PySide6 leaking references to %s", name)
    return sorted(_protected)
