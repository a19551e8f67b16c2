"""The forecast model families, all from statsmodels, behind one fit-and-predict call.

Why statsmodels and not statsforecast: both were measured on this machine (see the README,
"Capacity forecasting"). statsforecast's AutoETS was about as fast, but statsforecast 2.1 pins
``pandas<3`` (through fugue), which would downgrade the pandas every other kubebook engine runs
on; statsmodels' ETS with heuristic initialisation fits in ~0.1 s per series and its OLS in
milliseconds, with analytic prediction intervals for both.

Families, simplest first (ties in the backtest go to the simpler one):

- ``linear``: OLS on time. Captures a steady trend; seasonality only widens its intervals.
- ``seasonal_linear``: OLS on time plus Fourier terms for the daily cycle (3 harmonics) and,
  with at least two weeks of history, the weekly cycle (2 harmonics). A trend with a fixed
  shape of day and week, the usual pattern of service load.
- ``holt_winters``: additive ETS (error, trend, season) with the weekly season when the training
  window holds two weeks, else the daily one, else none (Holt's linear trend). It adapts to
  level and slope changes the regressions cannot follow, at the price of wider intervals.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

FAMILIES = ("linear", "seasonal_linear", "holt_winters")
LEVELS = (80, 95)
DAILY_HARMONICS = 3
WEEKLY_HARMONICS = 2


@dataclass
class Prediction:
    """A forecast path and its prediction bands, indexed 0..h-1 = one step after the last sample onwards."""

    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]


def _weekly(steps_per_day: float) -> float:
    return 7.0 * steps_per_day


def min_train(family: str, steps_per_day: float) -> int:
    """Fewest training points a family needs (two full cycles for anything seasonal)."""
    if family == "linear":
        return 6
    if family == "seasonal_linear":
        return max(12, int(np.ceil(2 * steps_per_day))) if steps_per_day >= 4 else 10**9
    return 12


def fourier(t: np.ndarray, n_train: int, steps_per_day: float) -> np.ndarray:
    columns = [np.ones_like(t, dtype=float), t.astype(float)]
    cycles = [(steps_per_day, DAILY_HARMONICS)]
    if n_train >= 2 * _weekly(steps_per_day):
        cycles.append((_weekly(steps_per_day), WEEKLY_HARMONICS))
    for period, harmonics in cycles:
        for k in range(1, min(harmonics, int(period // 2)) + 1):
            angle = 2 * np.pi * k * t / period
            columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns)


def _ols(y: np.ndarray, x_train: np.ndarray, x_future: np.ndarray) -> Prediction:
    import statsmodels.api as sm

    result = sm.OLS(y, x_train).fit()
    prediction = result.get_prediction(x_future)
    mean = np.asarray(prediction.predicted_mean, dtype=float)
    lower, upper = {}, {}
    for level in LEVELS:
        lo, hi = prediction.conf_int(obs=True, alpha=1 - level / 100).T
        lower[level], upper[level] = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return Prediction(mean, lower, upper)


def _season_length(n_train: int, steps_per_day: float) -> int | None:
    """The ETS season in steps: weekly, else daily, when two full cycles fit; None otherwise."""
    for period in (_weekly(steps_per_day), steps_per_day):
        if period >= 2 and float(period).is_integer() and n_train >= 2 * period + 2:
            return int(period)
    return None


def _ets(y: np.ndarray, steps_per_day: float, horizon: int) -> Prediction:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    season = _season_length(len(y), steps_per_day)
    model = ETSModel(pd.Series(y), error="add", trend="add", seasonal="add" if season else None,
                     seasonal_periods=season, initialization_method="heuristic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a bad fit shows up in the backtest
        result = model.fit(disp=False)
        prediction = result.get_prediction(start=len(y), end=len(y) + horizon - 1)
        lower, upper = {}, {}
        for level in LEVELS:
            frame = prediction.summary_frame(alpha=1 - level / 100)
            lower[level] = frame["pi_lower"].to_numpy(dtype=float)
            upper[level] = frame["pi_upper"].to_numpy(dtype=float)
    return Prediction(frame["mean"].to_numpy(dtype=float), lower, upper)


def fit_predict(family: str, y: np.ndarray, steps_per_day: float, horizon: int) -> Prediction:
    """Fit ``family`` on ``y`` (evenly spaced, ``steps_per_day`` points a day) and forecast ``horizon`` steps."""
    n = len(y)
    if n < min_train(family, steps_per_day):
        raise ValueError(f"{family} needs at least {min_train(family, steps_per_day)} points, got {n}")
    t_train = np.arange(n)
    t_future = np.arange(n, n + horizon)
    if family == "linear":
        x_train = np.column_stack([np.ones(n), t_train])
        return _ols(y, x_train, np.column_stack([np.ones(horizon), t_future]))
    if family == "seasonal_linear":
        return _ols(y, fourier(t_train, n, steps_per_day), fourier(t_future, n, steps_per_day))
    if family == "holt_winters":
        return _ets(y, steps_per_day, horizon)
    raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")


def piecewise(y: np.ndarray, steps_per_day: float, horizon: int, change: int) -> Prediction:
    """``seasonal_linear`` plus a hinge at step ``change``: the season from all of ``y``, the slope since the change.

    Used after a detected change of trend (``kubebook.capacity.trend``): fitting the new regime alone
    would lose the weekly cycle a few days cannot show, and a weekly swing over six days reads as slope.
    """
    n = len(y)
    t_train, t_future = np.arange(n), np.arange(n, n + horizon)
    x_train = np.column_stack([fourier(t_train, n, steps_per_day), np.maximum(0, t_train - change)])
    x_future = np.column_stack([fourier(t_future, n, steps_per_day), t_future - change])
    return _ols(y, x_train, x_future)


def constant(value: float, horizon: int) -> Prediction:
    """The forecast of a series that never moved: itself, with no spread."""
    path = np.full(horizon, float(value))
    return Prediction(path, {lv: path for lv in LEVELS}, {lv: path for lv in LEVELS})
