"""The full-cluster drill on a kubebook local control plane: snapshot, disaster, restore, compare.

1. fingerprint every object; 2. take, check and archive an etcd snapshot (a trial
restore included); 3. the disaster: stop every kube-apiserver and etcd member (the controllers
and schedulers too) and delete the etcd data; 4. restore every member from the snapshot with a revision bump
(so no watcher is served stale data) under a new cluster token (so members get
fresh ids); 5. restart with ``cluster up``, wait for healthy, re-fingerprint and
compare. The RTO runs from the moment the disaster is declared until the API is
healthy with every expected object back; the RPO is the list of objects created
after the snapshot. Works for the single and the ha topology.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kubebook.archive import Archive
from kubebook.dr import etcd, fingerprint, snapshots
from kubebook.dr.errors import DrError
from kubebook.errors import ParameterError

Progress = Callable[[str], None]


class Event(NamedTuple):
    """One step of a drill: seconds since the drill started, its phase and what happened."""

    at: float
    phase: str
    what: str


@dataclass
class Timeline:
    """Events with their offsets from one start; drills append, views draw."""

    started: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    progress: Progress | None = None

    def add(self, phase: str, what: str) -> float:
        at = round(time.monotonic() - self.started, 3)
        self.events.append(Event(at, phase, what))
        if self.progress is not None:
            self.progress(f"[{at:7.2f}s] {phase}: {what}")
        return at

    def rows(self) -> list[dict[str, Any]]:
        return [event._asdict() for event in self.events]


def control_plane_write(obj: dict[str, str]) -> bool:
    """An object the control plane writes by itself and writes again after a restore.

    kube-controller-manager creates each controller's ServiceAccount in kube-system when that controller
    starts, and publishes the API server's serving CA as a ClusterTrustBundle; on a young cluster these
    can land after the snapshot. They are listed (created after the snapshot, so absent right after the
    restore) but are not user data the RPO target is about: the controllers put them back.
    """
    if obj.get("kind") == "ServiceAccount":
        return obj.get("namespace") == "kube-system" and obj.get("name", "").endswith("-controller")
    if obj.get("kind") == "ClusterTrustBundle":
        return obj.get("name", "").startswith("kubernetes.io:kube-apiserver-serving:")
    return False


@dataclass
class DrillResult:
    """Everything a drill measured; ``as_json`` has the keys ``kubebook dr drill --json`` prints."""

    cluster: str
    topology: str
    snapshot: dict[str, Any]
    comparison: fingerprint.Comparison
    rto_seconds: float
    timeline: Timeline

    @property
    def status(self) -> str:
        return "passed" if not self.comparison.lost else "failed"

    def as_json(self) -> dict[str, Any]:
        c = self.comparison
        own = [obj for obj in c.created_after_snapshot if control_plane_write(obj)]
        return {"cluster": self.cluster, "topology": self.topology, "status": self.status,
                "expected": c.expected, "restored": c.restored, "lost": c.lost,
                "created_after_snapshot": c.created_after_snapshot,
                "rpo_objects": len(c.created_after_snapshot) - len(own), "control_plane_after_snapshot": own,
                "changed_after_restore": c.changed_after_restore, "rto_seconds": self.rto_seconds,
                "per_kind": c.per_kind, "snapshot": self.snapshot, "timeline": self.timeline.rows()}


def local_cluster(name: str) -> Any:
    """The kubebook local cluster ``name``, which must exist and be healthy before a drill starts."""
    from kubebook.localcluster.manager import LocalCluster

    lc = LocalCluster(name=name)
    status = lc.status()
    if not status["exists"]:
        raise ParameterError(f"no kubebook local cluster named {name!r}; drills run only on those",
                             hint=f"start one with 'kubebook cluster up --name {name}'")
    if not status.get("healthy"):
        down = sorted(c for c, s in status["components"].items() if not s["healthy"])
        raise ParameterError(f"local cluster {name!r} is not healthy ({', '.join(down)}); a drill starts "
                             "from a healthy cluster", hint=f"repair it with 'kubebook cluster up --name {name}'")
    return lc


def stop_control_plane(lc: Any, timeline: Timeline) -> None:
    """Stop the schedulers, controller-managers, apiservers and etcd members (KWOK and a real node stay)."""
    from kubebook.localcluster import processes

    components = lc.load_state().get("components", {})
    # Controllers first: they would otherwise act on a half-restored world, and lose their leases anyway.
    for prefix in ("kube-scheduler-", "kube-controller-manager-", "kube-apiserver-", "etcd-"):
        for name in sorted(n for n in components if n.startswith(prefix)):
            processes.stop(processes.ProcessRecord(**components[name]), grace_seconds=0.5)
            timeline.add("disaster", f"stopped {name}")


def restore_local(lc: Any, snapshot: Any, timeline: Timeline, *, token_suffix: str) -> None:
    """Stop the control plane, move the etcd data aside, restore every member, start again (``up``).

    Under the cluster's restore lock and journal (:mod:`kubebook.dr.etcdrestore`). The snapshot must
    already have passed its checks: nothing here looks at it before the data is moved.
    """
    from kubebook.dr import etcdjournal as journal
    from kubebook.dr import etcdrestore

    with journal.hold(lc.root, f"etcd restore drill of {lc.name!r} from snapshot {snapshot.run_id or snapshot.path}"):
        etcdrestore.replace_data(lc, snapshot, timeline, token_suffix=token_suffix, pending=journal.read(lc.root))


def run_drill(name: str, *, archive: Archive | None = None, probe_objects: int = 0,
              after_snapshot: Callable[[Any], Any] | None = None, progress: Progress | None = None) -> DrillResult:
    """The full drill on local cluster ``name``; ``after_snapshot(cluster)`` writes what the RPO should list."""
    from kubebook import cluster as cluster_mod

    if probe_objects < 0:
        raise ParameterError(f"probe_objects is {probe_objects}; use 0 or more")
    lc = local_cluster(name)
    timeline = Timeline(progress=progress)
    kube = cluster_mod.connect(lc.kubeconfig)
    before_snapshot = fingerprint.take(kube)
    timeline.add("fingerprint", f"{len(before_snapshot)} objects before the snapshot")
    snap = snapshots.take(etcd.EtcdTarget.local(name), cluster=name, archive=archive)
    if not snap.verified:
        raise DrError(f"snapshot {snap.run_id} failed its checks; the drill stops before the disaster",
                      hint="see 'kubebook dr verify " + snap.run_id + "'")
    timeline.add("snapshot", f"snapshot {snap.run_id} at revision {snap.revision:,} ({snap.size:,} bytes), "
                             f"trial restore ok")
    if probe_objects:
        created = write_probes(kube, probe_objects)
        timeline.add("after snapshot", f"created {created} probe object(s) that the snapshot cannot hold")
    if after_snapshot is not None:
        after_snapshot(kube)
        timeline.add("after snapshot", "caller's writes done")
    before_disaster = fingerprint.take(kube)
    timeline.add("fingerprint", f"{len(before_disaster)} objects just before the disaster")
    kube.api_client.close()
    declared = timeline.add("disaster", "declared")
    restore_local(lc, snap, timeline, token_suffix=snap.run_id)
    kube = cluster_mod.connect(lc.kubeconfig)
    restored = fingerprint.take(kube)
    comparison = fingerprint.compare(before_snapshot, before_disaster, restored, snap.revision)
    finished = timeline.add("verify", f"{comparison.restored} of {comparison.expected} objects back, "
                                      f"{len(comparison.lost)} lost, {len(comparison.created_after_snapshot)} "
                                      "created after the snapshot")
    kube.api_client.close()
    return DrillResult(name, lc.topology, snap.as_dict() | {"checks": None}, comparison,
                       round(finished - declared, 3), timeline)


PROBE_NAMESPACE = "default"


def write_probes(kube: Any, count: int) -> int:
    """ConfigMaps written after the snapshot (in ``default``, which always exists, so nothing else is
    created alongside them): the drill's RPO list must name exactly these."""
    stamp = time.strftime("%H%M%S")
    for index in range(count):
        kube.create_object({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": f"kubebook-dr-probe-{stamp}-{index}", "namespace": PROBE_NAMESPACE},
                            "data": {"written": "after the snapshot"}})
    return count


def planned_changes(name: str | None) -> list[Any]:
    """What a drill does to the cluster, as Changes for the mutation guard (no API call needed)."""
    from kubebook.changes import Change

    if not name:
        return [Change("LocalCluster/(throwaway)", "create", "",
                       "started, seeded, drilled and removed by this run; nothing else is touched")]
    lc = local_cluster(name)
    members = lc.layout().members
    out = [Change(f"Process/{name}/kube-apiserver-{i}", "change", "", "stopped, restarted by 'cluster up'")
           for i in range(members)]
    out += [Change(f"EtcdData/{name}/member-{i}", "delete", "",
                   "data moved aside, then restored from the snapshot taken first (revision bumped, new member "
                   "id); the data from before is removed once the cluster is up")
            for i in range(members)]
    return out
