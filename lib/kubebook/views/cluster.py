"""Tables and charts for cluster-info and the cluster overview: pools, capacity, components, namespaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from kubebook.inventory import Namespace, Node, Pod
from kubebook.views import Html, headline

NODE_COLUMNS = list(Node._fields)
POD_COLUMNS = list(Pod._fields)
NAMESPACE_COLUMNS = list(Namespace._fields)


def frame(rows: Sequence[tuple[Any, ...]], columns: Sequence[str]) -> pd.DataFrame:
    """NamedTuple rows as a DataFrame with these columns (empty, with the columns, when there are none)."""
    return pd.DataFrame(list(rows), columns=list(columns))


def pools_frame(nodes: pd.DataFrame) -> pd.DataFrame:
    """Nodes grouped by pool and runtime (real or simulated): count, Ready count, allocatable CPU and memory."""
    if nodes.empty:
        return pd.DataFrame(columns=["pool", "runtime", "nodes", "ready", "cpu", "memory_gib"])
    grouped = nodes.groupby(["pool", "runtime"], dropna=False).agg(
        nodes=("name", "count"), ready=("ready", "sum"), cpu=("cpu", "sum"), memory_gib=("memory_gib", "sum"))
    return grouped.reset_index()


def capacity_frame(nodes: pd.DataFrame, pods: pd.DataFrame) -> pd.DataFrame:
    """Per node: allocatable CPU/memory and the sum of requests of its non-terminated pods."""
    active = pods[~pods["phase"].isin(["Succeeded", "Failed"])] if not pods.empty else pods
    requested = active.groupby("node").agg(cpu_requested=("cpu_request", "sum"),
                                           memory_requested_gib=("memory_request_gib", "sum"))
    table = nodes.set_index("name")[["pool", "cpu", "memory_gib"]].join(requested, how="left").fillna(
        {"cpu_requested": 0.0, "memory_requested_gib": 0.0})
    return table.reset_index().rename(columns={"index": "name"})


def capacity_figure(capacity: pd.DataFrame) -> Any:
    """Grouped bars: allocatable against requested CPU per node."""
    from kubebook.views import ensure_plotly

    ensure_plotly()
    import plotly.graph_objects as go

    figure = go.Figure()
    figure.add_bar(name="allocatable CPU", x=capacity["name"], y=capacity["cpu"])
    figure.add_bar(name="requested CPU", x=capacity["name"], y=capacity["cpu_requested"])
    figure.update_layout(barmode="group", title="CPU: allocatable against requested, per node",
                         yaxis_title="cores", xaxis_title="node")
    return figure


def cluster_headline(server: str, version: str, nodes: Sequence[Node], namespaces: Sequence[Namespace]) -> Html:
    """cluster-info's headline: the server version, Ready nodes of all, namespaces."""
    ready = sum(1 for n in nodes if n.ready)
    unlabelled = sum(1 for ns in namespaces if not ns.enforce)
    return headline("API server " + server, version, tone="good" if ready == len(nodes) else "warn",
                    change=f"{ready}/{len(nodes)} node(s) Ready, {len(namespaces)} namespace(s)",
                    note=f"{unlabelled} namespace(s) without a Pod Security enforce label" if unlabelled else "")


def overview_headline(components: Sequence[Any], nodes: Sequence[Node], pods: Sequence[Pod]) -> Html:
    """The overview's headline: unhealthy components, Ready nodes, CPU requested of allocatable."""
    unhealthy = [c.component for c in components if not c.healthy]
    ready = sum(1 for n in nodes if n.ready)
    cpu = sum(n.cpu for n in nodes)
    requested = sum(p.cpu_request for p in pods if p.phase not in ("Succeeded", "Failed"))
    value = "healthy" if not unhealthy else f"{len(unhealthy)} unhealthy"
    real = sum(1 for n in nodes if n.runtime == "real")
    return headline("control plane", value, tone="good" if not unhealthy and ready == len(nodes) else "bad",
                    change=f"{ready}/{len(nodes)} node(s) Ready ({real} real, {len(nodes) - real} simulated); "
                           f"CPU requested {requested:g} of {cpu:g} cores",
                    note=("unhealthy: " + ", ".join(unhealthy)) if unhealthy else "")
