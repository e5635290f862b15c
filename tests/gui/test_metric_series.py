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
    assert cache.count("loss") == 2999
    assert cache.refresh(["missing"])["missing"][0].size == 0


def test_long_histories_are_kept_as_bounded_summaries() -> None:
    store = _Store()
    store.points["loss"] = [(s, float(s % 7)) for s in range(1, 50_001)]
    store.points["loss"][30_000] = (30_001, -1.0)
    cache = SeriesCache(store.since, 1, buckets=256)
    steps, values = cache.refresh(["loss"])["loss"]
    assert steps.size <= 2 * 256 + 2 and cache.count("loss") == 50_000
    assert values.min() == -1.0 and values.max() == 6.0
    assert steps[0] == 1 and steps[-1] == 50_000
    assert cache.step_width(["loss"]) >= 50_000 / 256
    # A core that cannot read a range gives no detail.
    assert not cache.ranged and cache.detail("loss", 10, 20)[0].size == 0


def test_a_range_is_read_at_full_resolution() -> None:
    points = [(s, s / 2) for s in range(100)]
    calls = []

    def history(
        experiment_id: int,
        name: str,
        after_step: int | None = None,
        until_step: int | None = None,
    ) -> list[tuple[int, float]]:
        calls.append((after_step, until_step))
        return [
            p
            for p in points
            if (after_step is None or p[0] > after_step)
            and (until_step is None or p[0] <= until_step)
        ]

    cache = SeriesCache(history, 1, buckets=4)
    assert cache.ranged
    steps, values = cache.detail("loss", 10.5, 20.2)
    assert steps.tolist() == list(range(10, 22)) and values[0] == 5.0  # whole steps around
    assert calls == [(9, 21)]


def test_a_core_with_columns_is_read_as_arrays(tmp_path: object) -> None:
    from pathlib import Path

    from ravelab.core.runs.training_manager import TrainingManager
    from ravelab.db import Database
    from ravelab.db import experiments as rows

    folder = Path(str(tmp_path))
    with Database(folder / "c.db") as db:
        manager = TrainingManager(db, follow=False, runs_dir=folder / "runs")
        run = rows.insert_experiment(db, name="r", project_id=1, dataset_id=None, config={})
        rows.insert_points(db, run, [("loss", s, s / 10, 0.0) for s in range(1, 5001)])
        cache = SeriesCache(manager.get_metric_history, run, get_columns=manager.get_metric_columns)
        steps, values = cache.refresh(["loss"])["loss"]
        assert steps[0] == 1 and steps[-1] == 5000 and cache.count("loss") == 5000
        rows.insert_points(db, run, [("loss", 5001, -3.0, 0.0)])
        steps, values = cache.refresh(["loss"])["loss"]
        assert cache.count("loss") == 5001 and values.min() == -3.0
        detail_steps, detail_values = cache.detail("loss", 99.5, 102)
        assert detail_steps.tolist() == [99, 100, 101, 102]
        assert detail_values.tolist() == [9.9, 10.0, 10.1, 10.2]
