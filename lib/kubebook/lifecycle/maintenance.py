"""Node maintenance over the Eviction API: cordon, a server-side dry run, evictions retried on 429, uncordon.

Why not delete pods: an eviction is the one door that honours PodDisruptionBudgets (the API server
answers 429 while a budget forbids it). Why a dry run first: ``pods/eviction`` with ``dryRun=All``
tells, before anything is evicted, which pods a budget blocks and which budget it is. Why a deadline
on everything: a drain that waits forever on a PDB is the failure users report; here each request has
its own timeout and the whole drain stops at ``timeout`` naming what blocked. Why a lock: two drains
at once can take down two replicas a budget meant to keep; a Lease ``kube-system/kubebook-node-maintenance``
is held for the drain, and a second drain is refused naming the holder.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kubebook.errors import ApiError, KubebookError, ParameterError

LOCK_NAMESPACE = "kube-system"
LOCK_NAME = "kubebook-node-maintenance"
DEFAULT_TIMEOUT = 120.0
RETRY_SECONDS = 1.0  # between evictions a budget refused (kubectl waits 5 s; KWOK pods become ready in ~1 s)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class MaintenanceLocked(KubebookError):
    """Another node maintenance holds the lock; nothing was changed. Wait for it, or ask its holder."""

    exit_code = 1


@dataclass
class PodVerdict:
    """What the drain decided or learnt about one pod."""

    pod: str                     # namespace/name
    outcome: str                 # skipped | allowed | blocked | evicted | gone | pending
    reason: str = ""
    pdbs: list[str] = field(default_factory=list)


@dataclass
class DrainReport:
    """The whole drain: what was skipped, what the dry run said, what was evicted, what still blocks."""

    node: str
    dry_run: bool
    timeout: float
    cordoned: bool = False
    skipped: list[PodVerdict] = field(default_factory=list)
    preflight: list[PodVerdict] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    blocked: list[PodVerdict] = field(default_factory=list)
    timed_out: bool = False
    seconds: float = 0.0
    lock_holder: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if (self.timed_out or self.blocked) else 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exit_code"] = self.exit_code
        data["blocking_pdbs"] = sorted({p for v in self.blocked + self.preflight for p in v.pdbs
                                        if v.outcome == "blocked"})
        return data


# --- label selectors (a PDB's), matched here to name the budget that blocks a pod ---

def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels + matchExpressions) selects ``labels``; an empty one selects all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pdbs_for(cluster: Any, pod: dict[str, Any], cache: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The PodDisruptionBudgets (namespace/name, with their allowed disruptions) that select ``pod``."""
    ns = pod["metadata"]["namespace"]
    if ns not in cache:
        cache[ns] = list(_pages(cluster, f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"))
    labels = pod["metadata"].get("labels") or {}
    found = []
    for pdb in cache[ns]:
        spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
        if spec.get("selector") is not None and selector_matches(spec.get("selector"), labels):
            rule = (f"minAvailable={spec['minAvailable']}" if "minAvailable" in spec
                    else f"maxUnavailable={spec.get('maxUnavailable')}")
            found.append(f"{ns}/{pdb['metadata']['name']} ({rule}, "
                         f"disruptionsAllowed={status.get('disruptionsAllowed', 0)})")
    return found


def _pages(cluster: Any, path: str, query: dict[str, Any] | None = None) -> Any:
    token: str | None = None
    while True:
        page = cluster.request("GET", path, query={**(query or {}), "limit": 500, "continue": token}, timeout=30)
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def _pod_name(pod: dict[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def skip_reason(pod: dict[str, Any]) -> str | None:
    """Why a pod is not evicted (a DaemonSet's would come straight back; a mirror pod is the kubelet's)."""
    meta = pod["metadata"]
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return "mirror pod (a static pod of the kubelet: the API cannot evict it)"
    if any(ref.get("kind") == "DaemonSet" and ref.get("controller") for ref in meta.get("ownerReferences") or []):
        return "DaemonSet pod (the DaemonSet ignores the cordon and would recreate it)"
    return None


def unmanaged(pod: dict[str, Any]) -> bool:
    """A running pod no controller owns: evicting it would lose it (kubectl drain refuses it without --force)."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    return not any(ref.get("controller") for ref in pod["metadata"].get("ownerReferences") or [])


# --- the API calls ---

def get_node(cluster: Any, node: str) -> dict[str, Any]:
    """The node, or a ParameterError (exit 2) naming the nodes that exist."""
    try:
        return cluster.request("GET", f"/api/v1/nodes/{node}", timeout=30)  # type: ignore[no-any-return]
    except ApiError as error:
        if error.status != 404:
            raise
    names = [n["metadata"]["name"] for n in _pages(cluster, "/api/v1/nodes")]
    raise ParameterError(f"node {node!r} does not exist", hint=f"nodes: {', '.join(sorted(names)) or 'none'}")


def set_unschedulable(cluster: Any, node: str, value: bool, *, dry_run: bool = False) -> dict[str, Any]:
    """Cordon (``value`` True) or uncordon a node with a merge patch of ``spec.unschedulable``."""
    return cluster.request(  # type: ignore[no-any-return]
        "PATCH", f"/api/v1/nodes/{node}", query={"dryRun": "All" if dry_run else None},
        body={"spec": {"unschedulable": value or None}}, content_type="application/merge-patch+json", timeout=30)


def pods_on(cluster: Any, node: str) -> list[dict[str, Any]]:
    """Every pod bound to ``node`` (a field selector: one paged list, not every pod of the cluster)."""
    return list(_pages(cluster, "/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"}))


def evict(cluster: Any, pod: dict[str, Any], *, dry_run: bool, timeout: float) -> tuple[int, str]:
    """One eviction (``dryRun=All`` when asked): (201, "") when allowed, else (HTTP status, the server's words)."""
    meta = pod["metadata"]
    body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
    if dry_run:
        body["deleteOptions"] = {"dryRun": ["All"]}
    try:
        cluster.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/eviction",
                        query={"dryRun": "All" if dry_run else None}, body=body, timeout=max(1.0, timeout))
    except ApiError as error:
        return error.status or 0, error.message
    return 201, ""


# --- the lock ---

def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _micro(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def acquire_lock(cluster: Any, holder: str, seconds: float) -> dict[str, Any]:
    """Take the maintenance Lease for ``seconds`` (create, or take over an expired one); MaintenanceLocked if held."""
    path = f"/apis/coordination.k8s.io/v1/namespaces/{LOCK_NAMESPACE}/leases"
    now = _now()
    spec = {"holderIdentity": holder, "leaseDurationSeconds": int(seconds) + 1,
            "acquireTime": _micro(now), "renewTime": _micro(now)}
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": LOCK_NAME, "namespace": LOCK_NAMESPACE,
                          "labels": {"app.kubernetes.io/managed-by": "kubebook"}}, "spec": spec}
    try:
        return cluster.request("POST", path, body=lease, timeout=30)  # type: ignore[no-any-return]
    except ApiError as error:
        if error.status != 409:
            raise
    current = cluster.request("GET", f"{path}/{LOCK_NAME}", timeout=30)
    held = current.get("spec") or {}
    renewed = _parse(held.get("renewTime")) or _parse(held.get("acquireTime"))
    expires = renewed + dt.timedelta(seconds=held.get("leaseDurationSeconds") or 0) if renewed else None
    if held.get("holderIdentity") and expires is not None and expires > now:
        raise MaintenanceLocked(
            f"node maintenance is locked by {held['holderIdentity']} until {expires:%H:%M:%SZ} "
            f"(Lease {LOCK_NAMESPACE}/{LOCK_NAME}); nothing was changed",
            hint="wait for that drain to finish, or delete the Lease if its holder is gone")
    current["spec"] = spec  # expired or released: take it over; the resourceVersion makes a race a 409
    try:
        return cluster.request("PUT", f"{path}/{LOCK_NAME}", body=current, timeout=30)  # type: ignore[no-any-return]
    except ApiError as error:
        if error.status == 409:
            raise MaintenanceLocked("another node maintenance took the lock at the same moment; nothing was changed",
                                    hint="retry when it has finished") from error
        raise


def release_lock(cluster: Any, lease: dict[str, Any]) -> None:
    """Give the Lease back, only if it is still ours (a UID precondition)."""
    try:
        cluster.request("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/{LOCK_NAMESPACE}/leases/{LOCK_NAME}",
                        body={"preconditions": {"uid": lease["metadata"]["uid"]}}, timeout=30)
    except ApiError as error:
        if error.status not in (404, 409):
            raise


def holder_identity(node: str) -> str:
    return f"kubebook node drain {node} on {socket.gethostname()} pid {os.getpid()}"


# --- the drain ---

def check_confirm(node: str, confirm: str | None, dry_run: bool) -> None:
    """A real drain needs ``--confirm NODE``; a dry run does not (but a wrong one is still wrong)."""
    if (confirm or not dry_run) and confirm != node:
        raise ParameterError(f"--confirm must name the node being drained ({node!r}), got {confirm or 'nothing'!r}",
                             hint=f"kubebook node drain {node} --confirm {node}")


def drain(cluster: Any, node: str, *, confirm: str | None = None, timeout: float = DEFAULT_TIMEOUT,
          dry_run: bool = False, progress: Progress = _quiet, retry_seconds: float = RETRY_SECONDS) -> DrainReport:
    """Cordon ``node``, dry-run every eviction, then evict (retrying on 429) until done or ``timeout``.

    Bad input (a wrong confirmation, an unknown node, a timeout that is not positive) raises
    ParameterError before anything changes. With ``dry_run`` nothing changes: the cordon and the
    evictions are server-side dry runs and the lock is not taken.
    """
    if not timeout or timeout <= 0:
        raise ParameterError(f"--timeout must be more than 0 seconds, got {timeout}", hint="e.g. --timeout 120")
    check_confirm(node, confirm, dry_run)
    started = time.monotonic()
    deadline = started + timeout
    report = DrainReport(node=node, dry_run=dry_run, timeout=timeout)
    get_node(cluster, node)
    lease = None
    if not dry_run:
        lease = acquire_lock(cluster, holder_identity(node), timeout + 30)
        report.lock_holder = lease["spec"]["holderIdentity"]
    try:
        set_unschedulable(cluster, node, True, dry_run=dry_run)
        report.cordoned = not dry_run
        progress(f"cordoned {node}" + (" (dry run)" if dry_run else ""))
        _drain_pods(cluster, node, report, deadline, dry_run, progress, retry_seconds)
    finally:
        if lease is not None:
            release_lock(cluster, lease)
        report.seconds = round(time.monotonic() - started, 2)
    return report


def _drain_pods(cluster: Any, node: str, report: DrainReport, deadline: float, dry_run: bool,
                progress: Progress, retry_seconds: float) -> None:
    pdb_cache: dict[str, list[dict[str, Any]]] = {}
    todo: list[dict[str, Any]] = []
    for pod in pods_on(cluster, node):
        reason = skip_reason(pod)
        if reason:
            report.skipped.append(PodVerdict(_pod_name(pod), "skipped", reason))
            continue
        if unmanaged(pod):
            report.blocked.append(PodVerdict(_pod_name(pod), "blocked",
                                             "no controller owns it: evicting would lose it (move or delete it)"))
            continue
        todo.append(pod)
    for verdict in report.skipped:
        progress(f"skipped {verdict.pod}: {verdict.reason}")
    # the dry run: every eviction asked once with dryRun=All, nothing changes
    for pod in todo:
        status, message = evict(cluster, pod, dry_run=True, timeout=deadline - time.monotonic())
        if status == 201:
            report.preflight.append(PodVerdict(_pod_name(pod), "allowed"))
        elif status == 404:
            report.preflight.append(PodVerdict(_pod_name(pod), "gone"))
        else:
            verdict = PodVerdict(_pod_name(pod), "blocked", f"HTTP {status}: {message}",
                                 pdbs_for(cluster, pod, pdb_cache))
            report.preflight.append(verdict)
            progress(f"dry run: {verdict.pod} is blocked by {', '.join(verdict.pdbs) or message}")
    if dry_run:
        report.blocked += [v for v in report.preflight if v.outcome == "blocked"]
        return
    _evict_until(cluster, todo, report, deadline, progress, retry_seconds, pdb_cache)


def _evict_until(cluster: Any, todo: list[dict[str, Any]], report: DrainReport, deadline: float,
                 progress: Progress, retry_seconds: float, pdb_cache: dict[str, list[dict[str, Any]]]) -> None:
    """Evict, retry what a budget refused, wait for the evicted to be gone; stop at the deadline."""
    waiting: list[dict[str, Any]] = []          # evicted, not yet gone
    last: dict[str, tuple[int, str]] = {}       # the last refusal per pod
    pending = list(todo)
    while pending or waiting:
        for pod in list(pending):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            status, message = evict(cluster, pod, dry_run=False, timeout=min(remaining, 30))
            if status in (201, 404):
                pending.remove(pod)
                waiting.append(pod)
                last.pop(_pod_name(pod), None)
            elif status == 429 or status >= 500:
                last[_pod_name(pod)] = (status, message)  # a budget forbids it now: retried
            else:
                pending.remove(pod)
                report.blocked.append(PodVerdict(_pod_name(pod), "blocked", f"HTTP {status}: {message}"))
        present = {p["metadata"].get("uid") for p in pods_on(cluster, report.node)} if waiting else set()
        for pod in list(waiting):
            if pod["metadata"].get("uid") not in present:
                waiting.remove(pod)
                report.evicted.append(_pod_name(pod))
                progress(f"evicted {_pod_name(pod)}")
        if not (pending or waiting):
            break
        if time.monotonic() + retry_seconds >= deadline:
            report.timed_out = True
            break
        time.sleep(retry_seconds if pending else min(retry_seconds, 0.25))
    pdb_cache.clear()  # the budgets as they are now, for the names in the report
    for pod in pending:
        status, message = last.get(_pod_name(pod), (0, "not tried before the deadline"))
        report.blocked.append(PodVerdict(_pod_name(pod), "blocked", f"HTTP {status}: {message}",
                                         pdbs_for(cluster, pod, pdb_cache)))
    for pod in waiting:
        report.blocked.append(PodVerdict(_pod_name(pod), "pending", "evicted but still terminating at the deadline"))


def uncordon(cluster: Any, node: str) -> dict[str, Any]:
    """Make ``node`` schedulable again; ParameterError for an unknown node."""
    get_node(cluster, node)
    after = set_unschedulable(cluster, node, False)
    return {"node": node, "unschedulable": bool((after.get("spec") or {}).get("unschedulable"))}
