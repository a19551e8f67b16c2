"""`kubebook capacity forecast|rightsize`: the --json contract and one-line errors with exit 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kubebook.capacity import synthetic
from kubebook.cli import main

CONTRACT = {"pool", "resource", "basis", "model", "days_to_exhaustion", "interval_80", "interval_95",
            "backtest_mape", "interval_coverage"}


def _recent(days: float) -> str:
    """A start time such that a history of ``days`` ends now (the forecast counts days from now)."""
    return (pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(days=days)).isoformat()


def test_forecast_json_prints_one_object_with_the_contracted_fields(tmp_path, capsys):
    long = synthetic.series_frame(synthetic.Profile(40, 2, 6, 0, 1), 120, days=8, pool="workload", start=_recent(8))
    short = synthetic.series_frame(synthetic.Profile(4, 0.1, 0.5, 0, 0.1), 8, days=1, pool="system",
                                   resource="memory", start=_recent(1))
    frame = pd.concat([long, short]).drop(columns=["basis"])
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(tmp_path / "history.csv", index=False)
    assert main(["capacity", "forecast", "--history", str(tmp_path / "history.csv"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    entries = {(e["pool"], e["resource"]): e for e in document["forecasts"]}
    assert set(entries) == {("workload", "cpu"), ("system", "memory")}  # one pool per resource: no '*' total
    ok = entries[("workload", "cpu")]
    assert set(ok) >= CONTRACT and ok["basis"] == "usage"
    assert isinstance(ok["days_to_exhaustion"], float) and 0 < ok["days_to_exhaustion"] < 90
    low, high = ok["interval_95"]
    assert low <= ok["interval_80"][0] <= ok["days_to_exhaustion"] <= ok["interval_80"][1] <= high
    assert ok["backtest_mape"] >= 0 and 0 <= ok["interval_coverage"] <= 1
    assert entries[("system", "memory")]["days_to_exhaustion"] == "insufficient_history"


def test_bad_history_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("timestamp,pool,resource,capacity\n2026-11-01T00:00:00Z,a,cpu,4\n")
    assert main(["capacity", "forecast", "--history", str(tmp_path / "bad.csv"), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks column(s) used" in err
    assert main(["capacity", "forecast", "--history", str(tmp_path / "bad.csv"), "--horizon-days", "-1"]) == 2


def test_rightsize_json_lists_recommendations_and_totals(tmp_path, capsys):
    synthetic.samples_frame(workloads=3, days=1).to_parquet(tmp_path / "samples.parquet")
    assert main(["capacity", "rightsize", "--samples", str(tmp_path / "samples.parquet"), "--json",
                 "--strategy", "vpa"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["totals"]["recommended"] == 3 and len(document["recommendations"]) == 3
    assert main(["capacity", "rightsize", "--samples", str(tmp_path / "samples.parquet"), "--prices", "{"]) == 2


def test_forecast_reads_the_history_store_and_an_empty_store_is_a_clear_error(tmp_path, capsys):
    from kubebook.capacity.store import HistoryStore

    assert main(["capacity", "forecast", "--store", str(tmp_path), "--json"]) == 2
    assert "is empty" in capsys.readouterr().err
    store = HistoryStore(tmp_path)
    frame = synthetic.series_frame(synthetic.Profile(40, 2, 6, 0, 1), 120, days=5, pool="workload")
    store.append("series", frame.iloc[:60])
    store.append("series", frame.iloc[60:])
    assert main(["capacity", "forecast", "--store", str(tmp_path), "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["forecasts"]
    assert len(entries) == 1 and entries[0]["history_days"] == pytest.approx(5 - 1 / 24, abs=1e-3)
