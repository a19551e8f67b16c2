"""Data behind the cluster-overview notebook: component health, nodes, pods and namespaces.

Works on any cluster through the API (``/readyz?verbose``); when the kubeconfig is
one of kubebook's local clusters it also reports each control-plane process.
Returns rows; :mod:`kubebook.views.cluster` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from kubebook import inventory
from kubebook.cluster import Cluster
from kubebook.localcluster import name_for_kubeconfig
from kubebook.results import BAD, GOOD, Headline


class Component(NamedTuple):
    component: str
    pid: int | None  # the process id on a local cluster; None when seen through the API only
    alive: bool
    healthy: bool


def readyz_checks(cluster: Cluster) -> list[tuple[str, bool]]:
    """Each check the API server reports in ``/readyz?verbose`` with ok/failed."""
    rows = []
    for line in cluster.get_text("/readyz", query={"verbose": "true"}).splitlines():
        line = line.strip()
        if line.startswith("[+]") or line.startswith("[-]"):
            rows.append((line[3:].split(" ", 1)[0], line.startswith("[+]")))
    return rows


def components(cluster: Cluster) -> list[Component]:
    """Control-plane components with their health: processes for a local cluster, else API checks."""
    name = name_for_kubeconfig(cluster.kubeconfig)
    if name is not None:
        from kubebook.localcluster import LocalCluster

        status = LocalCluster(name=name).status()
        return [Component(n, info["pid"], bool(info["alive"]), bool(info["healthy"]))
                for n, info in sorted(status["components"].items())]
    return [Component(f"kube-apiserver:{check}", None, True, ok) for check, ok in readyz_checks(cluster)]


def overview(cluster: Cluster) -> dict[str, Any]:
    """Everything the overview notebook shows, read with one list per kind."""
    return {"components": components(cluster), "nodes": inventory.nodes(cluster), "pods": inventory.pods(cluster),
            "namespaces": inventory.namespaces(cluster)}


# --- the cluster-overview use case: frames and the headline decided here, drawn by kubebook.views.cluster ---

NODE_COLUMNS = list(inventory.Node._fields)
POD_COLUMNS = list(inventory.Pod._fields)
NAMESPACE_COLUMNS = list(inventory.Namespace._fields)


def frame(rows: Any, columns: list[str]) -> Any:
    """NamedTuple rows as a DataFrame with these columns (empty, with the columns, when there are none)."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(columns))


def pools_frame(nodes: Any) -> Any:
    """Nodes grouped by pool and runtime (real or simulated): count, Ready count, allocatable CPU and memory."""
    import pandas as pd

    if nodes.empty:
        return pd.DataFrame(columns=["pool", "runtime", "nodes", "ready", "cpu", "memory_gib"])
    grouped = nodes.groupby(["pool", "runtime"], dropna=False).agg(
        nodes=("name", "count"), ready=("ready", "sum"), cpu=("cpu", "sum"), memory_gib=("memory_gib", "sum"))
    return grouped.reset_index()


def capacity_frame(nodes: Any, pods: Any) -> Any:
    """Per node: allocatable CPU/memory and the sum of requests of its non-terminated pods."""
    active = pods[~pods["phase"].isin(["Succeeded", "Failed"])] if not pods.empty else pods
    requested = active.groupby("node").agg(cpu_requested=("cpu_request", "sum"),
                                           memory_requested_gib=("memory_request_gib", "sum"))
    table = nodes.set_index("name")[["pool", "cpu", "memory_gib"]].join(requested, how="left").fillna(
        {"cpu_requested": 0.0, "memory_requested_gib": 0.0})
    return table.reset_index().rename(columns={"index": "name"})


def overview_headline(components: list[Component], nodes: list[inventory.Node],
                      pods: list[inventory.Pod]) -> Headline:
    """Unhealthy components, Ready nodes, CPU requested of allocatable; green only when all is healthy and Ready."""
    unhealthy = [c.component for c in components if not c.healthy]
    ready = sum(1 for n in nodes if n.ready)
    cpu = sum(n.cpu for n in nodes)
    requested = sum(p.cpu_request for p in pods if p.phase not in ("Succeeded", "Failed"))
    real = sum(1 for n in nodes if n.runtime == "real")
    return Headline("control plane", "healthy" if not unhealthy else f"{len(unhealthy)} unhealthy",
                    tone=GOOD if not unhealthy and ready == len(nodes) else BAD,
                    change=f"{ready}/{len(nodes)} node(s) Ready ({real} real, {len(nodes) - real} simulated); "
                           f"CPU requested {requested:g} of {cpu:g} cores",
                    note=("unhealthy: " + ", ".join(unhealthy)) if unhealthy else "")


@dataclass
class OverviewReport:
    """The cluster overview: component health, the rows read, their frames, pools, capacity and the headline."""

    components: list[Component]
    nodes: list[inventory.Node]
    pods: list[inventory.Pod]
    namespaces: list[inventory.Namespace]
    node_frame: Any
    pools: Any
    capacity: Any
    headline: Headline

    def records(self) -> dict[str, Any]:
        return {"components_unhealthy": sum(not c.healthy for c in self.components),
                "nodes_ready": sum(n.ready for n in self.nodes)}


def overview_report(found: dict[str, Any]) -> OverviewReport:
    """The overview of rows already read (:func:`overview`)."""
    nodes = frame(found["nodes"], NODE_COLUMNS)
    pods = frame(found["pods"], POD_COLUMNS)
    return OverviewReport(found["components"], found["nodes"], found["pods"], found["namespaces"], nodes,
                          pools_frame(nodes), capacity_frame(nodes, pods),
                          overview_headline(found["components"], found["nodes"], found["pods"]))


def cluster_overview(cluster: Cluster) -> OverviewReport:
    """cluster-overview: everything it shows, read with one list per kind, composed here."""
    return overview_report(overview(cluster))
