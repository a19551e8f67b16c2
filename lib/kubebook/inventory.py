"""One paginated list per kind, turned into typed rows and pandas frames.

Every engine (overview, audit, capacity) reads the cluster through here, so a
kind is listed once per run and the shapes of the rows are the same everywhere.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kubernetes.utils import parse_quantity

from kubebook.cluster import Cluster

PSA_PREFIX = "pod-security.kubernetes.io/"


def _quantity(value: str | None) -> float:
    return float(parse_quantity(value)) if value else 0.0


def _ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def nodes_frame(cluster: Cluster) -> pd.DataFrame:
    """Nodes with pool, readiness, allocatable CPU (cores), memory (GiB) and pods."""
    rows = []
    for node in cluster.list_all(cluster.core.list_node):
        labels = node.metadata.labels or {}
        alloc = node.status.allocatable or {}
        rows.append({
            "name": node.metadata.name,
            "pool": labels.get("kubebook.io/pool", labels.get("type", "")),
            "ready": _ready(node),
            "cpu": _quantity(alloc.get("cpu")),
            "memory_gib": round(_quantity(alloc.get("memory")) / 2**30, 2),
            "pods": int(_quantity(alloc.get("pods"))),
            "taints": ",".join(f"{t.key}={t.value or ''}:{t.effect}" for t in (node.spec.taints or [])),
        })
    columns = ["name", "pool", "ready", "cpu", "memory_gib", "pods", "taints"]
    return pd.DataFrame(rows, columns=columns)


def namespaces_frame(cluster: Cluster) -> pd.DataFrame:
    """Namespaces with phase and their Pod Security admission labels (enforce/audit/warn)."""
    rows = []
    for ns in cluster.list_all(cluster.core.list_namespace):
        labels = ns.metadata.labels or {}
        rows.append({
            "name": ns.metadata.name,
            "phase": ns.status.phase,
            "enforce": labels.get(PSA_PREFIX + "enforce", ""),
            "audit": labels.get(PSA_PREFIX + "audit", ""),
            "warn": labels.get(PSA_PREFIX + "warn", ""),
        })
    return pd.DataFrame(rows, columns=["name", "phase", "enforce", "audit", "warn"])


def pods_frame(cluster: Cluster) -> pd.DataFrame:
    """Pods with node, phase and summed container requests (CPU cores, memory GiB)."""
    rows = []
    for pod in cluster.list_all(cluster.core.list_pod_for_all_namespaces):
        cpu = mem = 0.0
        for container in pod.spec.containers or []:
            requests = (container.resources.requests or {}) if container.resources else {}
            cpu += _quantity(requests.get("cpu"))
            mem += _quantity(requests.get("memory"))
        rows.append({
            "namespace": pod.metadata.namespace,
            "name": pod.metadata.name,
            "node": pod.spec.node_name or "",
            "phase": pod.status.phase if pod.status else "",
            "cpu_request": cpu,
            "memory_request_gib": round(mem / 2**30, 3),
        })
    columns = ["namespace", "name", "node", "phase", "cpu_request", "memory_request_gib"]
    return pd.DataFrame(rows, columns=columns)
