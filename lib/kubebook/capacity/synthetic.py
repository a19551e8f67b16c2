"""Synthetic capacity history with a known answer: for tests, the benchmark and a cluster with no history.

A usage profile is ``base + slope * t + daily * sin(day phase) + weekly * sin(week phase) + noise``.
Because the noise-free part is known, so is the true exhaustion date, which is what the
forecast's interval coverage is tested against. The same profile drives the load generator's
emulated usage on the local cluster (``kubebook.capacity.loadgen``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DAY = 86400.0
GIB = 1024.0**3


@dataclass(frozen=True)
class Profile:
    """Usage as a function of time (seconds since the start), in the resource's unit."""

    base: float
    slope_per_day: float
    daily: float = 0.0
    weekly: float = 0.0
    noise: float = 0.0
    peak_hour: float = 14.0

    def mean(self, seconds: Any) -> np.ndarray:
        t = np.asarray(seconds, dtype=float)
        days = t / DAY
        daily = self.daily * np.sin(2 * np.pi * (days - (self.peak_hour - 6) / 24))
        weekly = self.weekly * np.sin(2 * np.pi * days / 7)
        return self.base + self.slope_per_day * days + daily + weekly

    def sample(self, seconds: Any, rng: np.random.Generator) -> np.ndarray:
        values = self.mean(seconds) + rng.normal(0.0, self.noise, np.shape(seconds))
        return np.maximum(values, 0.0)

    def true_exhaustion_days(self, after_seconds: float, capacity: float, horizon_days: float = 3650,
                             resolution_seconds: float = 60.0) -> float | None:
        """Days after ``after_seconds`` until the noise-free profile first reaches ``capacity``."""
        grid = after_seconds + np.arange(0, horizon_days * DAY, resolution_seconds)
        hits = np.nonzero(self.mean(grid) >= capacity)[0]
        return None if hits.size == 0 else float(hits[0] * resolution_seconds / DAY)


def series_frame(profile: Profile, capacity: float, days: float, step_seconds: float = 3600.0,
                 pool: str = "workload", resource: str = "cpu", basis: str = "usage", seed: int = 0,
                 start: str = "2026-11-01T00:00:00Z") -> Any:
    """A ``series`` history frame for one pool/resource drawn from ``profile``."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    seconds = np.arange(0, days * DAY, step_seconds)
    times = pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame({"timestamp": times, "pool": pool, "resource": resource, "basis": basis,
                         "capacity": float(capacity), "used": profile.sample(seconds, rng)})


def demo_series(days: float = 21, seed: int = 7, start: str = "2026-11-01T00:00:00Z") -> Any:
    """A small two-pool cluster history (cpu, memory, pods; usage and requests) for runbooks and docs."""
    import pandas as pd

    parts = []
    shapes = {  # pool: (cpu capacity, memory capacity, pod slots)
        "workload": (96.0, 384 * GIB, 660.0), "system": (8.0, 32 * GIB, 220.0)}
    for i, (pool, (cpu, memory, pods)) in enumerate(shapes.items()):
        growth = 1.0 if pool == "workload" else 0.05
        profiles = {
            ("cpu", "usage"): (Profile(0.35 * cpu, 0.9 * growth, 0.12 * cpu, 0.04 * cpu, 0.02 * cpu), cpu),
            ("cpu", "requests"): (Profile(0.45 * cpu, 1.1 * growth, 0, 0, 0.005 * cpu), cpu),
            ("memory", "usage"): (Profile(0.45 * memory, 2.5 * GIB * growth, 0.05 * memory, 0.02 * memory,
                                          0.01 * memory), memory),
            ("memory", "requests"): (Profile(0.5 * memory, 3 * GIB * growth, 0, 0, 0.002 * memory), memory),
            ("pods", "requests"): (Profile(0.3 * pods, 2 * growth, 0, 0, 1.0), pods),
        }
        for j, ((resource, basis), (profile, capacity)) in enumerate(profiles.items()):
            frame = series_frame(profile, capacity, days, pool=pool, resource=resource, basis=basis,
                                 seed=seed * 100 + i * 10 + j, start=start)
            if resource == "pods":
                frame["used"] = frame["used"].round()
            parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def samples_frame(workloads: int = 20, days: float = 14, step_seconds: float = 300.0, seed: int = 1,
                  start: str = "2026-11-01T00:00:00Z", leaker: bool = True) -> Any:
    """A ``samples`` history: ``workloads`` deployments (one container each) with seasonal usage.

    Requests are set 1.5-4x above typical usage (the over-provisioning rightsizing should find);
    with ``leaker`` the last workload's memory grows until it hits its limit and is OOM-killed.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    seconds = np.arange(0, days * DAY, step_seconds)
    times = pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s")
    namespaces = ("shop", "payments", "search", "analytics")
    teams = {"shop": "web", "payments": "fintech", "search": "web", "analytics": "data"}
    frames = []
    for w in range(workloads):
        namespace = namespaces[w % len(namespaces)]
        cpu_base = float(rng.uniform(0.05, 1.5))
        mem_base = float(rng.uniform(0.1, 2.0)) * GIB
        cpu = Profile(cpu_base, cpu_base * 0.01, cpu_base * 0.4, cpu_base * 0.1, cpu_base * 0.08).sample(seconds, rng)
        memory = Profile(mem_base, mem_base * 0.002, mem_base * 0.1, 0, mem_base * 0.02).sample(seconds, rng)
        cpu_request = round(cpu_base * float(rng.uniform(1.5, 4.0)), 3)
        memory_request = float(np.ceil(mem_base * float(rng.uniform(1.5, 3.0)) / 2**20) * 2**20)
        memory_limit = memory_request
        oom = np.zeros(len(seconds), dtype=bool)
        if leaker and w == workloads - 1:
            period = int(len(seconds) / 3)  # leaks, is killed at its limit, restarts: three times
            phase = np.arange(len(seconds)) % period
            memory = mem_base * 0.5 + (memory_limit - mem_base * 0.5) * phase / (period - 1)
            oom = phase == period - 1
        frames.append(pd.DataFrame({
            "timestamp": times, "namespace": namespace, "workload": f"app-{w:03d}", "container": "main",
            "pod": f"app-{w:03d}-{int(seed)}", "pool": "workload", "team": teams[namespace],
            "cpu_cores": cpu, "memory_bytes": memory, "cpu_request": cpu_request, "cpu_limit": np.nan,
            "memory_request": memory_request, "memory_limit": memory_limit, "oom_killed": oom}))
    frame = pd.concat(frames, ignore_index=True)
    for column in ("namespace", "workload", "container", "pod", "pool", "team"):
        frame[column] = frame[column].astype("category")  # 2 M rows of repeated names: categories, not strings
    return frame
