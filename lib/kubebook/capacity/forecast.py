"""Days until CPU, memory and pod slots run out, per pool and basis, with intervals and a backtest.

Every series (pool x resource x basis) goes through the same steps:

1. resample to an even grid (hourly, or the sampling interval when coarser), averaging within a
   step; gaps are filled by linear interpolation and counted; capacity is the latest value;
2. a rolling-origin backtest of every model family that the history allows (``folds`` origins,
   each forecasting ``holdout`` steps from the data before it), scored by MAPE and by how many
   held-out points fell inside the 80 % and 95 % prediction intervals;
3. the family with the lowest MAPE (the simpler one on a tie) is refitted on the whole history
   and forecast ``horizon_days`` ahead;
4. ``days_to_exhaustion`` is the first time the forecast path, seasonality included, reaches
   capacity, in days from ``as_of`` (now, unless the settings say otherwise: a forecast of old
   history still answers "how long from now"; interpolated within a step; 0 when already
   there or when the path crossed between the last sample and now; None when not within the
   horizon). ``interval_95`` bounds that date by the first times the upper and the lower 95 %
   band reach capacity (likewise for 80 %); a bound past the horizon is None.

A number is given only when it means something; otherwise ``status`` says why and the entry
carries none: ``insufficient_history`` (less than ``min_history_days``, too few points for a
backtest, or more than half of the grid interpolated), ``stale_history`` (the last sample is
more than ``max_age_days`` before ``as_of``) and ``invalid_input`` (no finite positive capacity,
a value out of range, or a model that overflowed). Only the newest ``max_history_days`` are
used (older rows are counted in ``samples_ignored``), so one stray old row cannot make the grid
years long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kubebook.capacity import intervals, models, trend
from kubebook.capacity.schema import ALL_POOLS, epoch_seconds
from kubebook.errors import ParameterError

INSUFFICIENT = "insufficient_history"
STALE = "stale_history"
INVALID = "invalid_input"
DAY = 86400.0
MAX_VALUE = float(2**62)
MAX_GAP_FRACTION = 0.5


@dataclass
class Fold:
    """One backtest origin: what happened after it and what the model said would."""

    origin: int
    actual: np.ndarray
    predicted: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]


@dataclass
class Backtest:
    """A family's rolling-origin backtest; ``mape`` in percent, coverages as fractions."""

    family: str
    folds: list[Fold]

    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.concatenate([f.actual for f in self.folds]), np.concatenate([f.predicted for f in self.folds]))

    @property
    def mape(self) -> float:
        actual, predicted = self._pairs()
        keep = actual != 0
        if not keep.any():
            return float("nan")
        return float(np.mean(np.abs(actual[keep] - predicted[keep]) / np.abs(actual[keep])) * 100)

    def coverage(self, level: int) -> float:
        actual = np.concatenate([f.actual for f in self.folds])
        lower = np.concatenate([f.lower[level] for f in self.folds])
        upper = np.concatenate([f.upper[level] for f in self.folds])
        return float(np.mean((actual >= lower) & (actual <= upper)))


