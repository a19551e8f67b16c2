"""The lock and the journal that make ``provision apply`` and ``remove`` safe to interrupt.

Why both live in the cluster (``kube-system``): the next command may run from another
machine or pod than the one that was killed, and it is the cluster that is half-changed.

* **Lock**: Lease ``kube-system/kubebook-provision``, held for the whole operation and
  renewed every few seconds. A holder that died stops renewing: its lease is taken over once
  it has expired, at once when the holder was a process of this host that no longer exists.
  A live holder makes the next command stop with a one-line error naming it.
* **Journal**: ConfigMap ``kube-system/kubebook-provision-journal``, written before a remove
  deletes anything (operation, overlay, start, holder, the identities of the objects) and
  deleted when it is done. Progress needs no record: what was deleted is absent, and a
  re-run of the same identities under the same ownership rules is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from kubebook.errors import ApiError, ClusterError

NAMESPACE = "kube-system"
LEASE = "kubebook-provision"
JOURNAL = "kubebook-provision-journal"
LEASE_SECONDS = 30
RENEW_SECONDS = 10.0
GONE_SECONDS = 30.0


class LockedError(ClusterError):
    """Another provision apply or remove holds the cluster's lock. Wait for it, then run again."""


class Journal(NamedTuple):
    """An interrupted operation as its journal recorded it."""

    operation: str
    overlay: str
    started: str
    holder: str
    objects: list[dict[str, Any]]

    def describe(self) -> str:
        return (f"an interrupted 'provision {self.operation} --overlay {self.overlay}' (started {self.started} "
                f"by {self.holder}, {len(self.objects)} objects)")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _micro(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(holder: str) -> bool:
    """The holder (``host:pid:operation``) was a process of this host that no longer exists.

    Its lease need not be waited out; any other holder's must.
    """
    host, pid, _ = [*holder.split(":"), "", "", ""][:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _lease_path(cluster: Any, name: str | None = None) -> str:
    return cluster.object_path("coordination.k8s.io/v1", "Lease", NAMESPACE, name)


def _expired(spec: dict[str, Any]) -> bool:
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed:
        return True
    moment = dt.datetime.fromisoformat(renewed.replace("Z", "+00:00"))
    return _now() > moment + dt.timedelta(seconds=int(spec.get("leaseDurationSeconds") or LEASE_SECONDS))


@contextmanager
def locked(cluster: Any, operation: str) -> Iterator[list[str]]:
    """Hold the provisioning lock for ``operation``; yields a list of notes (a takeover says so)."""
    me, notes = f"{identity()}:{operation}", []
    now = _micro(_now())
    spec = {"holderIdentity": me, "leaseDurationSeconds": LEASE_SECONDS, "acquireTime": now, "renewTime": now}
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": LEASE, "namespace": NAMESPACE}, "spec": spec}
    try:
        lease = cluster.request("POST", _lease_path(cluster), body=body)
    except ApiError as error:
        if error.status != 409:
            raise
        lease = cluster.get_object("coordination.k8s.io/v1", "Lease", LEASE, NAMESPACE) or {}
        held = lease.get("spec") or {}
        holder = str(held.get("holderIdentity") or "")
        if not (_expired(held) or _dead_here(holder)):
            raise LockedError(f"another provisioning run holds the lock (Lease {NAMESPACE}/{LEASE}, holder {holder})",
                              hint=f"wait for it to finish; a holder that died releases it within {LEASE_SECONDS} s"
                              ) from None
        lease["spec"] = {**held, **spec, "leaseTransitions": int(held.get("leaseTransitions") or 0) + 1}
        lease = cluster.request("PUT", _lease_path(cluster, LEASE), body=lease)  # 409 if another took it first
        notes.append(f"took over the lock of {holder}, which stopped renewing it")
    stop = threading.Event()
    current = {"lease": lease}

    def renew() -> None:
        while not stop.wait(RENEW_SECONDS):
            try:
                fresh = dict(current["lease"])
                fresh["spec"] = {**fresh["spec"], "renewTime": _micro(_now())}
                current["lease"] = cluster.request("PUT", _lease_path(cluster, LEASE), body=fresh)
            except ClusterError:
                continue  # the next beat tries again; the lease outlives two missed beats

    beat = threading.Thread(target=renew, name="kubebook-provision-lease", daemon=True)
    beat.start()
    try:
        yield notes
    finally:
        stop.set()
        beat.join(timeout=RENEW_SECONDS)
        try:
            uid = (current["lease"].get("metadata") or {}).get("uid")
            cluster.request("DELETE", _lease_path(cluster, LEASE), body={"preconditions": {"uid": uid}})
        except ClusterError:
            pass  # gone already, or taken over: it expires on its own


def pending(cluster: Any) -> Journal | None:
    """The journal of an interrupted operation, or None."""
    config = cluster.get_object("v1", "ConfigMap", JOURNAL, NAMESPACE)
    if config is None or (config.get("metadata") or {}).get("deletionTimestamp"):
        # finish() deletes it in the foreground: until the garbage collector drops it, it is closed, not pending
        return None
    data = config.get("data") or {}
    try:
        objects = json.loads(data.get("objects") or "[]")
    except ValueError:
        objects = []
    return Journal(data.get("operation", "?"), data.get("overlay", "?"), data.get("started", "?"),
                   data.get("holder", "?"), objects)


def _wait_gone(cluster: Any) -> None:
    """Wait until a journal deleted in the foreground is dropped by the garbage collector.

    Why: an apply to a journal that is still being deleted lands on the doomed object, and the new
    operation's intent would vanish with it a moment later.
    """
    deadline = time.monotonic() + GONE_SECONDS
    while True:
        config = cluster.get_object("v1", "ConfigMap", JOURNAL, NAMESPACE)
        if config is None or not (config.get("metadata") or {}).get("deletionTimestamp"):
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"the journal {NAMESPACE}/{JOURNAL} is still being deleted after {GONE_SECONDS:.0f}s; "
                               "check the garbage collector (kube-controller-manager), then run again")
        time.sleep(0.2)


def begin(cluster: Any, operation: str, overlay: str, objects: list[dict[str, Any]]) -> None:
    """Record the intent before the first change: what is about to be removed, by whom."""
    _wait_gone(cluster)
    identities = [{"apiVersion": o["apiVersion"], "kind": o["kind"],
                   "metadata": {k: v for k, v in o["metadata"].items() if k in ("name", "namespace")}}
                  for o in objects]
    meta = {"name": JOURNAL, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "kubebook"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
              "data": {"operation": operation, "overlay": overlay, "started": _micro(_now()), "holder": identity(),
                       "objects": json.dumps(identities, separators=(",", ":"))}}
    cluster.apply_object(config, field_manager="kubebook-provision-journal")


def finish(cluster: Any) -> None:
    """The operation completed (or was rolled back): drop its journal, and wait until it is gone."""
    cluster.delete_object("v1", "ConfigMap", JOURNAL, NAMESPACE)
    _wait_gone(cluster)
