"""The capacity screens: headers in words with units and currency, rounded numbers, long tables behind a count."""

from __future__ import annotations

import re

import pandas as pd

from kubebook.capacity import cost, forecast, rightsize, schema, synthetic
from kubebook.views import capacity as view

LONG_DECIMALS = re.compile(r"\d\.\d{4,}")  # 483.9262: more digits than anyone reads


def _header(part: object) -> list[str]:
    plain = str(part).splitlines()
    line = next(row for row in plain if " | " in row)
    return line.split(" | ")


def _entries() -> list[forecast.ForecastEntry]:
    frames = [synthetic.series_frame(synthetic.Profile(40, 3, 4, 0, 1), 100, days=5, pool=p, resource=r)
              for p in ("a", "b", "c") for r in ("cpu", "memory", "pods")]
    frame = pd.concat(frames)
    frame.loc[frame["resource"] == "memory", ["capacity", "used"]] *= 2**30
    return forecast.forecast(schema.validate_series(frame), forecast.Settings(as_of=frame["timestamp"].max()))


def test_tables_have_words_and_units_in_their_headers_not_snake_case():
    samples = schema.validate_samples(synthetic.samples_frame(workloads=12, days=1))
    parts = [view.forecast_table(_entries()), view.rightsizing_table(rightsize.recommend(samples)),
             view.cost_report(cost.allocate(samples, {"workload": (64.0, 2.0**38)}))]
    for part in parts:
        header = _header(part)
        assert not [h for h in header if "_" in h], header
    assert "Days left" in _header(parts[0]) and "Saving per month (USD)" in _header(parts[1])
    assert any("(USD)" in h for h in _header(parts[2]))


def test_numbers_are_rounded_and_amounts_carry_their_unit():
    samples = schema.validate_samples(synthetic.samples_frame(workloads=12, days=1))
    for part in (view.forecast_table(_entries()), view.rightsizing_table(rightsize.recommend(samples)),
                 view.cost_report(cost.allocate(samples, {"workload": (64.0, 2.0**38)}))):
        assert not LONG_DECIMALS.search(str(part)), LONG_DECIMALS.findall(str(part))[:5]
    text = str(view.forecast_table(_entries()))
    assert " cores" in text and " GiB" in text and " pods" in text


def test_a_long_table_sits_behind_its_count():
    entries = _entries()
    assert len(entries) > view.OPEN_ROWS
    part = view.forecast_table(entries)
    assert part.html.startswith("<details") and " open" not in part.html.split(">")[0]
    assert f"({len(entries)})" in part.html.split("</summary>")[0]
