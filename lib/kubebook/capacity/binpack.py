"""How many nodes each pool needs: a bin-packing simulation of requests onto the pools' node shapes.

It reasons as the Cluster Autoscaler does, on requests (not usage): a pod can go to a pool only
if it tolerates the pool's NoSchedule/NoExecute taints and its nodeSelector matches the pool's
labels; pods are placed first-fit-decreasing (largest dominant share first) on the pool they run
in now when they may, else on the first eligible pool; then the autoscaler's scale-down rule is
applied: a node whose requested share (the larger of CPU and memory) is below ``threshold``
(50 %, ``--scale-down-utilization-threshold``) is removed when all its pods fit on the other
nodes. The same packing with requests scaled by the forecast growth gives the forecast need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubebook.errors import ParameterError


@dataclass(frozen=True)
class PoolShape:
    """A node pool: one node's allocatable, its taints and labels, and how many nodes it has now."""

    name: str
    cpu: float
    memory: float
    pods: int = 110
    nodes: int = 0
    taints: tuple[tuple[str, str, str], ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodDemand:
    """What one pod requests and where it may run; ``count`` identical replicas."""

    name: str
    cpu: float
    memory: float
    count: int = 1
    pool_now: str = ""
    tolerations: tuple[dict[str, str], ...] = ()
    node_selector: dict[str, str] = field(default_factory=dict)


@dataclass
class PoolPlan:
    """The outcome for one pool."""

    pool: str
    nodes_now: int
    nodes_needed: int
    nodes_needed_forecast: int | None
    cpu_requested: float
    memory_requested: float
    pods: int
    scale_down_removed: int
    utilization: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tolerates(taint: tuple[str, str, str], tolerations: tuple[dict[str, str], ...]) -> bool:
    """Whether a taint (key, value, effect) is tolerated, by the Kubernetes matching rules."""
    key, value, effect = taint
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != effect:
            continue
        operator = toleration.get("operator", "Equal")
        if operator == "Exists" and (not toleration.get("key") or toleration.get("key") == key):
            return True
        if operator == "Equal" and toleration.get("key") == key and toleration.get("value", "") == value:
            return True
    return False


def eligible(pod: PodDemand, pool: PoolShape) -> bool:
    """Whether ``pod`` may be scheduled on ``pool``'s nodes at all."""
    if any(pool.labels.get(k) != v for k, v in pod.node_selector.items()):
        return False
    hard = [t for t in pool.taints if t[2] in ("NoSchedule", "NoExecute")]
    if not all(tolerates(t, pod.tolerations) for t in hard):
        return False
    return pod.cpu <= pool.cpu and pod.memory <= pool.memory and pool.pods >= 1


class _Node:
    __slots__ = ("cpu", "members", "memory", "pods")

    def __init__(self) -> None:
        self.cpu, self.memory, self.pods, self.members = 0.0, 0.0, 0, []

    def fits(self, pod: PodDemand, shape: PoolShape) -> bool:
        return (self.cpu + pod.cpu <= shape.cpu + 1e-9 and self.memory + pod.memory <= shape.memory + 1e-9
                and self.pods + 1 <= shape.pods)

    def add(self, pod: PodDemand) -> None:
        self.cpu += pod.cpu
        self.memory += pod.memory
        self.pods += 1
        self.members.append(pod)

    def share(self, shape: PoolShape) -> float:
        return max(self.cpu / shape.cpu if shape.cpu else 0.0, self.memory / shape.memory if shape.memory else 0.0)


def _pack(shape: PoolShape, pods: list[PodDemand]) -> list[_Node]:
    nodes: list[_Node] = []
    for pod in sorted(pods, key=lambda p: max(p.cpu / shape.cpu, p.memory / shape.memory), reverse=True):
        target = next((n for n in nodes if n.fits(pod, shape)), None)
        if target is None:
            target = _Node()
            nodes.append(target)
        target.add(pod)
    return nodes


def _scale_down(shape: PoolShape, nodes: list[_Node], threshold: float) -> tuple[list[_Node], int]:
    removed = 0
    for candidate in sorted(nodes, key=lambda n: n.share(shape)):
        if candidate.share(shape) >= threshold or len(nodes) <= 1:
            continue
        others = [n for n in nodes if n is not candidate]
        trial = [(_copy(n)) for n in others]
        if all(_place(pod, trial, shape) for pod in candidate.members):
            nodes, removed = trial, removed + 1
    return nodes, removed


def _copy(node: _Node) -> _Node:
    twin = _Node()
    for pod in node.members:
        twin.add(pod)
    return twin


def _place(pod: PodDemand, nodes: list[_Node], shape: PoolShape) -> bool:
    target = next((n for n in nodes if n.fits(pod, shape)), None)
    if target is None:
        return False
    target.add(pod)
    return True


def assign(pools: list[PoolShape], pods: list[PodDemand]) -> tuple[dict[str, list[PodDemand]], list[str]]:
    """Each replica to a pool (its current one when eligible, else the first eligible); unschedulable names."""
    by_pool: dict[str, list[PodDemand]] = {p.name: [] for p in pools}
    unschedulable = []
    for pod in pods:
        if pod.count < 0 or pod.cpu < 0 or pod.memory < 0:
            raise ParameterError(f"pod demand {pod.name!r} has a negative request or count")
        choices = [p for p in pools if eligible(pod, p)]
        chosen = next((p for p in choices if p.name == pod.pool_now), choices[0] if choices else None)
        if chosen is None:
            unschedulable.append(pod.name)
            continue
        by_pool[chosen.name].extend([pod] * pod.count)
    return by_pool, unschedulable


def recommend_nodes(pools: list[PoolShape], pods: list[PodDemand], growth: dict[str, float] | None = None,
                    threshold: float = 0.5) -> dict[str, Any]:
    """Nodes needed per pool now and, with ``growth`` (``{"cpu": 1.2, "memory": 1.1}``), at the forecast."""
    if not pools:
        raise ParameterError("no node pools to pack onto")
    if not 0 < threshold <= 1:
        raise ParameterError(f"scale-down threshold must be in (0, 1], got {threshold}")
    by_pool, unschedulable = assign(pools, pods)
    plans = []
    for shape in pools:
        members = by_pool[shape.name]
        nodes, removed = _scale_down(shape, _pack(shape, members), threshold)
        forecast = None
        if growth:
            grown = [PodDemand(p.name, p.cpu * growth.get("cpu", 1.0), p.memory * growth.get("memory", 1.0))
                     for p in members]
            forecast = len(_scale_down(shape, _pack(shape, grown), threshold)[0])
        cpu = sum(p.cpu for p in members)
        memory = sum(p.memory for p in members)
        capacity = max(len(nodes), 1)
        plans.append(PoolPlan(shape.name, shape.nodes, len(nodes), forecast, round(cpu, 3), memory, len(members),
                              removed, round(max(cpu / (capacity * shape.cpu), memory / (capacity * shape.memory)), 4)))
    return {"pools": [p.to_dict() for p in plans], "unschedulable": unschedulable, "threshold": threshold}
