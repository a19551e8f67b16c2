"""Restoring a local cluster's etcd from a snapshot, safely: one at a time, only its own snapshot, never half done.

``restore`` is what ``kubebook dr restore`` runs. In order, and nothing changes before the last refusal:

1. the cluster's name typed back (``confirm``), and the cluster must exist (a broken one may be restored);
2. the restore lock (:mod:`kubebook.dr.etcdjournal`): a second restore is refused at once, naming the first;
3. the snapshot's origin (:mod:`kubebook.dr.origin`): another cluster's snapshot is refused unless named;
4. the snapshot's checks (SHA-256s, etcdutl status, trial restore).

Then :func:`replace_data` journals each step: it stops the control plane, moves the etcd data aside in one
rename, restores every member (revision bumped, new member ids), starts the cluster with ``up`` and only
then removes the data from before. A restore killed part-way is finished by ``resume`` (or by ``cluster up``
once every member was restored) or undone by ``rollback``; ``cluster up`` refuses an etcd left empty.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook.archive import Archive
from kubebook.dr import drill, etcd, origin, snapshots
from kubebook.dr import etcdjournal as journal
from kubebook.dr.errors import DrError
from kubebook.errors import KubebookError, ParameterError
from kubebook.fsutil import fsync_dir

# Test hook: pause (until killed) right after the journal records this phase, e.g. "moved-aside", the worst moment.
PAUSE_ENV = "KUBEBOOK_DR_TEST_PAUSE_AT"


@dataclass
class RestoreResult:
    """What a restore, resume or rollback did; ``as_json`` is what ``kubebook dr restore --json`` prints."""

    cluster: str
    action: str  # restored | resumed | rolled back
    snapshot: str
    timeline: drill.Timeline
    cross_cluster: dict[str, Any] | None = None
    took_over: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.timeline.events[-1].at if self.timeline.events else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "action": self.action, "snapshot": self.snapshot, "seconds": self.seconds,
                "cross_cluster": self.cross_cluster, "took_over": self.took_over, "timeline": self.timeline.rows()}


def existing_cluster(name: str) -> Any:
    """The kubebook local cluster ``name``; it must exist, but may be broken (that is when one restores)."""
    from kubebook.localcluster.manager import LocalCluster

    lc = LocalCluster(name=name)
    if not lc.load_state():
        raise ParameterError(f"no kubebook local cluster named {name!r}; etcd restores run only on those",
                             hint="see 'kubebook cluster status'")
    return lc


def restore(name: str, *, snapshot: str = "latest", archive: Archive | None = None, confirm: str = "",
            replace_with_snapshot_of: str | None = None, progress: drill.Progress | None = None) -> RestoreResult:
    """Replace every object of local cluster ``name`` with those of ``snapshot`` (see the module's steps)."""
    if confirm != name:
        raise ParameterError(f"restoring replaces every object of local cluster {name!r}",
                             hint=f"confirm with --confirm {name}")
    lc = existing_cluster(name)
    archive = archive or Archive()
    timeline = drill.Timeline(progress=progress)
    with journal.hold(lc.root, f"etcd restore of {name!r} from snapshot {snapshot}"):
        pending = journal.read(lc.root)
        snap = snapshots.find(snapshot, archive, cluster=name)
        if not snap.run_id:
            etcd.check_file(snap.path, None)  # a damaged file is refused as damaged, before its origin is asked
        crossing = origin.check(snap, name, lc.root, replace_with_snapshot_of=replace_with_snapshot_of,
                                archive=archive)
        snapshots.verify(snap, archive=archive)  # refused here, before anything is stopped
        timeline.add("restore", f"snapshot {snap.run_id or snap.path} passed its checks")
        if crossing:
            timeline.add("restore", f"the snapshot of {crossing['from']!r} replaces {name!r}: this loses "
                                    f"{crossing['lost']}")
        replace_data(lc, snap, timeline, token_suffix=snap.run_id or "file", crossing=crossing, pending=pending)
    return RestoreResult(name, "restored", snap.run_id or str(snap.path), timeline, crossing,
                         _summary(pending))


def resume(name: str, *, progress: drill.Progress | None = None) -> RestoreResult:
    """Finish an interrupted restore with the snapshot it journaled (checked again first)."""
    lc = existing_cluster(name)
    timeline = drill.Timeline(progress=progress)
    with journal.hold(lc.root, f"resumed etcd restore of {name!r}"):
        pending = _pending(lc, "resume")
        record = pending.get("snapshot") or {}
        path = Path(str(record.get("path", "")))
        snapshots.inspect(path, record.get("sha256") or None)  # the same bytes as when the restore began
        snap = snapshots.Snapshot(str(record.get("run_id", "")), path, datetime.now(UTC),
                                  str(record.get("cluster", "")), str(record.get("sha256", "")), 0, 0,
                                  path.stat().st_size, True, {})
        timeline.add("restore", f"resuming the restore of {record.get('ref')} interrupted at "
                                f"{pending.get('phase')!r} (pid {pending.get('pid')})")
        replace_data(lc, snap, timeline, token_suffix=str(pending.get("token_suffix") or "file"),
                     crossing=pending.get("crossing"), pending=pending)
    return RestoreResult(name, "resumed", str(record.get("ref")), timeline, pending.get("crossing"), _summary(pending))


def rollback(name: str, *, progress: drill.Progress | None = None) -> RestoreResult:
    """Undo an interrupted restore: put the etcd data from before it back and start the cluster."""
    lc = existing_cluster(name)
    timeline = drill.Timeline(progress=progress)
    with journal.hold(lc.root, f"rollback of an etcd restore of {name!r}"):
        pending = _pending(lc, "roll back")
        if pending.get("phase") == "done":
            raise ParameterError(f"the etcd restore of {name!r} had finished; the data from before it is removed",
                                 hint=f"'kubebook cluster up --name {name}' completes it")
        drill.stop_control_plane(lc, timeline)
        data, aside = lc.root / "etcd", lc.root / journal.ETCD_ASIDE
        if aside.exists():
            shutil.rmtree(data, ignore_errors=True)
            os.rename(aside, data)
            fsync_dir(lc.root)
            timeline.add("rollback", "put the etcd data from before the restore back")
        else:
            timeline.add("rollback", "the restore had not moved any data; nothing to put back")
        journal.clear(lc.root)
        _up(lc, timeline, "the data from before the restore is back")
    return RestoreResult(name, "rolled back", str((pending.get("snapshot") or {}).get("ref")), timeline,
                         None, _summary(pending))


def replace_data(lc: Any, snapshot: Any, timeline: drill.Timeline, *, token_suffix: str,
                 crossing: dict[str, Any] | None = None, pending: dict[str, Any] | None = None) -> None:
    """Stop, move the data aside, restore every member, start; journaled. The caller holds the lock and has
    checked the snapshot: nothing here looks at it before the data is moved."""
    layout = lc.layout()
    root = lc.root
    data, aside = root / "etcd", root / journal.ETCD_ASIDE
    ref = snapshot.run_id or str(snapshot.path)
    doc: dict[str, Any] = {
        "operation": "etcd-restore", "cluster": lc.name, "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "token_suffix": token_suffix,
        "snapshot": {"ref": ref, "run_id": snapshot.run_id, "path": str(snapshot.path),
                     "sha256": snapshot.sha256 or etcd.sha256_file(snapshot.path), "cluster": snapshot.cluster},
        "crossing": crossing, "took_over": _summary(pending)}
    _phase(root, doc, "stopping")
    if pending:
        timeline.add("restore", f"taking over an interrupted restore (pid {pending.get('pid')}, at "
                                f"{pending.get('phase')!r}); the data from before it stays aside")
    drill.stop_control_plane(lc, timeline)
    if aside.exists():
        shutil.rmtree(data, ignore_errors=True)  # what an interrupted restore left half-written
    elif data.exists():
        os.rename(data, aside)  # one atomic step: from here on the data from before is kept, never deleted
    else:
        aside.mkdir(mode=0o700)
    data.mkdir(mode=0o700)
    fsync_dir(root)
    timeline.add("disaster", f"moved the data of {layout.members} etcd member(s) aside to {journal.ETCD_ASIDE} "
                             "(put back by 'dr restore --rollback' until the restore is done)")
    _phase(root, doc, "moved-aside")
    peers = [f"https://{host}:{layout.etcd_peer_port}" for host in layout.hosts]
    initial = ",".join(f"etcd-{i}={url}" for i, url in enumerate(peers))
    token = f"kubebook-{lc.name}-{token_suffix}"
    for index in range(layout.members):
        etcd.restore_member(snapshot.path, data / f"member-{index}", name=f"etcd-{index}",
                            initial_cluster=initial, peer_url=peers[index], token=token)
        os.chmod(data / f"member-{index}", 0o700)
        timeline.add("restore", f"restored etcd-{index} (revision +{etcd.BUMP_REVISION:,}, new member id)")
    _phase(root, doc, "restored")
    _up(lc, timeline, "API healthy")
    _phase(root, doc, "done")
    shutil.rmtree(aside, ignore_errors=True)
    journal.clear(root)
    timeline.add("restart", f"restore of {ref} finished; removed the data from before it")


def _up(lc: Any, timeline: drill.Timeline, done: str) -> None:
    try:
        lc.up(progress=lambda message: timeline.add("restart", message))
    except KubebookError as error:
        raise DrError(f"the etcd data of {lc.name!r} is in place but the cluster did not start: {error.message}",
                      hint=f"'kubebook cluster up --name {lc.name}' tries again; 'kubebook dr restore --name "
                           f"{lc.name} --rollback' puts the data from before back") from error
    timeline.add("restart", done)


def _phase(root: Path, doc: dict[str, Any], phase: str) -> None:
    doc["phase"] = phase
    journal.write(root, doc)
    if os.environ.get(PAUSE_ENV) == phase:
        sys.stderr.write(f"kubebook: paused after phase {phase!r} ({PAUSE_ENV} is a test hook); waiting to be "
                         "killed\n")
        sys.stderr.flush()
        time.sleep(600)
        raise DrError(f"{PAUSE_ENV}: nobody killed the paused restore within 600s")


def _pending(lc: Any, verb: str) -> dict[str, Any]:
    pending = journal.read(lc.root)
    if not pending:
        raise ParameterError(f"no interrupted etcd restore of cluster {lc.name!r} to {verb}",
                             hint=f"start one with 'kubebook dr restore --name {lc.name} --snapshot latest "
                                  f"--confirm {lc.name}'")
    return pending


def _summary(pending: dict[str, Any] | None) -> dict[str, Any] | None:
    if not pending:
        return None
    return {"pid": pending.get("pid"), "started": pending.get("started"), "phase": pending.get("phase"),
            "snapshot": (pending.get("snapshot") or {}).get("ref")}
