"""Data behind the cluster-overview notebook: component health, pools, capacity against requests.

Works on any cluster through the API (``/readyz?verbose``); when the kubeconfig is
one of kubebook's local clusters it also reports each control-plane process.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from kubebook import inventory
from kubebook.cluster import Cluster, call
from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.paths import data_dir


def local_cluster_for(kubeconfig: Path | None) -> LocalCluster | None:
    """The local cluster whose admin kubeconfig this is, if any."""
    if kubeconfig is None:
        return None
    path = Path(kubeconfig).resolve()
    clusters = (data_dir() / "clusters").resolve()
    if path.name == "kubeconfig" and path.parent.parent == clusters:
        return LocalCluster(name=path.parent.name, root=path.parent)
    return None


def readyz_checks(cluster: Cluster) -> pd.DataFrame:
    """Each check the API server reports in ``/readyz?verbose`` with ok/failed."""
    request = cluster.api_client.param_serialize(method="GET", resource_path="/readyz",
                                                 query_params=[("verbose", "true")], auth_settings=["BearerToken"])
    response = call(cluster.api_client.call_api, *request, server=cluster.server)
    text = response.read().decode()
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[+]") or line.startswith("[-]"):
            name = line[3:].split(" ", 1)[0]
            rows.append({"check": name, "ok": line.startswith("[+]")})
    return pd.DataFrame(rows, columns=["check", "ok"])


def components_frame(cluster: Cluster) -> pd.DataFrame:
    """Control-plane components with their health: processes for a local cluster, else API checks."""
    local = local_cluster_for(cluster.kubeconfig)
    if local is not None:
        status = local.status()
        rows = [{"component": name, "pid": info["pid"], "alive": info["alive"], "healthy": info["healthy"]}
                for name, info in sorted(status["components"].items())]
        return pd.DataFrame(rows, columns=["component", "pid", "alive", "healthy"])
    checks = readyz_checks(cluster)
    return pd.DataFrame({"component": "kube-apiserver:" + checks["check"], "pid": None, "alive": True,
                         "healthy": checks["ok"]})


def pools_frame(nodes: pd.DataFrame) -> pd.DataFrame:
    """Nodes grouped by pool: count, Ready count, allocatable CPU and memory."""
    if nodes.empty:
        return pd.DataFrame(columns=["pool", "nodes", "ready", "cpu", "memory_gib"])
    grouped = nodes.groupby("pool", dropna=False).agg(
        nodes=("name", "count"), ready=("ready", "sum"), cpu=("cpu", "sum"), memory_gib=("memory_gib", "sum"))
    return grouped.reset_index()


def capacity_frame(nodes: pd.DataFrame, pods: pd.DataFrame) -> pd.DataFrame:
    """Per node: allocatable CPU/memory and the sum of requests of its non-terminated pods."""
    active = pods[~pods["phase"].isin(["Succeeded", "Failed"])] if not pods.empty else pods
    requested = active.groupby("node").agg(cpu_requested=("cpu_request", "sum"),
                                           memory_requested_gib=("memory_request_gib", "sum"))
    frame = nodes.set_index("name")[["pool", "cpu", "memory_gib"]].join(requested, how="left").fillna(
        {"cpu_requested": 0.0, "memory_requested_gib": 0.0})
    return frame.reset_index().rename(columns={"index": "name"})


def capacity_figure(capacity: pd.DataFrame) -> go.Figure:
    """Grouped bars: allocatable against requested CPU per node."""
    figure = go.Figure()
    figure.add_bar(name="allocatable CPU", x=capacity["name"], y=capacity["cpu"])
    figure.add_bar(name="requested CPU", x=capacity["name"], y=capacity["cpu_requested"])
    figure.update_layout(barmode="group", title="CPU: allocatable against requested, per node",
                         yaxis_title="cores", xaxis_title="node")
    return figure


def overview(cluster: Cluster) -> dict[str, pd.DataFrame]:
    """Everything the overview notebook shows, read with one list per kind."""
    nodes = inventory.nodes_frame(cluster)
    pods = inventory.pods_frame(cluster)
    return {"components": components_frame(cluster), "nodes": nodes, "pools": pools_frame(nodes),
            "namespaces": inventory.namespaces_frame(cluster), "capacity": capacity_frame(nodes, pods)}
