"""Collect capacity history from a cluster: the metrics.k8s.io API or a Prometheus HTTP API.

Every source is joined with the same inventory read through :mod:`kubebook.cluster`: nodes
(allocatable by pool: the ``kubebook.io/pool`` label, else ``node.kubernetes.io/instance-type``,
else ``default``) and pods (requests and limits per container, namespace, workload from the owner
references, the ``team`` label, the last termination reason). The result is ``samples`` rows
(one per container and time) and the ``series`` rows derived from them (per pool and for ``*``:
cpu and memory on usage and requests, pod slots on requests), ready for the store.

- ``metrics.k8s.io`` is a point in time: one collection appends one sample per running
  container, stamped with the collection time so all rows of a snapshot line up.
- Prometheus answers range queries (the normal case on a real cluster): CPU as
  ``rate(container_cpu_usage_seconds_total[5m])``, so counter resets (a restarted container)
  are handled by Prometheus itself; memory as ``container_memory_working_set_bytes``. Pods that
  are gone by now keep their samples; their workload is derived from the pod name.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from kubebook.capacity.schema import ALL_POOLS
from kubebook.errors import ClusterError, ParameterError

POOL_LABELS = ("kubebook.io/pool", "node.kubernetes.io/instance-type")
TEAM_LABEL = "team"
METRICS_PODS = "/apis/metrics.k8s.io/v1beta1/pods"
CPU_QUERY = 'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))'
MEMORY_QUERY = 'max by (namespace, pod, container) (container_memory_working_set_bytes{container!=""})'
_GENERATED = [re.compile(r"^(?P<w>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$"), re.compile(r"^(?P<w>.+)-\d+$"),
              re.compile(r"^(?P<w>.+)-[a-z0-9]{5}$")]


@dataclass
class Inventory:
    """Nodes by pool and running containers with their requests, at one moment."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    containers: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def pool_capacity(self) -> dict[str, dict[str, float]]:
        pools: dict[str, dict[str, float]] = {}
        for node in self.nodes:
            totals = pools.setdefault(node["pool"], {"cpu": 0.0, "memory": 0.0, "pods": 0.0, "nodes": 0})
            for resource in ("cpu", "memory", "pods"):
                totals[resource] += node[resource]
            totals["nodes"] += 1
        return pools


def workload_from_pod_name(pod: str) -> str:
    """A gone pod's workload: its name without the generated suffixes (Deployment, StatefulSet, DaemonSet)."""
    for pattern in _GENERATED:
        match = pattern.match(pod)
        if match:
            return match.group("w")
    return pod


