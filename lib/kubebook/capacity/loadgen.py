"""A load generator for the local cluster: workloads whose emulated usage follows a known profile.

KWOK pods use no CPU or memory; with the metrics pipeline (``kubebook cluster up --with-metrics``) KWOK
reports for each pod what its annotations ``kwok.x-k8s.io/usage-cpu`` and ``kwok.x-k8s.io/usage-memory``
say. This module creates Deployments on the KWOK nodes and, at each ``tick``, writes those annotations from
a :class:`~kubebook.capacity.synthetic.Profile` (trend + daily and weekly seasonality + noise) evaluated at
a simulated time that runs ``speed`` times faster than the clock, so a day of seasonality passes in minutes.
One workload leaks memory: its usage grows each tick until it reaches its memory limit; then the generator
plays the kernel and the kubelet (KWOK has no process to kill): it writes the container status a real OOM
kill leaves (``lastState.terminated.reason: OOMKilled``, exit code 137, ``restartCount`` + 1), which the
collector reads, and the container starts leaking again from its base. Everything goes through
:mod:`kubebook.cluster`.

The Deployments carry what the prod baseline (``manifests/base/admission-policies.yaml``) asks of
every workload, so the generator runs on a provisioned cluster: labels ``team`` and ``app`` on the
pod template (kubebook-required-labels), CPU and memory requests *and limits* on every container
(kubebook-resources; the CPU limit is twice the request, above the profile's peak), a pinned image
from an allow-listed registry, and a restricted-compliant security context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kubebook.capacity.synthetic import Profile
from kubebook.errors import ParameterError

USAGE_CPU = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY = "kwok.x-k8s.io/usage-memory"
LABEL = "kubebook.io/loadgen"
MIB = 2**20
# pause 3.10 by digest (images.digest-pinned); KWOK never pulls it, the baseline's allow-list admits it
PAUSE_IMAGE = "registry.k8s.io/pause:3.10@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a"


@dataclass(frozen=True)
class Workload:
    """One generated Deployment: requests, limits and the usage profiles (cores, MiB)."""

    name: str
    replicas: int
    cpu_request: float
    memory_request_mib: int
    memory_limit_mib: int
    cpu: Profile
    memory: Profile
    leaks_mib_per_tick: float = 0.0
    team: str = "load"

    @property
    def cpu_limit(self) -> float:
        """Twice the request: the generated usage (typically a third to a half of the request) stays under it."""
        return round(2 * self.cpu_request, 3)


@dataclass
class LoadState:
    """What the generator remembers between ticks: the leaker's current size and the kills so far."""

    leaked_mib: dict[str, float] = field(default_factory=dict)
    oom_kills: int = 0
    ticks: int = 0


def plan(count: int = 4, seed: int = 1) -> list[Workload]:
    """``count`` seasonal workloads plus one leaker, over-requested like real ones (2-3x typical usage)."""
    if not 1 <= count <= 200:
        raise ParameterError(f"count must be 1..200, got {count}")
    rng = np.random.default_rng(seed)
    workloads = []
    for index in range(count):
        cpu = float(rng.uniform(0.05, 0.5))
        memory = float(rng.uniform(64, 512))
        workloads.append(Workload(
            f"load-{index}", 2, round(cpu * float(rng.uniform(2, 3)), 3), int(memory * 2.5), int(memory * 3),
            Profile(cpu, cpu * 0.05, cpu * 0.4, cpu * 0.1, cpu * 0.05), Profile(memory, memory * 0.01, memory * 0.1,
                                                                            0, memory * 0.02)))
    workloads.append(Workload("leaker", 1, 0.05, 128, 256, Profile(0.05, 0), Profile(64, 0), leaks_mib_per_tick=16))
    return workloads


