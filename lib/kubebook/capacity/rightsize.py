"""Per-container request recommendations from usage history, with a replay and the savings.

Two strategies, after the tools people already trust:

- ``simple`` is KRR's simple strategy (robusta-krr ``strategies/simple.py``): CPU request = the
  ``cpu_percentile`` (95) of each pod's CPU usage, the highest over the workload's pods, no CPU
  limit; memory request = limit = the peak working set plus ``memory_buffer_percent`` (15 %).
  With OOM kills in the history, memory is at least the limit the container was killed at plus
  ``oom_bump_percent`` (25 %, KRR's ``oom_memory_buffer_percentage``).
- ``vpa`` follows the VPA recommender: samples weighted by an exponential decay with a 24 h
  half-life, CPU target/lower/upper at the 90th/50th/95th weighted percentile, memory from daily
  peaks at the same percentiles, a 15 % safety margin, confidence factors that widen the bounds
  when history is short ((1 + 1/days) on the upper, (1 + 0.001/days)^-2 on the lower bound), the
  VPA minimums (25 m CPU, 250 MiB memory) and the OOM bump (a sample at max(OOM memory + 100 MiB,
  1.2 x OOM memory)). The weighted percentile is computed exactly instead of from VPA's bucketed
  histogram. One deliberate difference: memory never goes below the observed peak, since a
  recommendation under a peak that really happened is a recommendation to be OOM-killed.

Both refuse to guess: with fewer than ``min_points`` samples or less than ``min_history_hours``
of history the recommendation's status is ``insufficient_history`` and it carries no number.
A sample whose CPU or memory usage is missing (NaN: not measured) is skipped and counted in
``samples_skipped``; a container with no measured sample at all is ``no_data``.

The replay counts the history's samples that would have exceeded the recommendation (CPU above
the request: contention risk; memory above the limit: an OOM kill), beside the same count for
the current settings. Savings are (current request - recommendation) x replicas, in cores, GiB
and money per month at the pool's prices (``kubebook.capacity.cost``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kubebook.capacity.cost import HOURS_PER_MONTH, Prices
from kubebook.capacity.schema import epoch_seconds
from kubebook.errors import ParameterError

GIB = 1024.0**3
MIB = 1024.0**2
INSUFFICIENT = "insufficient_history"
NO_DATA = "no_data"
STRATEGIES = ("simple", "vpa")


@dataclass(frozen=True)
class Settings:
    """Rightsizing knobs; the defaults are KRR's and the VPA recommender's."""

    strategy: str = "simple"
    cpu_percentile: float = 95.0
    memory_buffer_percent: float = 15.0
    oom_bump_percent: float = 25.0
    min_points: int = 100
    min_history_hours: float = 3.0
    vpa_half_life_hours: float = 24.0
    vpa_margin: float = 0.15

    def check(self) -> None:
        problems = []
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if not 0 < self.cpu_percentile <= 100:
            problems.append(f"cpu_percentile must be in (0, 100], got {self.cpu_percentile}")
        for name in ("memory_buffer_percent", "oom_bump_percent", "min_history_hours", "vpa_margin"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.min_points < 1 or self.vpa_half_life_hours <= 0:
            problems.append("min_points must be >= 1 and vpa_half_life_hours > 0")
        if problems:
            raise ParameterError("invalid rightsizing settings: " + "; ".join(problems))


@dataclass
class Recommendation:
    """One container's recommendation; numbers are None when the status is not ``ok``."""

    namespace: str
    workload: str
    container: str
    team: str
    pool: str
    status: str
    strategy: str
    points: int
    history_hours: float
    replicas: int
    cpu_request_now: float | None
    memory_request_now: float | None
    memory_peak: float
    oom_kills: int
    samples_skipped: int = 0
    cpu_request: float | None = None
    cpu_lower: float | None = None
    cpu_upper: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None
    memory_lower: float | None = None
    memory_upper: float | None = None
    oom_bumped: bool = False
    cpu_over_request: int = 0
    memory_over_limit: int = 0
    cpu_over_request_now: int = 0
    memory_over_limit_now: int = 0
    savings_cores: float = 0.0
    savings_gib: float = 0.0
    savings_per_month: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def weighted_percentile(values: np.ndarray, weights: np.ndarray, percentile: float) -> float:
    """The smallest value whose cumulative weight reaches ``percentile`` % of the total."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, cumulative[-1] * percentile / 100.0, side="left"))
    return float(values[order][min(index, len(values) - 1)])


class Group:
    """One container's samples as numpy arrays (every pod of the workload), sorted by time."""

    __slots__ = ("cpu", "cpu_request", "memory", "memory_limit", "memory_request", "oom", "pod", "seconds")

    def __init__(self, columns: dict[str, np.ndarray], index: np.ndarray) -> None:
        index = index[np.argsort(columns["seconds"][index], kind="stable")]
        for name in self.__slots__:
            setattr(self, name, columns[name][index])

    def only(self, keep: np.ndarray) -> Group:
        """The same container restricted to the samples ``keep`` marks (the order is kept)."""
        subset = object.__new__(Group)
        for name in self.__slots__:
            setattr(subset, name, getattr(self, name)[keep])
        return subset

    @property
    def hours(self) -> float:
        return float(self.seconds[-1] - self.seconds[0]) / 3600 if len(self.seconds) else 0.0