@dataclass
class ForecastEntry:
    """The forecast of one pool x resource x basis; ``to_json`` is the CLI contract."""

    pool: str
    resource: str
    basis: str
    status: str
    model: str | None = None
    days_to_exhaustion: float | None = None
    interval_80: tuple[float | None, float | None] | None = None
    interval_95: tuple[float | None, float | None] | None = None
    backtest: Backtest | None = None
    candidates: dict[str, float] = field(default_factory=dict)
    capacity: float = float("nan")
    last_used: float = float("nan")
    last_timestamp: Any = None
    step_seconds: float = 3600.0
    history_days: float = 0.0
    gaps_filled: int = 0
    as_of: Any = None
    history_age_days: float = 0.0
    samples_ignored: int = 0
    reason: str = ""
    history: Any = None
    prediction: models.Prediction | None = None
    trend_change: dict[str, Any] | None = None
    interval_widening: dict[int, float] = field(default_factory=dict)

    @property
    def backtest_mape(self) -> float | None:
        return None if self.backtest is None else self.backtest.mape

    @property
    def exhaustion_date(self) -> Any:
        start = self.as_of if self.as_of is not None else self.last_timestamp
        if self.days_to_exhaustion is None or start is None:
            return None
        import pandas as pd

        return start + pd.Timedelta(days=self.days_to_exhaustion)

    def to_json(self) -> dict[str, Any]:
        def days(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        def pair(interval: tuple[float | None, float | None] | None) -> list[float | None] | None:
            return None if interval is None else [days(interval[0]), days(interval[1])]

        ok = self.status == "ok"
        mape = self.backtest_mape
        entry: dict[str, Any] = {
            "pool": self.pool, "resource": self.resource, "basis": self.basis, "model": self.model,
            "days_to_exhaustion": days(self.days_to_exhaustion) if ok else (
                INSUFFICIENT if self.status == INSUFFICIENT else None),
            "interval_80": pair(self.interval_80), "interval_95": pair(self.interval_95),
            "backtest_mape": None if mape is None or np.isnan(mape) else round(mape, 4),
            "interval_coverage": None if self.backtest is None else round(self.backtest.coverage(95), 4),
            "interval_coverage_80": None if self.backtest is None else round(self.backtest.coverage(80), 4),
            "status": self.status,
            "capacity": _finite(self.capacity), "last_used": _finite(self.last_used),
            "last_timestamp": None if self.last_timestamp is None else self.last_timestamp.isoformat(),
            "exhaustion_date": None if self.exhaustion_date is None else self.exhaustion_date.isoformat(),
            "history_days": round(self.history_days, 3), "step_minutes": round(self.step_seconds / 60, 3),
            "gaps_filled": self.gaps_filled, "samples_ignored": self.samples_ignored,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "history_age_days": round(self.history_age_days, 3),
            "candidates": {k: (None if np.isnan(v) else round(v, 4)) for k, v in self.candidates.items()},
            "trend_change": self.trend_change,
            "interval_widening": {str(k): round(v, 3) for k, v in self.interval_widening.items()} or None,
        }
        if self.reason:
            entry["reason"] = self.reason
        return entry


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


@dataclass(frozen=True)
class Settings:
    """Forecast knobs; defaults suit hourly history of one to a few weeks."""

    horizon_days: float = 90.0
    min_history_days: float = 3.0
    folds: int = 3
    holdout_days: float = 7.0
    families: tuple[str, ...] = models.FAMILIES
    as_of: Any = None  # the "now" days are counted from (a UTC time); None: the wall clock at forecast time
    max_history_days: float = 400.0
    max_age_days: float = 7.0
    detect_trend_change: bool = True
    calibrate_intervals: bool = True  # widen bands to what the backtest allows (off only to measure the difference)

    def now(self) -> Any:
        """``as_of`` as a UTC Timestamp (the wall clock when unset)."""
        import time

        import pandas as pd

        if self.as_of is None:
            return pd.Timestamp(time.time(), unit="s", tz="UTC")
        stamp = pd.Timestamp(self.as_of)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

    def check(self) -> None:
        problems = []
        if not 0 < self.horizon_days <= 3650:
            problems.append(f"horizon_days must be in (0, 3650], got {self.horizon_days}")
        if self.min_history_days < 0:
            problems.append(f"min_history_days must be >= 0, got {self.min_history_days}")
        if not 1 <= self.folds <= 20:
            problems.append(f"folds must be 1..20, got {self.folds}")
        if self.holdout_days <= 0:
            problems.append(f"holdout_days must be > 0, got {self.holdout_days}")
        if not self.min_history_days < self.max_history_days <= 3650:
            problems.append(f"max_history_days must be in (min_history_days, 3650], got {self.max_history_days}")
        if not 0 <= self.max_age_days <= 3650:
            problems.append(f"max_age_days must be in [0, 3650], got {self.max_age_days}")
        try:
            self.now()
        except (ValueError, TypeError):
            problems.append(f"as_of must be a time like 2026-11-28T18:00:00Z, got {self.as_of!r}")
        unknown = sorted(set(self.families) - set(models.FAMILIES))
        if unknown or not self.families:
            problems.append(f"families must be a non-empty subset of {', '.join(models.FAMILIES)}")
        if problems:
            raise ParameterError("invalid forecast settings: " + "; ".join(problems))


def crossing_days(path: np.ndarray, start: float, capacity: float, step_days: float) -> float | None:
    """First time ``path`` (steps 1..h after ``start``, linearly between steps) reaches ``capacity``, in days."""
    if start >= capacity:
        return 0.0
    above = np.nonzero(path >= capacity)[0]
    if above.size == 0:
        return None
    k = int(above[0])
    before = start if k == 0 else float(path[k - 1])
    fraction = (capacity - before) / (float(path[k]) - before) if path[k] != before else 1.0
    return (k + fraction) * step_days


def regular(times: Any, values: Any, capacity: Any) -> tuple[Any, np.ndarray, float, float, int]:
    """Resample one series to an even grid: (index, values, capacity, step seconds, gaps filled)."""
    import pandas as pd

    series = pd.Series(np.asarray(values, dtype=float), index=pd.DatetimeIndex(times))
    spacing = np.diff(epoch_seconds(series.index)) if len(series) > 1 else np.array([3600.0])
    step = max(3600.0, float(np.round(np.median(spacing) / 60) * 60)) if spacing.size else 3600.0
    rule = pd.Timedelta(seconds=step)
    grid = series.resample(rule, origin="epoch").mean()
    gaps = int(grid.isna().sum())
    grid = grid.interpolate(method="linear", limit_direction="both")
    caps = pd.Series(np.asarray(capacity, dtype=float), index=pd.DatetimeIndex(times)).dropna()
    return grid.index, grid.to_numpy(dtype=float), float(caps.iloc[-1]) if len(caps) else float("nan"), step, gaps


def backtest(family: str, y: np.ndarray, steps_per_day: float, settings: Settings) -> Backtest | None:
    """Rolling-origin evaluation of one family; None when the history is too short for it."""
    n = len(y)
    holdout = max(1, min(round(settings.holdout_days * steps_per_day), n // 4))
    stride = max(1, holdout // 2)
    origins = [n - holdout - i * stride for i in reversed(range(settings.folds))]
    if origins[0] < models.min_train(family, steps_per_day):
        return None
    folds = []
    for origin in origins:
        try:
            prediction = models.fit_predict(family, y[:origin], steps_per_day, holdout)
        except (ValueError, np.linalg.LinAlgError):
            return None
        folds.append(Fold(origin, y[origin:origin + holdout], prediction.mean, prediction.lower, prediction.upper))
    return Backtest(family, folds)


def _recent(times: Any, used: Any, capacity: Any, max_days: float) -> tuple[Any, Any, Any, int]:
    """Only the newest ``max_days`` of one series (sorted by time); how many older rows were dropped."""
    import pandas as pd

    stamps = pd.DatetimeIndex(times)
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    order = np.argsort(stamps.asi8, kind="stable")
    stamps = stamps[order]
    used, capacity = np.asarray(used, dtype=float)[order], np.asarray(capacity, dtype=float)[order]
    keep = stamps >= stamps[-1] - pd.Timedelta(days=max_days)
    return stamps[keep], used[keep], capacity[keep], int((~keep).sum())


def _refuse(entry: ForecastEntry, status: str, reason: str) -> ForecastEntry:
    entry.status, entry.reason = status, reason
    entry.days_to_exhaustion = entry.interval_80 = entry.interval_95 = None
    return entry


def forecast_series(pool: str, resource: str, basis: str, times: Any, used: Any, capacity: Any,
                    settings: Settings | None = None) -> ForecastEntry:
    """Forecast one series (raw, unevenly sampled times allowed) to a :class:`ForecastEntry`."""
    settings = settings or Settings()
    now = settings.now()
    times, used, capacity, ignored = _recent(times, used, capacity, settings.max_history_days)
    index, y, cap, step, gaps = regular(times, used, capacity)
    steps_per_day = DAY / step
    span = (index[-1] - index[0]).total_seconds() / DAY if len(index) > 1 else 0.0
    age = max(0.0, (now - index[-1]).total_seconds() / DAY)
    entry = ForecastEntry(pool, resource, basis, status="ok", capacity=cap, last_used=float(y[-1]),
                          last_timestamp=index[-1], step_seconds=step, history_days=span, gaps_filled=gaps,
                          as_of=now, history_age_days=age, samples_ignored=ignored)
    entry.history = (index, y)
    if not (np.isfinite(cap) and 0 < cap <= MAX_VALUE):
        return _refuse(entry, INVALID, f"capacity is {cap:g}: no finite positive capacity to run out of")
    if not np.isfinite(y).all() or (np.abs(y) > MAX_VALUE).any():
        return _refuse(entry, INVALID, f"a used value is not finite or above {MAX_VALUE:g}")
    if span < settings.min_history_days:
        return _refuse(entry, INSUFFICIENT,
                       f"{span:.2f} days of history, at least {settings.min_history_days:g} needed")
    if gaps > MAX_GAP_FRACTION * len(y):
        return _refuse(entry, INSUFFICIENT, f"{gaps} of {len(y)} steps have no sample (more than half interpolated)")
    if age > settings.max_age_days:
        return _refuse(entry, STALE, f"the last sample is {age:.2f} days old, at most {settings.max_age_days:g} "
                                     "allowed: collect fresh history")
    horizon = max(1, int(np.ceil((settings.horizon_days + age) * steps_per_day)))
    if np.ptp(y) == 0:
        entry.model, entry.prediction = "constant", models.constant(y[-1], horizon)
        entry.backtest = Backtest("constant", [Fold(len(y), y[-1:], y[-1:], {80: y[-1:], 95: y[-1:]},
                                                    {80: y[-1:], 95: y[-1:]})])
        entry.candidates = {"constant": 0.0}
    else:
        with np.errstate(all="ignore"):
            chosen = _select(y, steps_per_day, settings, horizon)
            if chosen is None:
                return _refuse(entry, INSUFFICIENT, f"{len(y)} points are too few for a backtest")
            _predict(entry, y, index, steps_per_day, settings, horizon, *chosen)
    p = entry.prediction
    paths = [p.mean, *p.lower.values(), *p.upper.values()]
    if not all(np.isfinite(path).all() for path in paths):
        return _refuse(entry, INVALID, f"the {entry.model} model overflowed on these values")
    step_days = step / DAY

    def crossing(path: np.ndarray) -> float | None:
        days = crossing_days(path, y[-1], cap, step_days)
        return None if days is None else max(0.0, days - age)

    entry.days_to_exhaustion = crossing(p.mean)
    entry.interval_80 = (crossing(p.upper[80]), crossing(p.lower[80]))
    entry.interval_95 = (crossing(p.upper[95]), crossing(p.lower[95]))
    return entry


def _select(y: np.ndarray, steps_per_day: float, settings: Settings,
            horizon: int) -> tuple[Backtest, dict[str, float], models.Prediction] | None:
    """The family with the lowest backtest MAPE (the simpler on a tie), refitted on all of ``y``."""
    results = [b for f in settings.families if (b := backtest(f, y, steps_per_day, settings)) is not None]
    if not results:
        return None
    best = min(results, key=lambda b: (np.inf if np.isnan(b.mape) else b.mape, models.FAMILIES.index(b.family)))
    return best, {b.family: b.mape for b in results}, models.fit_predict(best.family, y, steps_per_day, horizon)


def _predict(entry: ForecastEntry, y: np.ndarray, index: Any, steps_per_day: float, settings: Settings, horizon: int,
             best: Backtest, candidates: dict[str, float], prediction: models.Prediction) -> None:
    """Fill ``entry``'s model and bands: widened to what the backtest allows, and over both regimes after a change."""
    widen = intervals.factors(best) if settings.calibrate_intervals else {level: 1.0 for level in models.LEVELS}
    entry.model, entry.backtest, entry.candidates = best.family, best, candidates
    entry.prediction, entry.interval_widening = intervals.calibrate(prediction, widen), widen
    change = trend.detect(y, steps_per_day) if settings.detect_trend_change else None
    if change is None:
        return
    entry.trend_change = {**change.to_json(index), "model_before": best.family}
    regime = models.piecewise(y, steps_per_day, horizon, change.index)
    entry.model = "piecewise_linear"
    entry.prediction = intervals.envelope(intervals.calibrate(regime, widen), entry.prediction)


def _with_cluster_total(series: Any) -> Any:
    """Add pool ``*`` (the sum over pools on a common hourly grid) when several pools and no ``*`` exist."""
    import pandas as pd

    extra = []
    for (resource, basis), group in series.groupby(["resource", "basis"], sort=False):
        pools = set(group["pool"])
        if ALL_POOLS in pools or len(pools) < 2:
            continue
        hourly = (group.set_index("timestamp").groupby("pool")[["capacity", "used"]]
                  .resample("1h", origin="epoch").mean().dropna())
        per_time = hourly.groupby(level="timestamp")
        totals = per_time.sum()[per_time.size() == len(pools)].reset_index()
        totals["pool"], totals["resource"], totals["basis"] = ALL_POOLS, resource, basis
        extra.append(totals)
    return pd.concat([series, *extra], ignore_index=True) if extra else series


def forecast(series: Any, settings: Settings | None = None) -> list[ForecastEntry]:
    """Forecast every pool x resource x basis of a validated ``series`` frame (see schema)."""
    settings = settings or Settings()
    settings.check()
    series = _with_cluster_total(series)
    entries = []
    for (pool, resource, basis), group in series.groupby(["pool", "resource", "basis"], sort=True):
        entries.append(forecast_series(str(pool), str(resource), str(basis), group["timestamp"].to_numpy(),
                                       group["used"].to_numpy(), group["capacity"].to_numpy(), settings))
    return entries


def to_json(entries: list[ForecastEntry], settings: Settings | None = None) -> dict[str, Any]:
    """The ``kubebook capacity forecast --json`` document."""
    settings = settings or Settings()
    return {"horizon_days": settings.horizon_days, "forecasts": [e.to_json() for e in entries]}
