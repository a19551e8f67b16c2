"""How often the forecast's 95 % interval holds the true exhaustion date, with and without the safeguards.

Two seeded sets with a known truth (the noise-free curve's first crossing of capacity):
``straight`` (20 series: trend + daily/weekly seasons + noise, the forecast tests' cases) and
``steepening`` (25 series whose slope grows 2.5x at 55-75 % of a 21-day history, the case of the
issue: 12 of 25 held, every miss late). Each series is forecast twice in the same run: as
shipped (bands widened to what the backtest allows, trend change detected and covered) and as
the baseline (``calibrate_intervals=False, detect_trend_change=False``, the old behaviour).
Printed per set and mode: seeds whose 95 % interval holds the truth, how late the misses were,
the median width of the interval, the median point error, and how many were flagged
``trend_change``. Quality figures, not timings: the machine's load does not change them.

Run: ``.venv/bin/python benchmarks/capacity_coverage.py``
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))

from test_capacity_forecast import HISTORY_DAYS, _case
from test_capacity_trend import steepening

from kubebook.capacity import forecast, schema, synthetic


def straight(seed: int) -> tuple[object, float]:
    profile, capacity, _ = _case(seed)
    frame = synthetic.series_frame(profile, capacity, HISTORY_DAYS, seed=seed)
    truth = profile.true_exhaustion_days(HISTORY_DAYS * 86400 - 3600, capacity)
    return frame, float(truth)


def measure(cases: list[tuple[object, float]], **knobs: bool) -> dict[str, object]:
    held, late, early, widths, errors, flagged = 0, [], [], [], [], 0
    for frame, truth in cases:
        settings = forecast.Settings(as_of=frame["timestamp"].max(), **knobs)  # type: ignore[index]
        entry = forecast.forecast(schema.validate_series(frame), settings)[0]
        low, high = entry.interval_95 or (None, None)
        if low is not None and low <= truth and (high is None or truth <= high):
            held += 1
        elif low is not None and low > truth:
            late.append(low - truth)
        elif high is not None:
            early.append(truth - high)
        widths.append(np.inf if high is None or low is None else high - low)
        errors.append(abs((entry.days_to_exhaustion or np.inf) - truth))
        flagged += entry.trend_change is not None
    return {"held": held, "n": len(cases), "late": late, "early": early, "width": float(np.median(widths)),
            "error": float(np.median(errors)), "flagged": flagged}


def main() -> None:
    warnings.simplefilter("ignore")
    sets = {"straight": [straight(s) for s in range(20)], "steepening": [steepening(s) for s in range(25)]}
    modes = {"shipped": {}, "baseline": {"calibrate_intervals": False, "detect_trend_change": False}}
    print(f"{'set':<11}{'mode':<10}{'held':>8}{'misses late by (days)':>32}{'median width':>14}"
          f"{'median error':>14}{'trend_change':>14}")
    for name, cases in sets.items():
        for mode, knobs in modes.items():
            started = time.perf_counter()
            r = measure(cases, **knobs)
            late = ", ".join(f"{d:.0f}" for d in sorted(r["late"])) or "-"  # type: ignore[arg-type]
            print(f"{name:<11}{mode:<10}{r['held']:>4}/{r['n']:<3}{late:>32}{r['width']:>14.1f}{r['error']:>14.2f}"
                  f"{r['flagged']:>14}   ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