def _last(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return float(known[-1]) if known.size else None


def _oom_memory(group: Group) -> float:
    if not group.oom.any():
        return 0.0
    return float(np.nanmax(np.fmax(group.memory_limit[group.oom], group.memory[group.oom])))


def _krr(group: Group, settings: Settings, oom_memory: float) -> dict[str, Any]:
    cpu = max(float(np.percentile(group.cpu[group.pod == pod], settings.cpu_percentile))
              for pod in np.unique(group.pod))
    memory = float(group.memory.max()) * (1 + settings.memory_buffer_percent / 100)
    bumped = oom_memory * (1 + settings.oom_bump_percent / 100)
    return {"cpu_request": cpu, "memory_request": max(memory, bumped), "oom_bumped": bumped > memory}


def _vpa(group: Group, settings: Settings, oom_memory: float) -> dict[str, Any]:
    half_life = settings.vpa_half_life_hours * 3600
    newest = group.seconds.max()
    decay = np.exp2((group.seconds - newest) / half_life)
    day_keys = group.pod.astype(np.int64) * 1_000_000 + (group.seconds // 86400).astype(np.int64)
    _, first, inverse = np.unique(day_keys, return_index=True, return_inverse=True)
    peak_values = np.full(first.size, -np.inf)
    np.maximum.at(peak_values, inverse, group.memory)
    peak_seconds = np.full(first.size, -np.inf)
    np.maximum.at(peak_seconds, inverse, group.seconds)
    peak_weights = np.exp2((peak_seconds - newest) / half_life)
    bumped = False
    if oom_memory > 0:
        oom_sample = max(oom_memory + 100 * MIB, oom_memory * 1.2)
        peak_values = np.append(peak_values, oom_sample)
        peak_weights = np.append(peak_weights, peak_weights.max())
        bumped = True
    margin = 1 + settings.vpa_margin
    days = max(group.hours / 24, 1e-6)
    upper_factor, lower_factor = 1 + 1 / days, (1 + 0.001 / days) ** -2
    out = {}
    inputs = (("cpu", group.cpu, decay, 0.025), ("memory", peak_values, peak_weights, 250 * MIB))
    for name, values, weights, minimum in inputs:
        target = weighted_percentile(values, weights, 90) * margin
        lower = weighted_percentile(values, weights, 50) * margin * lower_factor
        upper = weighted_percentile(values, weights, 95) * margin * upper_factor
        out[name] = (max(target, minimum), max(lower, minimum), max(upper, minimum))
    return {"cpu_request": out["cpu"][0], "cpu_lower": out["cpu"][1], "cpu_upper": out["cpu"][2],
            "memory_request": out["memory"][0], "memory_lower": out["memory"][1],
            "memory_upper": out["memory"][2], "oom_bumped": bumped}


def recommend_one(key: tuple[str, str, str, str, str], group: Group, settings: Settings,
                  prices: Prices) -> Recommendation:
    """The recommendation for one container; ``key`` is (namespace, workload, container, team, pool)."""
    namespace, workload, container, team, pool = key
    measured = np.isfinite(group.cpu) & np.isfinite(group.memory)
    skipped = int((~measured).sum())
    if skipped:
        if not measured.any():
            return Recommendation(namespace, workload, container, team, pool, NO_DATA, settings.strategy, 0, 0.0,
                                  1, _last(group.cpu_request), _last(group.memory_request), float("nan"),
                                  int(group.oom.sum()), samples_skipped=skipped)
        group = group.only(measured)
    hours = group.hours
    newest = group.seconds == group.seconds[-1]
    rec = Recommendation(
        namespace, workload, container, team, pool, "ok", settings.strategy, points=len(group.seconds),
        history_hours=hours, replicas=max(1, int(np.unique(group.pod[newest]).size)),
        cpu_request_now=_last(group.cpu_request), memory_request_now=_last(group.memory_request),
        memory_peak=float(group.memory.max()), oom_kills=int(group.oom.sum()), samples_skipped=skipped)
    if len(group.seconds) < settings.min_points or hours < settings.min_history_hours:
        rec.status = INSUFFICIENT
        return rec
    oom_memory = _oom_memory(group)
    values = _krr(group, settings, oom_memory) if settings.strategy == "simple" else _vpa(group, settings, oom_memory)
    for name, value in values.items():
        setattr(rec, name, value)
    rec.memory_request = max(float(rec.memory_request or 0), rec.memory_peak)  # never below a real peak
    rec.memory_limit = rec.memory_request if settings.strategy == "simple" else max(
        rec.memory_request, rec.memory_upper or 0.0)
    rec.cpu_over_request = int(np.sum(group.cpu > rec.cpu_request))
    rec.memory_over_limit = int(np.sum(group.memory > rec.memory_limit))
    rec.cpu_over_request_now = int(np.sum(group.cpu > np.nan_to_num(group.cpu_request, nan=np.inf)))
    rec.memory_over_limit_now = int(np.sum(group.memory > np.nan_to_num(group.memory_limit, nan=np.inf)))
    price = prices.for_pool(pool)
    if rec.cpu_request_now is not None:
        rec.savings_cores = (rec.cpu_request_now - float(rec.cpu_request or 0)) * rec.replicas
    if rec.memory_request_now is not None:
        rec.savings_gib = (rec.memory_request_now - rec.memory_request) * rec.replicas / GIB
    rec.savings_per_month = (rec.savings_cores * price.cpu_core_hour
                             + rec.savings_gib * price.memory_gib_hour) * HOURS_PER_MONTH
    return rec


def recommend(samples: Any, settings: Settings | None = None, prices: Prices | None = None) -> list[Recommendation]:
    """A recommendation for every container of a validated ``samples`` frame (see schema).

    The frame is split once into numpy arrays per container (a pandas groupby per container
    cost ~40 ms each, too much for 500 workloads); each container is then pure numpy.
    """
    settings = settings or Settings()
    settings.check()
    prices = prices or Prices()
    if samples is None or len(samples) == 0:
        return []
    keys = ["namespace", "workload", "container"]
    codes = samples.groupby(keys, sort=True, observed=True).ngroup().to_numpy()
    columns = {
        "seconds": epoch_seconds(samples["timestamp"]),
        "cpu": samples["cpu_cores"].to_numpy(dtype=float), "memory": samples["memory_bytes"].to_numpy(dtype=float),
        "cpu_request": samples["cpu_request"].to_numpy(dtype=float),
        "memory_request": samples["memory_request"].to_numpy(dtype=float),
        "memory_limit": samples["memory_limit"].to_numpy(dtype=float),
        "oom": samples["oom_killed"].to_numpy(dtype=bool),
        "pod": samples.groupby(["namespace", "pod"], sort=False, observed=True).ngroup().to_numpy()}
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, bounds)
    lasts = [index[np.argmax(columns["seconds"][index])] for index in groups]
    labels = samples[[*keys, "team", "pool"]].iloc[lasts].astype(str).to_numpy()
    return [recommend_one(tuple(label), Group(columns, index), settings, prices)  # type: ignore[arg-type]
            for index, label in zip(groups, labels, strict=True)]


def totals(recommendations: list[Recommendation]) -> dict[str, Any]:
    """Savings over every container that has a recommendation; counts of those that have none."""
    ok = [r for r in recommendations if r.status == "ok"]
    return {"containers": len(recommendations), "recommended": len(ok),
            "insufficient_history": sum(r.status == INSUFFICIENT for r in recommendations),
            "no_data": sum(r.status == NO_DATA for r in recommendations),
            "samples_skipped": sum(r.samples_skipped for r in recommendations),
            "savings_cores": round(sum(r.savings_cores for r in ok), 3),
            "savings_gib": round(sum(r.savings_gib for r in ok), 3),
            "savings_per_month": round(sum(r.savings_per_month for r in ok), 2),
            "oom_bumped": sum(r.oom_bumped for r in ok)}