def manifest(workload: Workload, namespace: str) -> dict[str, Any]:
    """The Deployment, scheduled onto KWOK's workload pool, Pod Security restricted-compliant."""
    labels = {"app": workload.name, LABEL: "true", "team": workload.team}
    container = {
        "name": "main", "image": PAUSE_IMAGE, "imagePullPolicy": "Always",
        "resources": {"requests": {"cpu": f"{int(workload.cpu_request * 1000)}m",
                                   "memory": f"{workload.memory_request_mib}Mi", "ephemeral-storage": "16Mi"},
                      "limits": {"cpu": f"{int(workload.cpu_limit * 1000)}m",
                                 "memory": f"{workload.memory_limit_mib}Mi", "ephemeral-storage": "64Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65532,
                            "runAsGroup": 65532,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
                            "readOnlyRootFilesystem": True}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": workload.name, "namespace": namespace, "labels": labels},
            "spec": {"replicas": workload.replicas, "selector": {"matchLabels": {"app": workload.name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"nodeSelector": {"type": "kwok", "kubebook.io/pool": "workload"},
                                           "automountServiceAccountToken": False, "containers": [container]}}}}


def usage(workload: Workload, simulated_seconds: float, state: LoadState, rng: np.random.Generator) -> tuple[str, str]:
    """The two annotation values for one pod of ``workload`` at the simulated time."""
    cpu = float(workload.cpu.sample(np.array([simulated_seconds]), rng)[0])
    if workload.leaks_mib_per_tick:
        memory = workload.memory.base + state.leaked_mib.get(workload.name, 0.0)
    else:
        memory = float(workload.memory.sample(np.array([simulated_seconds]), rng)[0])
    return f"{max(1, round(cpu * 1000))}m", f"{max(1, round(memory))}Mi"


def namespace_objects(namespace: str) -> list[dict[str, Any]]:
    """The namespace as the product's own audit wants a workload namespace: Pod Security restricted enforced,
    default-deny in both directions (the generated pods talk to nobody) and no token in the default account.

    The load runs on the cluster ``make run`` provisions and audits, so what kubebook itself creates there
    must not lower the score it just printed."""
    labels = {LABEL: "true", "pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest",
              "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "kubebook-default-deny", "namespace": namespace, "labels": {LABEL: "true"}},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace},
         "automountServiceAccountToken": False},
    ]


def disruption_budget(workload: Workload, namespace: str) -> dict[str, Any]:
    """At most one pod of a replicated workload down at a time during a drain (workloads.disruption-budget)."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": workload.name, "namespace": namespace, "labels": {LABEL: "true"}},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": workload.name}}}}


def apply(cluster: Any, namespace: str, workloads: list[Workload]) -> None:
    """Create or update the namespace, its policies and the Deployments (server-side apply).

    Probes are left out on purpose: KWOK runs no process to probe (images.probes is unscored)."""
    for obj in namespace_objects(namespace):
        cluster.apply_object(obj, field_manager="kubebook-loadgen")
    for workload in workloads:
        cluster.apply_object(manifest(workload, namespace), field_manager="kubebook-loadgen")
        if workload.replicas > 1:
            cluster.apply_object(disruption_budget(workload, namespace), field_manager="kubebook-loadgen")


def _oom_kill(cluster: Any, namespace: str, pod: dict[str, Any]) -> None:
    """What the kubelet reports after the kernel OOM-killed the container: lastState OOMKilled, one more restart."""
    import time

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    statuses = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        started = ((status.get("state") or {}).get("running") or {}).get("startedAt", now)
        statuses.append({**status, "restartCount": int(status.get("restartCount", 0)) + 1,
                         "state": {"running": {"startedAt": now}},
                         "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": started,
                                                      "finishedAt": now}}})
    cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}/status",
                    content_type="application/strategic-merge-patch+json",
                    body={"status": {"containerStatuses": statuses}})


def tick(cluster: Any, namespace: str, workloads: list[Workload], state: LoadState, simulated_seconds: float,
         seed: int = 0) -> dict[str, Any]:
    """Write every pod's usage annotations for this moment; grow the leaker and 'OOM-kill' it at its limit."""
    rng = np.random.default_rng(seed + state.ticks)
    by_name = {w.name: w for w in workloads}
    written = killed = 0
    for pod in cluster.list_path(f"/api/v1/namespaces/{namespace}/pods", label_selector=f"{LABEL}=true"):
        workload = by_name.get((pod["metadata"].get("labels") or {}).get("app", ""))
        if workload is None or pod["metadata"].get("deletionTimestamp"):
            continue
        if workload.leaks_mib_per_tick:
            size = workload.memory.base + state.leaked_mib.get(workload.name, 0.0)
            if size >= workload.memory_limit_mib:
                _oom_kill(cluster, namespace, pod)
                state.leaked_mib[workload.name] = 0.0
                state.oom_kills += 1
                killed += 1
        cpu, memory = usage(workload, simulated_seconds, state, rng)
        cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}",
                        content_type="application/merge-patch+json",
                        body={"metadata": {"annotations": {USAGE_CPU: cpu, USAGE_MEMORY: memory}}})
        written += 1
    for workload in workloads:
        if workload.leaks_mib_per_tick:
            state.leaked_mib[workload.name] = state.leaked_mib.get(workload.name, 0.0) + workload.leaks_mib_per_tick
    state.ticks += 1
    return {"pods": written, "oom_kills": killed, "tick": state.ticks}
