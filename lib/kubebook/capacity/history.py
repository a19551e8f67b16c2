"""Where a forecast's history comes from, and the cluster facts the node plan and cost need.

A runbook or the CLI asks for history once: an explicit file (CSV or Parquet), else the local
store of the cluster. The bundled synthetic demo history is used only when asked for
(``synthetic_fallback``, off by default, so never in a scheduled run unless its schedule sets
it) and only when the store is too short; it is then shifted to end now, ``synthetic`` is true
and every view puts a banner over it. The ``source`` field always says which one was used; a
report never passes synthetic data off as the cluster's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubebook.capacity import binpack, collect, schema, synthetic
from kubebook.capacity.store import HistoryStore


@dataclass
class History:
    """The ``series`` and ``samples`` frames (``samples`` may have no rows) and where they came from."""

    series: Any
    samples: Any
    source: str
    synthetic: bool = False
    cluster: str = ""

    @property
    def days(self) -> float:
        if self.series is None or len(self.series) == 0:
            return 0.0
        span = self.series["timestamp"].max() - self.series["timestamp"].min()
        return float(span.total_seconds() / 86400)


def load(history: str = "", samples: str = "", store: HistoryStore | None = None, min_days: float = 3.0,
         synthetic_fallback: bool = False) -> History:
    """History from files, else the store; with ``synthetic_fallback``, the demo history when the store is short."""
    if history:
        series = schema.read_series(history)
        sample_frame = schema.read_samples(samples) if samples else schema.empty_samples()
        return History(series, sample_frame, f"file {history}")
    if store is None:
        from kubebook.errors import ParameterError

        raise ParameterError("no history: pass a history file or the cluster's store")
    series, sample_frame = store.read("series"), store.read("samples")
    owner = store.identity or store.recorded()
    found = History(schema.validate_series(series) if len(series) else series,
                    schema.validate_samples(sample_frame) if len(sample_frame) else schema.empty_samples(),
                    f"store {store.root}", cluster=owner.fingerprint if owner else "")
    if found.days >= min_days or not synthetic_fallback:
        return found
    return demo(f"the store {store.root} holds {found.days:.2f} days")


def demo(why: str, days: float = 21.0) -> History:
    """The bundled synthetic history, ending now (so its days count from now like real ones), labelled."""
    import time

    import pandas as pd

    hour = pd.Timedelta(hours=1)
    now = pd.Timestamp(time.time(), unit="s", tz="UTC").floor("h")  # the last hourly sample is this hour's
    series = synthetic.demo_series(days=days, start=(now - pd.Timedelta(days=days) + hour).isoformat())
    samples = synthetic.samples_frame(start=(now - pd.Timedelta(days=14) + pd.Timedelta(minutes=5)).isoformat())
    return History(schema.validate_series(series), schema.validate_samples(samples),
                   f"synthetic demo history, not this cluster's ({why})", synthetic=True)


def cluster_shapes(inv: collect.Inventory) -> list[binpack.PoolShape]:
    """One PoolShape per pool, from its largest node (KWOK pools mix sizes), with the pool's taints and labels."""
    pools: dict[str, list[dict[str, Any]]] = {}
    for node in inv.nodes:
        pools.setdefault(node["pool"], []).append(node)
    shapes = []
    for name, nodes in sorted(pools.items()):
        big = max(nodes, key=lambda n: (n["cpu"], n["memory"]))
        common = {k: v for k, v in big["labels"].items()
                  if all(n["labels"].get(k) == v for n in nodes) and not k.startswith("kubernetes.io/hostname")}
        shapes.append(binpack.PoolShape(name, big["cpu"], big["memory"], int(big["pods"]), len(nodes),
                                        tuple(big["taints"]), common))
    return shapes


def cluster_demands(inv: collect.Inventory) -> list[binpack.PodDemand]:
    """Each running pod's summed container requests, where it runs now and what it tolerates."""
    pods: dict[tuple[str, str], dict[str, Any]] = {}
    for (namespace, pod, _), info in inv.containers.items():
        entry = pods.setdefault((namespace, pod), {"cpu": 0.0, "memory": 0.0, "info": info})
        entry["cpu"] += 0.0 if info["cpu_request"] != info["cpu_request"] else info["cpu_request"]
        entry["memory"] += 0.0 if info["memory_request"] != info["memory_request"] else info["memory_request"]
    return [binpack.PodDemand(f"{ns}/{pod}", e["cpu"], e["memory"], 1, e["info"]["pool"],
                              tuple(e["info"]["tolerations"]), dict(e["info"]["node_selector"]))
            for (ns, pod), e in sorted(pods.items())]


def growth(entries: list[Any], pool: str = schema.ALL_POOLS, days: float = 30.0) -> dict[str, float]:
    """Forecast requests in ``days`` over requests now, per resource (1.0 where there is no forecast)."""
    factors = {"cpu": 1.0, "memory": 1.0}
    for entry in entries:
        if entry.pool != pool or entry.basis != "requests" or entry.resource not in factors or entry.status != "ok":
            continue
        if entry.prediction is None or not entry.last_used:
            continue
        step = max(0, min(len(entry.prediction.mean) - 1, round(days * 86400 / entry.step_seconds) - 1))
        factors[entry.resource] = max(1.0, float(entry.prediction.mean[step]) / entry.last_used)
    return factors
