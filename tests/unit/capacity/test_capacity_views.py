"""The capacity views draw what the engines return: the soonest exhaustion, the cone, rightsizing rows."""

from __future__ import annotations

import pandas as pd

from kubebook.capacity import forecast, rightsize, schema, synthetic
from kubebook.capacity.outlook import Outlook
from kubebook.views import capacity as view


def test_the_headline_and_cone_show_the_soonest_exhaustion_with_its_interval():
    fast = synthetic.series_frame(synthetic.Profile(40, 3, 4, 0, 1), 100, days=6, pool="a")
    slow = synthetic.series_frame(synthetic.Profile(40, 1, 4, 0, 1), 100, days=6, pool="b", resource="memory")
    entries = forecast.forecast(schema.validate_series(pd.concat([fast, slow])),
                                forecast.Settings(as_of=fast["timestamp"].max()))
    found = Outlook("ok", entries, forecast.Settings(as_of=fast["timestamp"].max()), 6.0, "test")
    soonest = found.cone  # the outlook decides which forecast runs out first; the view draws it
    assert (soonest.pool, soonest.resource) == ("a", "cpu")
    assert "pool a" in str(view.outlook_headline(found))
    figure = view.cone_figure(soonest)
    names = [trace.name for trace in figure.data]
    assert "history" in names and "95% interval" in names and "80% interval" in names
    assert "runs out in" in figure.layout.title.text
    rows = view.forecast_rows(entries)
    assert rows[0]["interval_95"].startswith("[") and rows[0]["days_to_exhaustion"] is not None
    assert "no forecast" in view.cone_figure(None)


def test_rightsizing_rows_are_sorted_by_savings_and_in_gib():
    samples = schema.validate_samples(synthetic.samples_frame(workloads=4, days=1))
    rows = view.rightsizing_rows(rightsize.recommend(samples))
    savings = [r["savings_per_month"] for r in rows]
    assert savings == sorted(savings, reverse=True)
    assert all(r["memory_request_gib"] < 10 for r in rows)


def test_history_from_a_store_without_samples_still_rightsizes_and_costs_nothing(tmp_path):
    from kubebook.capacity import cost, history
    from kubebook.capacity.store import HistoryStore

    store = HistoryStore(tmp_path)
    store.append("series", synthetic.series_frame(synthetic.Profile(10, 1), 100, days=4))
    found = history.load(store=store, min_days=3)
    assert found.source.startswith("store") and found.days > 3 and len(found.samples) == 0
    assert rightsize.recommend(found.samples) == []
    assert cost.allocate(found.samples, {"workload": (8.0, 2.0**33)})["total"] == 0
    short = history.load(store=HistoryStore(tmp_path / "empty"), min_days=3, synthetic_fallback=True)
    assert short.source.startswith("synthetic demo history") and len(short.samples) > 0
