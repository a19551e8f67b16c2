"""The forecast: exhaustion dates against a known truth, backtest figures, the history gate, the schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kubebook.capacity import forecast as fc
from kubebook.capacity import schema, synthetic
from kubebook.errors import ParameterError

SEEDS = range(20)
HISTORY_DAYS = 21


def _at_last_sample(frame: pd.DataFrame, **kwargs: float) -> fc.Settings:
    """Settings that count days from the last sample: these tests measure the model, not the clock."""
    return fc.Settings(as_of=frame["timestamp"].max(), **kwargs)


def _case(seed: int) -> tuple[synthetic.Profile, float, float]:
    """A seeded series: trend, daily and weekly seasonality, noise; capacity 10-40 days of growth away."""
    rng = np.random.default_rng(1000 + seed)
    slope = float(rng.uniform(0.8, 3.0))
    profile = synthetic.Profile(base=40, slope_per_day=slope, daily=float(rng.uniform(3, 10)),
                                weekly=float(rng.uniform(0, 4)), noise=float(rng.uniform(0.5, 3)))
    capacity = 40 + slope * (HISTORY_DAYS + float(rng.uniform(10, 40)))
    return profile, capacity, slope


@pytest.fixture(scope="module")
def seeded() -> list[tuple[fc.ForecastEntry, float]]:
    """(forecast, true days to exhaustion) for every seed; fitted once for the tests below."""
    cases = []
    for seed in SEEDS:
        profile, capacity, _ = _case(seed)
        frame = synthetic.series_frame(profile, capacity, HISTORY_DAYS, seed=seed)
        entry = fc.forecast(schema.validate_series(frame), _at_last_sample(frame))[0]
        last = HISTORY_DAYS * 86400 - 3600  # the last hourly sample
        truth = profile.true_exhaustion_days(last, capacity)
        assert truth is not None
        cases.append((entry, truth))
    return cases


def _inside(interval: tuple[float | None, float | None] | None, truth: float) -> bool:
    assert interval is not None
    low, high = interval
    return low is not None and low <= truth and (high is None or truth <= high)


def test_the_true_exhaustion_date_falls_inside_the_95_percent_interval_in_at_least_90_percent_of_cases(seeded):
    hits = [_inside(entry.interval_95, truth) for entry, truth in seeded]
    assert sum(hits) / len(hits) >= 0.9, [(e.interval_95, t) for e, t in seeded]
    # The check can fail: a zero-width "interval" at the point forecast misses almost every truth.
    points = [_inside((e.days_to_exhaustion, e.days_to_exhaustion), t) for e, t in seeded]
    assert sum(points) / len(points) < 0.9


def test_the_point_forecast_is_close_to_the_truth_and_the_80_interval_is_inside_the_95(seeded):
    errors = [abs(e.days_to_exhaustion - t) for e, t in seeded]
    assert np.median(errors) < 2.0
    for entry, _ in seeded:
        lo80, hi80 = entry.interval_80
        lo95, hi95 = entry.interval_95
        assert lo95 <= lo80 <= entry.days_to_exhaustion
        assert hi80 is None or entry.days_to_exhaustion <= hi80
        assert hi95 is None or (hi80 is not None and hi80 <= hi95)


def test_the_reported_mape_equals_a_recomputation_from_the_backtest_folds(seeded):
    for entry, _ in seeded[:5]:
        folds = entry.backtest.folds
        assert len(folds) == 3 and all(f.origin < len(entry.history[1]) for f in folds)
        actual = np.concatenate([f.actual for f in folds])
        predicted = np.concatenate([f.predicted for f in folds])
        recomputed = float(np.mean(np.abs((actual - predicted) / actual)) * 100)
        assert entry.backtest_mape == pytest.approx(recomputed, rel=1e-12)
        document = entry.to_json()
        assert document["backtest_mape"] == pytest.approx(recomputed, abs=1e-4)
        assert document["candidates"][entry.model] == document["backtest_mape"]
        assert document["backtest_mape"] == min(v for v in document["candidates"].values() if v is not None)
        inside = np.mean((actual >= np.concatenate([f.lower[95] for f in folds]))
                         & (actual <= np.concatenate([f.upper[95] for f in folds])))
        assert document["interval_coverage"] == pytest.approx(inside, abs=1e-4)


def test_each_fold_forecasts_only_from_data_before_its_origin():
    profile = synthetic.Profile(10, 1, 2, 0, 0.1)
    y = profile.sample(np.arange(0, 14 * 86400, 3600), np.random.default_rng(3))
    result = fc.backtest("linear", y, 24.0, fc.Settings())
    tampered = y.copy()
    tampered[result.folds[0].origin:] += 1000  # the future of the first fold changes ...
    again = fc.backtest("linear", tampered, 24.0, fc.Settings())
    assert np.allclose(again.folds[0].predicted, result.folds[0].predicted)  # ... its forecast does not


def test_short_history_says_insufficient_history_instead_of_a_number():
    frame = synthetic.series_frame(synthetic.Profile(10, 1, 2, 0, 0.5), 100, days=1.5)
    entry = fc.forecast(schema.validate_series(frame))[0]
    document = entry.to_json()
    assert document["days_to_exhaustion"] == "insufficient_history"
    assert document["status"] == "insufficient_history"
    assert document["interval_95"] is None and document["backtest_mape"] is None
    assert "1.46 days of history" in document["reason"]


def test_crossing_days_interpolates_within_a_step_and_says_none_past_the_horizon():
    path = np.array([1.0, 2.0, 3.0, 4.0])
    assert fc.crossing_days(path, 0.0, 2.5, step_days=1.0) == pytest.approx(2.5)
    assert fc.crossing_days(path, 0.0, 0.5, step_days=0.5) == pytest.approx(0.25)
    assert fc.crossing_days(path, 5.0, 4.0, step_days=1.0) == 0.0  # already at capacity
    assert fc.crossing_days(path, 0.0, 9.0, step_days=1.0) is None


def test_a_series_that_never_moves_is_forecast_flat_and_never_exhausts():
    frame = synthetic.series_frame(synthetic.Profile(30, 0), 110, days=5, resource="pods", basis="requests")
    entry = fc.forecast(schema.validate_series(frame), _at_last_sample(frame))[0]
    assert entry.model == "constant" and entry.days_to_exhaustion is None


def test_gaps_are_interpolated_and_counted_and_five_minute_samples_are_averaged_to_hours():
    profile = synthetic.Profile(40, 2, 5, 0, 1)
    frame = synthetic.series_frame(profile, 200, days=10, step_seconds=300)
    frame = frame[(frame["timestamp"] < "2026-11-04") | (frame["timestamp"] >= "2026-11-04T06:00:00Z")]
    entry = fc.forecast(schema.validate_series(frame), _at_last_sample(frame))[0]
    assert entry.step_seconds == 3600 and entry.gaps_filled == 6
    truth = profile.true_exhaustion_days(10 * 86400 - 3600, 200)
    assert _inside(entry.interval_95, truth)


def test_several_pools_get_a_cluster_total():
    a = synthetic.series_frame(synthetic.Profile(10, 1), 100, days=5, pool="a")
    b = synthetic.series_frame(synthetic.Profile(20, 1), 50, days=5, pool="b")
    entries = fc.forecast(schema.validate_series(pd.concat([a, b])))
    total = next(e for e in entries if e.pool == "*")
    assert [e.pool for e in entries] == ["*", "a", "b"]
    assert total.capacity == 150 and total.last_used == pytest.approx(30 + 2 * 5 - 2 / 24, rel=1e-6)


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.drop(columns=["capacity"]), "lacks column(s) capacity"),
    (lambda f: f.assign(resource="gpu"), "resource 'gpu' is not one of cpu, memory, pods"),
    (lambda f: f.assign(basis="limits"), "basis 'limits' is not one of usage, requests"),
    (lambda f: f.assign(used=-1.0), "column used is negative"),
    (lambda f: f.assign(used="lots"), "column used has a non-number 'lots'"),
    (lambda f: f.assign(timestamp="yesterday"), "is not ISO 8601"),
    (lambda f: f.assign(pool=""), "empty pool"),
])
def test_bad_history_is_a_one_line_error_naming_what_is_wrong(change, message):
    frame = synthetic.series_frame(synthetic.Profile(10, 1), 100, days=1)
    with pytest.raises(ParameterError, match=None) as error:
        schema.validate_series(change(frame))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_bad_settings_are_refused_before_any_work():
    with pytest.raises(ParameterError, match="horizon_days"):
        fc.forecast(pd.DataFrame(), fc.Settings(horizon_days=0))
    with pytest.raises(ParameterError, match="families"):
        fc.Settings(families=("prophet",)).check()
