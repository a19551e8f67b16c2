"""Bounds of every capacity input: values, timestamps, sizes and time; unknown never reads as ``ok``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kubebook.capacity import forecast as fc
from kubebook.capacity import rightsize, schema, synthetic
from kubebook.cli import main
from kubebook.errors import ParameterError


def _series(days: float = 5) -> pd.DataFrame:
    return synthetic.series_frame(synthetic.Profile(40, 2, 6, 0, 1), 120, days=days)


def _one_line_error(frame: pd.DataFrame, needle: str) -> None:
    with pytest.raises(ParameterError) as error:
        schema.validate_series(frame)
    assert needle in str(error.value) and "\n" not in str(error.value), str(error.value)


@pytest.mark.parametrize(("column", "value", "needle"), [
    ("used", np.inf, "column used has a non-finite value"),
    ("used", 1e308, "column used is out of range"),
    ("capacity", np.inf, "column capacity has a non-finite value"),
    ("capacity", np.nan, "column capacity is empty"),
])
def test_an_infinite_empty_or_absurd_series_value_is_a_one_line_error(column, value, needle):
    frame = _series()
    frame[column] = frame[column].astype(float)
    frame.loc[10, column] = value
    _one_line_error(frame, needle)


@pytest.mark.parametrize("stamp", ["1700-01-01T00:00:00Z", "2261-06-01T00:00:00Z", "2426-01-01T00:00:00Z"])
def test_a_timestamp_outside_the_sane_window_is_a_one_line_error_and_exit_2(stamp, tmp_path, capsys):
    frame = _series(2)
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.loc[3, "timestamp"] = stamp
    _one_line_error(frame, "is outside")
    frame.to_csv(tmp_path / "history.csv", index=False)
    assert main(["capacity", "forecast", "--history", str(tmp_path / "history.csv"), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and stamp[:10] in err and "data row 4" in err


def test_a_forecast_without_a_usable_capacity_says_invalid_input_not_ok():
    times = pd.date_range("2026-11-01", periods=24 * 5, freq="1h", tz="UTC")
    used = np.linspace(10, 20, len(times))
    for capacity in (np.nan, np.inf, 0.0):
        entry = fc.forecast_series("a", "cpu", "usage", times, used, np.full(len(times), capacity),
                                   fc.Settings(as_of=times[-1]))
        document = entry.to_json()
        assert document["status"] == "invalid_input" and document["days_to_exhaustion"] is None
        assert "capacity" in document["reason"]


def test_a_forecast_whose_model_overflows_is_invalid_input_not_not_exhausted():
    times = pd.date_range("2026-11-01", periods=24 * 5, freq="1h", tz="UTC")
    used = np.linspace(10, 20, len(times))
    used[10] = 1e308  # past the schema, straight into the engine
    entry = fc.forecast_series("a", "cpu", "usage", times, used, np.full(len(times), 100.0),
                               fc.Settings(as_of=times[-1]))
    assert entry.status == "invalid_input" and entry.to_json()["days_to_exhaustion"] is None


def test_one_row_far_in_the_past_does_not_blow_the_grid_up(tmp_path):
    """48 hourly rows and one row years before: bounded work, and the answer is 'not enough history', not ok."""
    frame = _series(2)
    old = frame.iloc[:1].copy()
    old["timestamp"] = pd.Timestamp("2003-01-01T00:00:00Z")
    entry = fc.forecast(schema.validate_series(pd.concat([old, frame])),
                        fc.Settings(as_of=frame["timestamp"].max()))[0]
    assert entry.status == "insufficient_history"
    assert len(entry.history[1]) <= fc.Settings().max_history_days * 24 + 1
    assert entry.samples_ignored == 1


def test_one_nan_among_2000_rightsizing_samples_is_skipped_and_json_has_no_bare_nan(tmp_path, capsys):
    samples = synthetic.samples_frame(workloads=1, days=7, leaker=False)
    samples["cpu_cores"] = samples["cpu_cores"].astype(float)
    samples.loc[5, "cpu_cores"] = np.nan
    recommendations = rightsize.recommend(schema.validate_samples(samples))
    assert [r.status for r in recommendations] == ["ok"]
    assert recommendations[0].cpu_request is not None and np.isfinite(recommendations[0].cpu_request)
    assert recommendations[0].samples_skipped == 1
    assert np.isfinite(rightsize.totals(recommendations)["savings_per_month"])
    samples.to_parquet(tmp_path / "samples.parquet")
    assert main(["capacity", "rightsize", "--samples", str(tmp_path / "samples.parquet"), "--json"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "Infinity" not in out
    json.loads(out)


def test_a_container_whose_samples_are_all_missing_is_no_data_not_ok():
    samples = synthetic.samples_frame(workloads=1, days=2, leaker=False)
    samples["cpu_cores"] = np.nan
    (recommendation,) = rightsize.recommend(schema.validate_samples(samples))
    assert recommendation.status == "no_data" and recommendation.cpu_request is None


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_oom_killed_must_be_a_real_boolean(value):
    samples = synthetic.samples_frame(workloads=1, days=1, leaker=False)
    samples["oom_killed"] = value
    with pytest.raises(ParameterError, match="oom_killed") as error:
        schema.validate_samples(samples)
    assert "\n" not in str(error.value)


def test_oom_killed_accepts_the_usual_spellings_of_true_and_false():
    samples = synthetic.samples_frame(workloads=1, days=1, leaker=False).iloc[:4].copy()
    samples["oom_killed"] = ["true", "False", "1", "0"]
    assert schema.validate_samples(samples)["oom_killed"].tolist() == [True, False, True, False]


def test_infinite_container_usage_is_a_one_line_error():
    samples = synthetic.samples_frame(workloads=1, days=1, leaker=False)
    samples["memory_bytes"] = samples["memory_bytes"].astype(float)
    samples.loc[2, "memory_bytes"] = np.inf
    with pytest.raises(ParameterError, match="non-finite"):
        schema.validate_samples(samples)
