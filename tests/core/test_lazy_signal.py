"""``LazySignal``: psygnal's own ``Signal`` once first touched (same instances, same
connections), made exactly once even when threads touch it at once."""

from __future__ import annotations

import threading

from ravelab.core.lazy_signal import LazySignal


class _Emitter:
    fired = LazySignal(int, str)


def test_a_lazy_signal_is_psygnal_s_signal_once_touched() -> None:
    from psygnal import Signal, SignalInstance

    first, second = _Emitter(), _Emitter()
    got: list[tuple[int, str]] = []
    first.fired.connect(lambda n, s: got.append((n, s)))
    first.fired.emit(1, "a")
    second.fired.emit(2, "b")  # another instance: its own connections
    assert got == [(1, "a")]
    assert isinstance(first.fired, SignalInstance) and first.fired is first.fired
    assert isinstance(_Emitter.__dict__["fired"], Signal)


def test_a_lazy_signal_touched_by_threads_at_once_is_one_signal() -> None:
    class Racer:
        fired = LazySignal(int)

    seen: list[object] = []
    start = threading.Barrier(8)

    def touch() -> None:
        start.wait()
        seen.append(Racer.fired)

    threads = [threading.Thread(target=touch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(signal) for signal in seen}) == 1