def _workload(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    if not owners:
        return str(meta.get("name", ""))
    owner = owners[0]
    name = str(owner.get("name", ""))
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if owner.get("kind") == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return name[: -len(template_hash) - 1]
    return name


def inventory(cluster: Any) -> Inventory:
    """Read nodes and running pods (raw JSON lists through kubebook.cluster)."""
    from kubebook.cluster import quantity

    result = Inventory()
    pool_of: dict[str, str] = {}
    for node in cluster.list_path("/api/v1/nodes"):
        meta, status = node.get("metadata") or {}, node.get("status") or {}
        labels = meta.get("labels") or {}
        pool = next((labels[k] for k in POOL_LABELS if labels.get(k)), "default")
        allocatable = status.get("allocatable") or {}
        taints = tuple((t.get("key", ""), t.get("value", ""), t.get("effect", ""))
                       for t in (node.get("spec") or {}).get("taints") or [])
        pool_of[meta.get("name", "")] = pool
        result.nodes.append({"name": meta.get("name", ""), "pool": pool, "labels": labels, "taints": taints,
                             "cpu": quantity(allocatable.get("cpu")), "memory": quantity(allocatable.get("memory")),
                             "pods": quantity(allocatable.get("pods"))})
    for pod in cluster.list_path("/api/v1/pods"):
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed") or not spec.get("nodeName"):
            continue
        statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
        for container in spec.get("containers") or []:
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            terminated = ((statuses.get(container.get("name")) or {}).get("lastState") or {}).get("terminated") or {}
            key = (meta.get("namespace", ""), meta.get("name", ""), container.get("name", ""))
            result.containers[key] = {
                "workload": _workload(pod), "team": (meta.get("labels") or {}).get(TEAM_LABEL, ""),
                "node": spec["nodeName"], "pool": pool_of.get(spec["nodeName"], ""),
                "cpu_request": quantity(requests["cpu"]) if "cpu" in requests else float("nan"),
                "cpu_limit": quantity(limits["cpu"]) if "cpu" in limits else float("nan"),
                "memory_request": quantity(requests["memory"]) if "memory" in requests else float("nan"),
                "memory_limit": quantity(limits["memory"]) if "memory" in limits else float("nan"),
                "oom_killed": terminated.get("reason") == "OOMKilled",
                "tolerations": tuple(spec.get("tolerations") or ()), "node_selector": spec.get("nodeSelector") or {}}
    return result


def _sample_row(timestamp: Any, key: tuple[str, str, str], inv: Inventory, cpu: float, memory: float) -> dict[str, Any]:
    namespace, pod, container = key
    info = inv.containers.get(key) or {"workload": workload_from_pod_name(pod)}
    nan = float("nan")
    return {"timestamp": timestamp, "namespace": namespace, "workload": info["workload"], "container": container,
            "pod": pod, "pool": info.get("pool", ""), "team": info.get("team", ""), "cpu_cores": cpu,
            "memory_bytes": memory, "cpu_request": info.get("cpu_request", nan),
            "cpu_limit": info.get("cpu_limit", nan), "memory_request": info.get("memory_request", nan),
            "memory_limit": info.get("memory_limit", nan),
            "oom_killed": bool(info.get("oom_killed", False))}


def from_metrics_api(cluster: Any, inv: Inventory | None = None) -> Any:
    """One ``samples`` snapshot from metrics.k8s.io; ClusterError when the API is not served."""
    import pandas as pd

    from kubebook.cluster import quantity
    from kubebook.errors import ApiError

    inv = inv or inventory(cluster)
    try:
        items = list(cluster.list_path(METRICS_PODS))
    except ApiError as error:
        raise ClusterError(f"the metrics.k8s.io API did not answer ({error.status}: {error.message})",
                           hint="start metrics-server (local cluster: kubebook cluster up --with-metrics)") from error
    now = pd.Timestamp(time.time(), unit="s", tz="UTC").floor("s")
    rows = []
    for item in items:
        meta = item.get("metadata") or {}
        for container in item.get("containers") or []:
            usage = container.get("usage") or {}
            key = (meta.get("namespace", ""), meta.get("name", ""), container.get("name", ""))
            rows.append(_sample_row(now, key, inv, quantity(usage.get("cpu")), quantity(usage.get("memory"))))
    return pd.DataFrame(rows)


def _query_range(url: str, query: str, start: float, end: float, step: float, deadline: float,
                 max_body_bytes: int, budget: float) -> tuple[list[tuple[dict[str, str], float, float]], int]:
    """One bounded range query (see :mod:`kubebook.capacity.promhttp`): its finite points and the skipped count."""
    from kubebook.capacity import promhttp

    status, body = promhttp.get(f"{url.rstrip('/')}/api/v1/query_range",
                                {"query": query, "start": start, "end": end, "step": step},
                                deadline_seconds=deadline, max_body_bytes=max_body_bytes, budget_seconds=budget)
    return promhttp.matrix(url, promhttp.document(url, status, body), start, end, step)


def from_prometheus(url: str, cluster: Any | None = None, hours: float = 24.0, step_seconds: float = 300.0,
                    end: float | None = None, inv: Inventory | None = None, deadline_seconds: float = 120.0,
                    max_body_bytes: int = 64 * 2**20) -> Any:
    """``samples`` for the last ``hours`` from a Prometheus HTTP API, joined with the inventory.

    Both queries share one ``deadline_seconds``; each answer is at most ``max_body_bytes``. NaN and
    Inf points (Prometheus' answer to a division by zero) are skipped and counted in
    ``frame.attrs["values_skipped"]``.
    """
    import pandas as pd

    if not 0 < hours <= 24 * 400 or not 0 < step_seconds <= 86400 or hours * 3600 / step_seconds > 11000:
        raise ParameterError(f"hours ({hours:g}) and step_seconds ({step_seconds:g}) must be positive, hours at "
                             "most 9600, step at most 86400, and at most 11,000 points per series (Prometheus' limit)")
    if not 0 < deadline_seconds <= 3600 or max_body_bytes < 1024:
        raise ParameterError("deadline_seconds must be in (0, 3600] and max_body_bytes at least 1024")
    if not url.startswith(("http://", "https://")):
        raise ParameterError(f"Prometheus URL {url!r} must start with http:// or https://")
    inv = inv or (inventory(cluster) if cluster is not None else Inventory())
    end = end or time.time()
    start = end - hours * 3600
    ends = time.monotonic() + deadline_seconds
    values: dict[tuple[Any, tuple[str, str, str]], list[float]] = {}
    skipped = 0
    for index, query in enumerate((CPU_QUERY, MEMORY_QUERY)):
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise ClusterError(f"Prometheus at {url} did not finish within {deadline_seconds:g} s")
        points, dropped = _query_range(url, query, start, end, step_seconds, remaining, max_body_bytes,
                                      deadline_seconds)
        skipped += dropped
        for labels, stamp, value in points:
            key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            values.setdefault((stamp, key), [float("nan"), float("nan")])[index] = value
    rows = [_sample_row(pd.Timestamp(stamp, unit="s", tz="UTC"), key, inv, cpu, memory)
            for (stamp, key), (cpu, memory) in values.items() if cpu == cpu and memory == memory]
    frame = pd.DataFrame(rows)
    frame.attrs["values_skipped"] = skipped
    return frame


def series_from_samples(samples: Any, inv: Inventory) -> Any:
    """``series`` rows per pool and ``*`` from ``samples``: capacity from the inventory's nodes."""
    import pandas as pd

    capacity = inv.pool_capacity()
    if samples is None or len(samples) == 0 or not capacity:
        return pd.DataFrame(columns=["timestamp", "pool", "resource", "basis", "capacity", "used"])
    known = samples["pool"].isin(list(capacity))
    frame = samples if known.all() else samples[known]
    per_pool = frame.groupby(["timestamp", "pool"], observed=True).agg(
        cpu_usage=("cpu_cores", "sum"), memory_usage=("memory_bytes", "sum"),
        cpu_requests=("cpu_request", "sum"), memory_requests=("memory_request", "sum"),
        pods_requests=("pod", "nunique")).reset_index()
    per_pool["pool"] = per_pool["pool"].astype(str)
    total = per_pool.drop(columns=["pool"]).groupby("timestamp").sum().reset_index()  # a pod is in one pool
    total["pool"] = ALL_POOLS
    pools = {**capacity, ALL_POOLS: {r: sum(c[r] for c in capacity.values()) for r in ("cpu", "memory", "pods")}}
    rows = []
    for grouped in (per_pool, total):
        for column, resource, basis in (("cpu_usage", "cpu", "usage"), ("memory_usage", "memory", "usage"),
                                        ("cpu_requests", "cpu", "requests"), ("memory_requests", "memory", "requests"),
                                        ("pods_requests", "pods", "requests")):
            rows.append(pd.DataFrame({"timestamp": grouped["timestamp"], "pool": grouped["pool"],
                                      "resource": resource, "basis": basis,
                                      "capacity": grouped["pool"].map({p: c[resource] for p, c in pools.items()}),
                                      "used": grouped[column].astype(float)}))
    return pd.concat(rows, ignore_index=True)


def requests_series(inv: Inventory, timestamp: Any) -> Any:
    """``series`` rows on the requests basis from the inventory alone (no usage source needed)."""
    import pandas as pd

    rows = [_sample_row(timestamp, key, inv, float("nan"), float("nan")) for key in inv.containers]
    if not rows:
        return pd.DataFrame(columns=["timestamp", "pool", "resource", "basis", "capacity", "used"])
    series = series_from_samples(pd.DataFrame(rows), inv)
    return series[series["basis"] == "requests"].reset_index(drop=True)


def collect(cluster: Any, store: Any, prometheus: str = "", hours: float = 24.0, step_seconds: float = 300.0,
            deadline_seconds: float = 120.0, max_body_bytes: int = 64 * 2**20) -> dict:
    """One collection into ``store``: Prometheus when a URL is given, else metrics.k8s.io, else requests only.

    Without a usage source (metrics.k8s.io not served, no Prometheus) the requests-basis series are
    still appended - requests need only the inventory - and ``source`` says that usage is missing.
    """
    import pandas as pd

    inv = inventory(cluster)
    now = pd.Timestamp(time.time(), unit="s", tz="UTC").floor("s")
    if prometheus:
        samples = from_prometheus(prometheus, hours=hours, step_seconds=step_seconds, inv=inv,
                                  deadline_seconds=deadline_seconds, max_body_bytes=max_body_bytes)
        source = prometheus
        series = series_from_samples(samples, inv)
    else:
        try:
            samples, source = from_metrics_api(cluster, inv), "metrics.k8s.io"
            series = series_from_samples(samples, inv)
        except ClusterError:
            samples, source = pd.DataFrame(), "requests only (metrics.k8s.io is not served)"
            series = requests_series(inv, now)
    store.append("samples", samples)
    store.append("series", series)
    pools = inv.pool_capacity()
    owner = getattr(store, "identity", None)
    return {"store": str(store.root), "cluster": owner.fingerprint if owner else None, "source": source,
            "values_skipped": int(samples.attrs.get("values_skipped", 0)) if hasattr(samples, "attrs") else 0,
            "samples": len(samples), "series": len(series),
            "pools": len(pools), "nodes": len(inv.nodes), "containers": len(inv.containers), "collected_at": str(now)}
