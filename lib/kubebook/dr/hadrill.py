"""The HA member-loss drill: lose one etcd member and one apiserver, then quorum, then recover.

On an ha local cluster (3 etcd members, 3 apiservers behind HAProxy):

1. baseline writes;
2. SIGKILL etcd-1 and kube-apiserver-0: writes must keep going through HAProxy;
3. SIGKILL etcd-2 as well: quorum is lost, a write must fail, and the drill says why
   in words (how many members run, what the API server did) instead of a bare 500;
   a cached read and a quorum read show what readers see;
4. recover with ``cluster up`` (which also waits out "storage is (re)initializing")
   and measure how long until the first write goes through;
5. writes again. Every step lands on one timeline.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from kubebook.dr.drill import Progress, Timeline, local_cluster
from kubebook.errors import ClusterError, ParameterError

NAMESPACE = "kubebook-dr-ha"
HAPROXY_SETTLE = 3.0  # seconds: HAProxy checks every 1 s and drops a backend after 2 failures


@dataclass
class HaDrillResult:
    cluster: str
    phases: list[dict[str, Any]]
    quorum_error: str
    reads_without_quorum: dict[str, str]
    recovery_seconds: float
    first_write_after_recovery_seconds: float
    timeline: Timeline
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "passed" if not self.problems else "failed"

    def as_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "status": self.status, "problems": self.problems, "phases": self.phases,
                "quorum_error": self.quorum_error, "reads_without_quorum": self.reads_without_quorum,
                "recovery_seconds": self.recovery_seconds,
                "first_write_after_recovery_seconds": self.first_write_after_recovery_seconds,
                "timeline": self.timeline.rows()}


def _kill(lc: Any, component: str, timeline: Timeline) -> None:
    from kubebook.localcluster import processes

    record = processes.ProcessRecord(**lc.load_state()["components"][component])
    if processes.is_alive(record):
        os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while processes.is_alive(record) and time.monotonic() < deadline:
            time.sleep(0.05)
    timeline.add("failure", f"SIGKILL {component} (pid {record.pid})")


def _write(kube: Any, timeout: float) -> tuple[bool, str, float]:
    started = time.monotonic()
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"w-{uuid.uuid4().hex[:10]}", "namespace": NAMESPACE}, "data": {"x": "1"}}
    try:
        kube.request("POST", f"/api/v1/namespaces/{NAMESPACE}/configmaps", body=body, timeout=timeout)
    except ClusterError as error:
        status = getattr(error, "status", None)
        return False, f"HTTP {status}: {error.message}" if status else error.message, time.monotonic() - started
    return True, "", time.monotonic() - started


def _writes(kube: Any, count: int, timeout: float, phase: str, timeline: Timeline) -> dict[str, Any]:
    results = [_write(kube, timeout) for _ in range(count)]
    ok = sum(1 for r in results if r[0])
    errors = sorted({r[1] for r in results if not r[0]})
    timeline.add(phase, f"{ok} of {count} writes went through" + (f" ({errors[0]})" if errors else ""))
    return {"phase": phase, "writes": count, "ok": ok, "failed": count - ok, "errors": errors}


def quorum_message(lc: Any, status_text: str, seconds: float) -> str:
    """The clear error: which members still run (etcd's /health is false for all of them without a leader),
    how many are needed, and what the API server did with the write."""
    from kubebook.localcluster import processes

    layout = lc.layout()
    components = lc.load_state().get("components", {})
    running = [f"etcd-{i}" for i in range(layout.members) if f"etcd-{i}" in components
               and processes.is_alive(processes.ProcessRecord(**components[f"etcd-{i}"]))]
    need = layout.members // 2 + 1
    return (f"etcd has lost quorum: {len(running)} of {layout.members} members running "
            f"({', '.join(running) or 'none'}), {need} are needed; writes fail until a majority is back "
            f"(the API server gave up after {seconds:.1f}s: {status_text})")


def _reads(kube: Any, timeout: float) -> dict[str, str]:
    out = {}
    for label, query in (("cached read (resourceVersion=0)", {"resourceVersion": "0", "limit": 1}),
                         ("quorum read", {"limit": 1})):
        try:
            kube.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps", query=query, timeout=timeout)
            out[label] = "answered (a cached read may be stale while quorum is lost)"
        except ClusterError as error:
            out[label] = f"failed: {error.message}"
    return out


def run_member_loss(name: str, *, writes: int = 20, write_timeout: float = 15.0,
                    progress: Progress | None = None) -> HaDrillResult:
    """The drill on ha local cluster ``name``; the cluster is whole again when it returns."""
    from kubebook import cluster as cluster_mod

    if writes < 1:
        raise ParameterError(f"writes is {writes}; use 1 or more")
    lc = local_cluster(name)
    if lc.topology != "ha":
        raise ParameterError(f"local cluster {name!r} has topology {lc.topology!r}; the member-loss drill needs ha",
                             hint="start one with 'kubebook cluster up --name NAME --topology ha'")
    timeline = Timeline(progress=progress)
    kube = cluster_mod.connect(lc.kubeconfig)
    if kube.get_object("v1", "Namespace", NAMESPACE) is None:
        kube.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    problems: list[str] = []
    phases = [_writes(kube, writes, write_timeout, "baseline", timeline)]
    _kill(lc, "etcd-1", timeline)
    _kill(lc, "kube-apiserver-0", timeline)
    time.sleep(HAPROXY_SETTLE)  # a write already routed to the killed apiserver fails: that is not the claim
    timeline.add("failure", f"waited {HAPROXY_SETTLE:.0f}s for HAProxy's health checks to drop the dead backend")
    phases.append(_writes(kube, writes, write_timeout, "one etcd member and one apiserver lost", timeline))
    _kill(lc, "etcd-2", timeline)
    ok, text, seconds = _write(kube, write_timeout)
    quorum_error = "" if ok else quorum_message(lc, text, seconds)
    phases.append({"phase": "quorum lost", "writes": 1, "ok": int(ok), "failed": int(not ok),
                   "errors": [quorum_error] if quorum_error else []})
    timeline.add("quorum lost", quorum_error or "a write went through without quorum")
    reads = _reads(kube, min(write_timeout, 5.0))
    for label, what in reads.items():
        timeline.add("quorum lost", f"{label}: {what}")
    kube.api_client.close()
    recovery_started = timeline.add("recover", "cluster up")
    lc.up(progress=lambda message: timeline.add("recover", message))
    recovered = timeline.add("recover", "cluster up returned")
    kube = cluster_mod.connect(lc.kubeconfig)
    first_ok, text, _ = _write(kube, write_timeout)
    first_write = timeline.add("recover", "first write went through" if first_ok else f"first write failed: {text}")
    phases.append(_writes(kube, writes, write_timeout, "recovered", timeline))
    kube.delete_object("v1", "Namespace", NAMESPACE)
    kube.api_client.close()
    for phase in (phases[0], phases[1], phases[3]):
        if phase["failed"]:
            problems.append(f"{phase['phase']}: {phase['failed']} of {phase['writes']} writes failed")
    if ok:
        problems.append("a write succeeded with two of three etcd members gone")
    if not first_ok:
        problems.append(f"the first write after 'cluster up' returned failed: {text}")
    return HaDrillResult(name, phases, quorum_error, reads, round(recovered - recovery_started, 3),
                         round(first_write - recovery_started, 3), timeline, problems)



def planned_changes(name: str) -> list[Any]:
    """The member-loss drill's kills, as Changes for the mutation guard."""
    from kubebook.changes import Change

    steps = [("etcd-1", "SIGKILL: one etcd member lost"), ("kube-apiserver-0", "SIGKILL: one apiserver lost"),
             ("etcd-2", "SIGKILL: quorum lost (writes must fail)")]
    out = [Change(f"Process/{name}/{component}", "delete", "", why) for component, why in steps]
    out.append(Change(f"Namespace/{NAMESPACE}", "create", "", "test writes go here; deleted at the end"))
    return out
