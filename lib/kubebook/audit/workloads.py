"""The pod specs an audit should judge: each workload once, at the object an operator edits.

A Deployment's pods show up three times on a live cluster (Deployment,
ReplicaSet, Pod). Workload checks (images, secrets in env, token automount ...)
report each at the top-level owner: objects with no controller owner reference.
That gives the same findings for a cluster and for the manifests it was built
from, and the finding names the thing to fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kubebook.audit.model import Resource

WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                  "ReplicationController")
# The resource a check names when its verdict is about the whole inventory (e.g. "nobody can ...").
CLUSTER = Resource("Cluster", None, "cluster")


class Workload:
    """A top-level workload with its pod template's metadata and spec.

    ``namespace`` and ``resource`` are computed once here: every check reads them,
    and at 50,000 pods recomputing them per verdict was a tenth of the audit.
    """

    __slots__ = ("kind", "namespace", "obj", "pod_meta", "resource", "spec")

    def __init__(self, kind: str, obj: dict[str, Any], pod_meta: dict[str, Any], spec: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        self.kind, self.obj, self.pod_meta, self.spec = kind, obj, pod_meta, spec
        self.namespace: str = str(meta.get("namespace") or "default")
        self.resource = Resource(kind, self.namespace, str(meta.get("name", "")))

    def containers(self, include_init: bool = True) -> Iterator[dict[str, Any]]:
        if include_init:
            yield from self.spec.get("initContainers") or ()
        yield from self.spec.get("containers") or ()


def pod_template(kind: str, obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod metadata, pod spec) of a workload object; empty dicts when it has none."""
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return obj.get("metadata") or {}, spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    template = spec.get("template") or {}
    return template.get("metadata") or {}, template.get("spec") or {}


def is_top_level(obj: dict[str, Any], audited_uids: set[str]) -> bool:
    """No audited workload controls it (a ReplicaSet of an audited Deployment is not top level).

    An object whose controller is not in the inventory (an operator's custom
    resource, say) is top level: nothing else would report it.
    """
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return not any(o.get("controller") and o.get("uid") in audited_uids for o in owners)


def top_level_workloads(inv: Any) -> list[Workload]:
    """Every top-level workload of the inventory, by kind then namespace and name.

    During ``run_audit`` (inside ``shared_workloads``) the list is computed once and
    shared by the engines: five of them walk the workloads, and at 50,000 pods each
    walk re-sorted and re-wrapped every pod. Outside it every call computes afresh,
    so an inventory changed between audits is never judged from a stale list.
    """
    cached = getattr(inv, "_shared_workloads", None)
    if cached:
        return cached[0]
    uids = {(o.get("metadata") or {}).get("uid") for kind in WORKLOAD_KINDS for o in inv.objects(kind)} - {None}
    workloads = []
    for kind in WORKLOAD_KINDS:
        items = sorted(inv.objects(kind), key=lambda o: ((o.get("metadata") or {}).get("namespace") or "",
                                                         (o.get("metadata") or {}).get("name") or ""))
        for obj in items:
            if is_top_level(obj, uids):
                meta, spec = pod_template(kind, obj)
                workloads.append(Workload(kind, obj, meta, spec))
    if cached is not None:  # inside shared_workloads: keep it for the other engines
        cached.append(workloads)
    return workloads


@contextlib.contextmanager
def shared_workloads(inv: Any) -> Iterator[None]:
    """Within this block, ``top_level_workloads(inv)`` is computed once (engines only read the inventory)."""
    object.__setattr__(inv, "_shared_workloads", [])
    try:
        yield
    finally:
        object.__setattr__(inv, "_shared_workloads", None)


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label set; {} selects everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
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


def effective_automount(spec: dict[str, Any], account: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether the pod gets a service account token, and why (pod field wins over the account's)."""
    if spec.get("automountServiceAccountToken") is not None:
        value = bool(spec["automountServiceAccountToken"])
        return value, f"pod sets automountServiceAccountToken: {str(value).lower()}"
    if account is not None and account.get("automountServiceAccountToken") is not None:
        value = bool(account["automountServiceAccountToken"])
        return value, f"its ServiceAccount sets automountServiceAccountToken: {str(value).lower()}"
    return True, "automountServiceAccountToken unset on pod and ServiceAccount (defaults to true)"


def unreadable_kinds(inv: Any, kinds: tuple[str, ...] = WORKLOAD_KINDS) -> list[str]:
    """Workload kinds the source failed to list (their checks are then incomplete)."""
    return [k for k in kinds if not inv.readable(k)]


def not_evaluated(inv: Any, kinds: tuple[str, ...], check_ids: tuple[str, ...]) -> list[Any]:
    """One ERROR finding per check when any of ``kinds`` could not be listed (an incomplete input never passes)."""
    from kubebook.audit import catalog
    from kubebook.audit.model import Finding

    missing = unreadable_kinds(inv, kinds)
    if not missing:
        return []
    return [Finding(catalog.get(check_id), CLUSTER, "ERROR",
                    f"not evaluated: the audit could not list {', '.join(missing)}") for check_id in check_ids]
