"""Data behind the cluster-overview notebook: component health, nodes, pods and namespaces.

Works on any cluster through the API (``/readyz?verbose``); when the kubeconfig is
one of kubebook's local clusters it also reports each control-plane process.
Returns rows; :mod:`kubebook.views.cluster` draws them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kubebook import inventory
from kubebook.cluster import Cluster
from kubebook.localcluster import name_for_kubeconfig


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
