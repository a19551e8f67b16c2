"""Synthetic data only when asked for, with a banner; too little history headlines insufficient_history like the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from kubebook.capacity import forecast, history, outlook, synthetic
from kubebook.capacity.store import HistoryStore
from kubebook.cli import main
from kubebook.views import capacity as view

RUNBOOK = Path(__file__).resolve().parents[3] / "runbooks" / "capacity-forecast.ipynb"


def _minutes_of_history(store: HistoryStore) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("min")
    frame = synthetic.series_frame(synthetic.Profile(10, 0, 0, 0, 0.5), 100, days=20 / 1440, step_seconds=60,
                                   start=(now - pd.Timedelta(minutes=20)).isoformat())
    store.append("series", frame)


def test_the_forecast_runbook_uses_synthetic_data_only_when_asked():
    nb = nbformat.read(RUNBOOK, as_version=4)
    schema = nb.metadata["kubebook"]["parameters"]["properties"]["synthetic_fallback"]
    assert schema["default"] is False
    parameters = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "synthetic_fallback = False" in parameters


def test_minutes_of_history_headline_insufficient_history_with_what_exists_and_what_is_needed(tmp_path, capsys):
    store = HistoryStore(tmp_path)
    _minutes_of_history(store)
    found = history.load(store=store, min_days=3)  # the runbook's default: no synthetic fallback
    result = outlook.outlook(found, forecast.Settings(min_history_days=3))
    assert result.status == "insufficient_history" and not found.synthetic
    shown = str(view.outlook_headline(result))
    assert "insufficient_history" in shown and "0.01 days of history, at least 3 needed" in shown
    assert shown.startswith("Capacity runway: insufficient_history") and "First to run out" not in shown
    assert main(["capacity", "forecast", "--store", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == result.status and document["summary"] == result.summary
    assert document["days_to_exhaustion"] is None and document["synthetic"] is False


def test_synthetic_history_when_asked_is_bannered_and_counts_days_from_now(tmp_path):
    found = history.load(store=HistoryStore(tmp_path), min_days=3, synthetic_fallback=True)
    assert found.synthetic
    result = outlook.outlook(found)
    banner = view.outlook_headline(result)
    assert str(banner).startswith("SYNTHETIC DEMO DATA")
    assert "SYNTHETIC" in banner.html.split("</div>")[0]  # the first thing drawn, not a grey footnote
    last = max(e.last_timestamp for e in result.entries)
    assert (pd.Timestamp.now(tz="UTC") - last) < pd.Timedelta(hours=2)  # the demo ends now
    assert result.first is not None and result.first.history_age_days < 0.1


def test_days_are_counted_from_now_not_from_the_last_sample():
    profile = synthetic.Profile(40, 2, 0, 0, 0.2)
    frame = synthetic.series_frame(profile, 100, days=6)
    last = frame["timestamp"].max()
    at_last = forecast.forecast(frame, forecast.Settings(as_of=last))[0]
    later = forecast.forecast(frame, forecast.Settings(as_of=last + pd.Timedelta(days=2)))[0]
    assert later.days_to_exhaustion == pytest.approx(at_last.days_to_exhaustion - 2, abs=1e-6)
    assert later.exhaustion_date == at_last.exhaustion_date
    stale = forecast.forecast(frame, forecast.Settings(as_of=last + pd.Timedelta(days=8)))[0]
    assert stale.status == "stale_history" and stale.to_json()["days_to_exhaustion"] is None


def test_an_empty_history_is_no_data_not_ok(tmp_path):
    result = outlook.outlook(history.load(store=HistoryStore(tmp_path)))
    assert result.status == "no_data" and "no_data" in str(view.outlook_headline(result))
