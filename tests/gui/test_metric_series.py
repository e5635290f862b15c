"""SeriesCache reads histories whole, or only their new points when the core allows it."""

from __future__ import annotations

import pytest

from ravelab.gui.metric_series import SeriesCache, supports_after_step

pytestmark = pytest.mark.gui


class _Store:
    def __init__(self) -> None:
        self.points = {"loss": [(s, s / 10) for s in range(1, 6)]}
        self.calls: list[tuple[str, int | None]] = []

    def whole(self, experiment_id: int, name: str) -> list[tuple[int, float]]:
        self.calls.append((name, None))
        return list(self.points.get(name, []))

    def since(
        self, experiment_id: int, name: str, after_step: int | None = None
    ) -> list[tuple[int, float]]:
        self.calls.append((name, after_step))
        return [p for p in self.points.get(name, []) if after_step is None or p[0] > after_step]


def test_a_core_without_after_step_is_read_whole() -> None:
    store = _Store()
    cache = SeriesCache(store.whole, 1)
    assert not cache.incremental
    assert cache.refresh(["loss"])["loss"][0].tolist() == [1, 2, 3, 4, 5]
    store.points["loss"].append((6, 0.6))
    assert cache.refresh(["loss"])["loss"][0].tolist() == [1, 2, 3, 4, 5, 6]
    assert store.calls == [("loss", None), ("loss", None)]


def test_a_core_with_after_step_is_read_incrementally() -> None:
    store = _Store()
    assert supports_after_step(store.since)
    cache = SeriesCache(store.since, 1)
    first = cache.refresh(["loss"])["loss"]
    assert first[0].tolist() == [1, 2, 3, 4, 5]
    store.points["loss"] += [(s, s / 10) for s in range(6, 3000)]
    steps, values = cache.refresh(["loss"])["loss"]
    assert steps.tolist() == list(range(1, 3000)) and values[-1] == pytest.approx(299.9)
    assert first[0].tolist() == [1, 2, 3, 4, 5]  # what a renderer holds is untouched
    assert store.calls == [("loss", None), ("loss", 5)]
    assert cache.refresh(["missing"])["missing"][0].size == 0
