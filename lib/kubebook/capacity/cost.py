"""Cost allocation by namespace and team in OpenCost's model, with idle cost shown.

OpenCost charges each container for max(request, usage) of CPU and of memory over each sample's
duration, at the node's per-core-hour and per-GiB-hour prices; whatever the pool's capacity cost
that no container was charged for is *idle*, reported per pool rather than spread silently.
Prices are parameters per pool (``Prices``); the default is OpenCost's own on-premises default
price sheet (0.031611 per core-hour, 0.004237 per GiB-hour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kubebook.capacity.schema import epoch_seconds
from kubebook.errors import ParameterError

GIB = 1024.0**3
HOURS_PER_MONTH = 730.0
CURRENCY = "USD"  # the unit of every price and cost: OpenCost's default sheet is in US dollars


@dataclass(frozen=True)
class Price:
    """What one core and one GiB of memory cost per hour in a pool."""

    cpu_core_hour: float = 0.031611
    memory_gib_hour: float = 0.004237


@dataclass(frozen=True)
class Prices:
    """Per-pool prices with a default for pools not named."""

    default: Price = Price()
    pools: dict[str, Price] = field(default_factory=dict)

    def for_pool(self, pool: str) -> Price:
        return self.pools.get(pool, self.default)

    @classmethod
    def parse(cls, spec: dict[str, Any] | None) -> Prices:
        """From ``{"default": {"cpu_core_hour": x, "memory_gib_hour": y}, "<pool>": {...}}``; bad input: one error."""
        if not spec:
            return cls()
        if not isinstance(spec, dict):
            raise ParameterError("prices must be a mapping of pool name to {cpu_core_hour, memory_gib_hour}")
        parsed: dict[str, Price] = {}
        for pool, value in spec.items():
            if not isinstance(value, dict) or set(value) - {"cpu_core_hour", "memory_gib_hour"}:
                raise ParameterError(f"prices[{pool!r}] must have only cpu_core_hour and memory_gib_hour",
                                     hint='e.g. {"workload": {"cpu_core_hour": 0.03, "memory_gib_hour": 0.004}}')
            try:
                price = Price(**{k: float(v) for k, v in value.items()})
            except (TypeError, ValueError) as error:
                raise ParameterError(f"prices[{pool!r}] must be numbers: {error}") from error
            if price.cpu_core_hour < 0 or price.memory_gib_hour < 0:
                raise ParameterError(f"prices[{pool!r}] must not be negative")
            parsed[str(pool)] = price
        default = parsed.pop("default", Price())
        return cls(default, parsed)


def sample_hours(samples: Any) -> np.ndarray:
    """Hours each sample stands for: the median spacing of its container's samples (gaps are not billed)."""
    stamps = epoch_seconds(samples["timestamp"]) / 3600
    keys = samples.groupby(["namespace", "workload", "container", "pod"], sort=False, observed=True).ngroup().to_numpy()
    order = np.lexsort((stamps, keys))
    spacing = np.diff(stamps[order])
    same = keys[order][1:] == keys[order][:-1]
    positive = spacing[same & (spacing > 0)]
    step = float(np.median(positive)) if positive.size else 1.0
    return np.full(len(samples), step)


def allocate(samples: Any, capacity: dict[str, tuple[float, float]] | None = None, prices: Prices | None = None,
             by: str = "namespace") -> dict[str, Any]:
    """Cost per ``by`` (``namespace`` or ``team``) and idle cost per pool over the samples' window.

    ``capacity`` maps pool -> (cores, memory bytes) allocatable; without it no idle is computed.
    Returns ``{"rows": [...], "idle": [...], "window_hours": h, "total": x}``; rows are sorted by cost.
    """
    if by not in ("namespace", "team", "workload"):
        raise ParameterError(f"allocate by namespace, team or workload, not {by!r}")
    prices = prices or Prices()
    hours = sample_hours(samples)
    cpu = np.fmax(samples["cpu_cores"].to_numpy(dtype=float), samples["cpu_request"].fillna(0).to_numpy(dtype=float))
    memory = np.fmax(samples["memory_bytes"].to_numpy(dtype=float),
                     samples["memory_request"].fillna(0).to_numpy(dtype=float)) / GIB
    pools = samples["pool"].to_numpy()
    cpu_price = np.array([prices.for_pool(p).cpu_core_hour for p in pools])
    memory_price = np.array([prices.for_pool(p).memory_gib_hour for p in pools])
    frame = samples[[by, "pool"]].copy()
    frame["cpu_core_hours"] = cpu * hours
    frame["memory_gib_hours"] = memory * hours
    frame["cpu_cost"] = frame["cpu_core_hours"] * cpu_price
    frame["memory_cost"] = frame["memory_gib_hours"] * memory_price
    columns = ["cpu_core_hours", "memory_gib_hours", "cpu_cost", "memory_cost"]
    grouped = frame.groupby(by, sort=False, observed=True)[columns].sum()
    grouped["total_cost"] = grouped["cpu_cost"] + grouped["memory_cost"]
    grouped = grouped.sort_values("total_cost", ascending=False)
    rows = [{by: key, **{k: round(float(v), 4) for k, v in row.items()}} for key, row in grouped.iterrows()]
    stamps = epoch_seconds(samples["timestamp"]) / 3600
    window = float(stamps.max() - stamps.min() + hours[0]) if len(samples) else 0.0
    idle = []
    for pool, (cores, memory_bytes) in sorted((capacity or {}).items()):
        price = prices.for_pool(pool)
        used = frame[frame["pool"] == pool][["cpu_cost", "memory_cost"]].sum()
        cpu_capacity_cost = cores * window * price.cpu_core_hour
        memory_capacity_cost = memory_bytes / GIB * window * price.memory_gib_hour
        idle.append({"pool": pool, "capacity_cost": round(cpu_capacity_cost + memory_capacity_cost, 4),
                     "allocated_cost": round(float(used.sum()), 4),
                     "idle_cpu_cost": round(cpu_capacity_cost - float(used["cpu_cost"]), 4),
                     "idle_memory_cost": round(memory_capacity_cost - float(used["memory_cost"]), 4)})
    for entry in idle:
        entry["idle_cost"] = round(entry["idle_cpu_cost"] + entry["idle_memory_cost"], 4)
    return {"by": by, "rows": rows, "idle": idle, "window_hours": round(window, 3),
            "total": round(float(grouped["total_cost"].sum()), 4)}
