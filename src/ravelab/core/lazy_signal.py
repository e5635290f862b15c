"""``LazySignal``: a psygnal ``Signal`` declared on a class, psygnal imported on first use.

Importing psygnal costs tens of milliseconds (it reads package metadata), which a one-shot
command such as ``ravelab list`` would pay for signals nothing connects to. A
``LazySignal`` stands in the class body in place of ``Signal(...)``; the first access puts
the real ``Signal`` in its place on the class, so from then on the attribute is exactly
psygnal's (same instances, same connections, same class-level access).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from psygnal import Signal, SignalInstance

__all__ = ["LazySignal"]

# One lock for all: the swap happens once per signal, and two threads touching a new
# signal at once must both end up with the one real Signal.
_SWAP = threading.Lock()


class LazySignal:
    """``Signal(*types)`` made when first accessed (see the module docstring)."""

    def __init__(self, *types: Any) -> None:
        self._types = types
        self._owner: type[Any] | None = None
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._owner = owner
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Signal: ...

    @overload
    def __get__(self, instance: Any, owner: type[Any] | None = None) -> SignalInstance: ...

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Signal | SignalInstance:
        signal = self.real()
        return signal if instance is None else signal.__get__(instance, owner)

    def real(self) -> Signal:
        """The psygnal ``Signal`` (made and put on the class the first time)."""
        owner = self._owner
        if owner is None:
            raise TypeError("a LazySignal must be declared in a class body")
        with _SWAP:
            current = owner.__dict__[self._name]
            if current is not self:
                swapped: Signal = current
                return swapped
            from psygnal import Signal

            signal = Signal(*self._types)
            signal.__set_name__(owner, self._name)
            setattr(owner, self._name, signal)
            return signal
