"""The cluster's nodes, namespaces and pods as plain rows: one raw-JSON paginated list per kind.

The shared inventory for the engines that read these kinds as *rows* (cluster-info,
the cluster overview, capacity): each list goes through :meth:`Cluster.list_path`
(no model deserialization), and every engine gets the same row shapes. Rows are
NamedTuples; :mod:`kubebook.views.cluster` turns them into tables. (The audit keeps
whole objects in its own :class:`kubebook.audit.AuditInventory`, because its checks
read every field.)
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kubebook.cluster import Cluster, quantity

PSA_PREFIX = "pod-security.kubernetes.io/"


class Node(NamedTuple):
    name: str
    pool: str
    ready: bool
    cpu: float  # allocatable cores
    memory_gib: float  # allocatable memory
    pods: int  # allocatable pod slots
    taints: str  # key=value:effect, comma-separated
    runtime: str = ""  # "real" (a kubelet runs containers) or "simulated" (a KWOK node: Running without a process)


class Namespace(NamedTuple):
    name: str
    phase: str
    enforce: str  # Pod Security admission labels; empty: the cluster default applies
    audit: str
    warn: str


class Pod(NamedTuple):
    namespace: str
    name: str
    node: str
    phase: str
    cpu_request: float  # summed over containers, cores
    memory_request_gib: float


def _ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def nodes(cluster: Cluster) -> list[Node]:
    """Nodes with pool (``kubebook.io/pool`` label, else ``type``), readiness and allocatable resources."""
    rows = []
    for node in cluster.list_path("/api/v1/nodes"):
        labels = (node.get("metadata") or {}).get("labels") or {}
        alloc = (node.get("status") or {}).get("allocatable") or {}
        taints = (node.get("spec") or {}).get("taints") or []
        rows.append(Node(
            node["metadata"]["name"], labels.get("kubebook.io/pool", labels.get("type", "")), _ready(node),
            quantity(alloc.get("cpu")), round(quantity(alloc.get("memory")) / 2**30, 2),
            int(quantity(alloc.get("pods"))),
            ",".join(f"{t.get('key')}={t.get('value') or ''}:{t.get('effect')}" for t in taints),
            "simulated" if _simulated(node) else "real"))
    return rows


def _simulated(node: dict[str, Any]) -> bool:
    """A KWOK node: KWOK's own annotation, or the ``type=kwok`` label the local cluster's KWOK manages."""
    meta = node.get("metadata") or {}
    return ((meta.get("annotations") or {}).get("kwok.x-k8s.io/node") == "fake"
            or (meta.get("labels") or {}).get("type") == "kwok")


def namespaces(cluster: Cluster) -> list[Namespace]:
    """Namespaces with phase and their Pod Security admission labels (enforce/audit/warn)."""
    rows = []
    for ns in cluster.list_path("/api/v1/namespaces"):
        labels = (ns.get("metadata") or {}).get("labels") or {}
        rows.append(Namespace(ns["metadata"]["name"], (ns.get("status") or {}).get("phase", ""),
                              labels.get(PSA_PREFIX + "enforce", ""), labels.get(PSA_PREFIX + "audit", ""),
                              labels.get(PSA_PREFIX + "warn", "")))
    return rows


def pods(cluster: Cluster) -> list[Pod]:
    """Pods with node, phase and summed container requests (CPU cores, memory GiB)."""
    rows = []
    for pod in cluster.list_path("/api/v1/pods"):
        cpu = mem = 0.0
        for container in (pod.get("spec") or {}).get("containers") or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            cpu += quantity(requests.get("cpu"))
            mem += quantity(requests.get("memory"))
        meta = pod["metadata"]
        rows.append(Pod(meta.get("namespace", ""), meta["name"], (pod.get("spec") or {}).get("nodeName") or "",
                        (pod.get("status") or {}).get("phase", ""), cpu, round(mem / 2**30, 3)))
    return rows


class ClusterInfo(NamedTuple):
    """What the cluster-info runbook shows: the server's version, its nodes and its namespaces."""

    server: str
    version: dict[str, Any]
    nodes: list[Node]
    namespaces: list[Namespace]

    @property
    def headline(self) -> Any:
        """cluster-info's headline (a :class:`kubebook.results.Headline`): the version, Ready nodes of all
        (amber unless every node is Ready), namespaces without a Pod Security enforce label."""
        from kubebook.results import GOOD, WARN, Headline

        ready = sum(1 for n in self.nodes if n.ready)
        unlabelled = sum(1 for ns in self.namespaces if not ns.enforce)
        return Headline("API server " + self.server, str(self.version.get("gitVersion", "")),
                        tone=GOOD if ready == len(self.nodes) else WARN,
                        change=f"{ready}/{len(self.nodes)} node(s) Ready, {len(self.namespaces)} namespace(s)",
                        note=f"{unlabelled} namespace(s) without a Pod Security enforce label" if unlabelled else "")


def cluster_info(cluster: Cluster) -> ClusterInfo:
    """Which API server answers, its version, its nodes and its namespaces (one use case for the runbook)."""
    return ClusterInfo(cluster.server, cluster.version(), nodes(cluster), namespaces(cluster))
