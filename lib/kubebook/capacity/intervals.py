"""Prediction bands no more confident than the backtest allows, and the envelope of two regimes.

Why: a model's analytic interval assumes the model is right. When the rolling-origin backtest
shows that fewer held-out points than promised fell inside (coverage 0.46 where 95 % was
promised), the band is too narrow by the model's own evidence. :func:`calibrate` widens each
level's band around the forecast path by the smallest factor with which the backtest would have
reached the level (split-conformal on the backtest folds: the level-quantile of each held-out
error divided by the half-width on its side); it never narrows. :func:`envelope` is the band
that covers two forecasts at once (the whole history's model and the newest regime's after a
change of trend).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from kubebook.capacity.models import LEVELS, Prediction


def factors(backtest: Any) -> dict[int, float]:
    """Per level, how much the backtest says the band must widen to hold its promise (>= 1)."""
    if backtest is None or not backtest.folds:
        return {level: 1.0 for level in LEVELS}
    actual = np.concatenate([f.actual for f in backtest.folds])
    predicted = np.concatenate([f.predicted for f in backtest.folds])
    error = actual - predicted
    out = {}
    for level in LEVELS:
        upper = np.concatenate([f.upper[level] for f in backtest.folds]) - predicted
        lower = predicted - np.concatenate([f.lower[level] for f in backtest.folds])
        width = np.where(error > 0, upper, lower)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(error == 0, 0.0, np.abs(error) / np.where(width > 0, width, 0.0))
        ratio = np.nan_to_num(ratio, nan=np.inf, posinf=np.inf)
        needed = float(np.quantile(ratio, level / 100, method="higher")) if ratio.size else 1.0
        out[level] = max(1.0, needed) if np.isfinite(needed) else 1.0
    return out


def calibrate(prediction: Prediction, widen: dict[int, float]) -> Prediction:
    """``prediction`` with each level's band widened by ``widen[level]`` around its path; levels stay nested."""
    mean = prediction.mean
    lower, upper = {}, {}
    for level in LEVELS:
        lower[level] = mean - widen[level] * (mean - prediction.lower[level])
        upper[level] = mean + widen[level] * (prediction.upper[level] - mean)
    for inner, outer in itertools.pairwise(LEVELS):
        lower[outer] = np.minimum(lower[outer], lower[inner])
        upper[outer] = np.maximum(upper[outer], upper[inner])
    return Prediction(mean, lower, upper)


def envelope(current: Prediction, other: Prediction) -> Prediction:
    """``current``'s path with bands that cover both predictions' bands (same horizon)."""
    size = min(len(current.mean), len(other.mean))
    return Prediction(current.mean[:size],
                      {lv: np.minimum(current.lower[lv][:size], other.lower[lv][:size]) for lv in LEVELS},
                      {lv: np.maximum(current.upper[lv][:size], other.upper[lv][:size]) for lv in LEVELS})
