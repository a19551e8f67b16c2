"""Forecast intervals when the trend steepens mid-history: coverage over seeded series, and honest widening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kubebook.capacity import forecast as fc
from kubebook.capacity import schema

SEEDS = range(25)
HISTORY_DAYS = 21
DAY = 86400.0


def steepening(seed: int) -> tuple[pd.DataFrame, float]:
    """A series whose slope grows 2.5x at 55-75 % of its history, with daily/weekly seasons and noise; the truth."""
    rng = np.random.default_rng(5000 + seed)
    before = float(rng.uniform(0.8, 3.0))
    after = 2.5 * before
    daily, weekly, noise = float(rng.uniform(3, 10)), float(rng.uniform(0, 4)), float(rng.uniform(0.5, 3))
    change = float(rng.uniform(0.55, 0.75)) * HISTORY_DAYS

    def mean(seconds: np.ndarray) -> np.ndarray:
        days = seconds / DAY
        return (40 + before * days + (after - before) * np.maximum(0, days - change)
                + daily * np.sin(2 * np.pi * (days - 8 / 24)) + weekly * np.sin(2 * np.pi * days / 7))

    capacity = 40 + before * change + after * (HISTORY_DAYS - change) + after * float(rng.uniform(10, 40))
    seconds = np.arange(0, HISTORY_DAYS * DAY, 3600)
    frame = pd.DataFrame({"timestamp": pd.Timestamp("2026-11-01T00:00:00Z") + pd.to_timedelta(seconds, unit="s"),
                          "pool": "p", "resource": "cpu", "basis": "usage", "capacity": capacity,
                          "used": np.maximum(mean(seconds) + rng.normal(0, noise, len(seconds)), 0)})
    last = seconds[-1]
    grid = last + np.arange(0, 400 * DAY, 60)
    return frame, float(np.nonzero(mean(grid) >= capacity)[0][0] * 60 / DAY)


@pytest.fixture(scope="module")
def steep() -> list[tuple[fc.ForecastEntry, float]]:
    cases = []
    for seed in SEEDS:
        frame, truth = steepening(seed)
        entry = fc.forecast(schema.validate_series(frame), fc.Settings(as_of=frame["timestamp"].max()))[0]
        cases.append((entry, truth))
    return cases


def _inside(interval: tuple[float | None, float | None] | None, truth: float) -> bool:
    return interval is not None and interval[0] is not None and interval[0] <= truth and (
        interval[1] is None or truth <= interval[1])


def test_after_a_steepening_the_95_interval_holds_the_true_exhaustion_in_at_least_80_percent_of_seeds(steep):
    held = [_inside(entry.interval_95, truth) for entry, truth in steep]
    assert sum(held) >= 0.8 * len(held), [(e.interval_95, round(t, 1)) for e, t in steep]


def test_every_steepening_is_flagged_as_a_trend_change_with_both_slopes(steep):
    for entry, _ in steep:
        change = entry.to_json()["trend_change"]
        assert change is not None, entry.to_json()
        assert 2.0 <= change["slope_after_per_day"] / change["slope_before_per_day"] <= 3.0
        assert "2026-11-1" in change["at"]


def test_the_point_forecast_follows_the_new_slope(steep):
    errors = [abs(entry.days_to_exhaustion - truth) for entry, truth in steep]
    assert np.median(errors) < 2.0, errors


def test_a_straight_trend_is_not_called_a_change():
    from kubebook.capacity import trend

    rng = np.random.default_rng(11)
    t = np.arange(21 * 24, dtype=float)
    for _ in range(10):
        y = 40 + 0.1 * t + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1.5, t.size)
        assert trend.detect(y, 24.0) is None


def test_bands_are_widened_until_the_backtest_would_have_held_its_promise(steep):
    """A forecast is never more confident than its own backtest: the widened fold bands reach each level."""
    from kubebook.capacity import intervals

    for entry, _ in steep[:8]:
        folds = entry.backtest.folds
        widen = intervals.factors(entry.backtest)
        actual = np.concatenate([f.actual for f in folds])
        for level in (80, 95):
            raw = entry.backtest.coverage(level)
            mean = np.concatenate([f.predicted for f in folds])
            lower = mean - widen[level] * (mean - np.concatenate([f.lower[level] for f in folds]))
            upper = mean + widen[level] * (np.concatenate([f.upper[level] for f in folds]) - mean)
            assert np.mean((actual >= lower) & (actual <= upper)) >= level / 100 - 1e-9
            assert (widen[level] > 1.0) == (raw < level / 100)
        assert entry.to_json()["interval_widening"]["95"] == pytest.approx(widen[95], abs=1e-3)
