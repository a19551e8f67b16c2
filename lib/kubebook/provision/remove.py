"""Undo an apply: delete only what kubebook created, and nothing that lives inside it that kubebook did not create.

Why ownership is read from the created-by mark and not from field managers: an object's
managers say who writes it now, not who made it. A namespace whose only manager is
kubebook may hold a tenant's ConfigMap; a ConfigMap that existed before kubebook's first
apply may, after a forced apply, list kubebook as its only manager. The mark
(``kubebook.io/created-by``, set by :func:`kubebook.provision.apply.apply` only on objects it
created) answers the question remove has to ask.

Per object, in reverse dependency order:

* absent: nothing to do;
* created by kubebook and written by no one else: deleted; a Namespace only when it holds no
  object kubebook did not create (else it is kept, kubebook's fields are released, the mark
  stays so a later remove can finish, and the entry names what it holds);
* anything else (it existed before, or another manager has written to it since): kubebook's
  fields are released (an apply of its bare identity under our field manager drops exactly
  the fields we set, as server-side apply defines); another owner's values stay.
  When the server refuses the release (a required field only kubebook set: a policy's spec, a
  binding's roleRef), the object is kept as it is and the entry says why: it is not ours to
  delete, and releasing would leave it invalid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubebook.changes import object_key
from kubebook.errors import ApiError, ClusterError
from kubebook.provision.apply import (
    CREATED,
    FIELD_MANAGER,
    WORKERS,
    Applied,
    ApplyReport,
    created_by_kubebook,
    tier,
)

LISTERS = 8  # kinds listed at once when checking what a namespace holds
SHOWN = 3  # foreign objects named in a kept namespace's message
SKIPPED_GROUPS = {"events.k8s.io", "metrics.k8s.io"}  # records and derived readings, not objects someone keeps
CONTROLLER_MADE = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}  # every namespace has them


def remove(cluster: Any, objects: Sequence[dict[str, Any]], *, field_manager: str = FIELD_MANAGER,
           progress: Callable[[Applied], None] | None = None) -> ApplyReport:
    """Undo an apply of ``objects``; actions are ``deleted``, ``kept`` (a namespace), ``configured`` or ``failed``."""
    report = ApplyReport(planned=len(objects))
    tiers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for obj in objects:
        tiers[tier(obj)].append(obj)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for index in sorted(tiers, reverse=True):  # a kind's objects at once; kinds in reverse dependency order
            for entry in pool.map(lambda obj: _one(cluster, obj, field_manager), list(reversed(tiers[index]))):
                report.entries.append(entry)
                if progress is not None:
                    progress(entry)
    return report


def _one(cluster: Any, obj: dict[str, Any], field_manager: str) -> Applied:
    meta = obj.get("metadata") or {}
    api_version, kind, name, namespace = obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace") or ""
    key = object_key(obj)
    try:
        live = cluster.get_object(api_version, kind, name, namespace or None)
        if live is None:
            return Applied(key, "unchanged", "absent")
        others = other_managers(live, field_manager)
        if not created_by_kubebook(live) or others or (kind, name) == ("ServiceAccount", "default"):
            why = f"also written by {', '.join(others)}" if others and created_by_kubebook(live) else \
                "kubebook did not create it"
            try:
                _release(cluster, obj, field_manager)
            except ApiError as error:
                if error.status != 422:
                    raise
                return Applied(key, "kept", f"{why}; kept as it is: without the fields kubebook-provision set it "
                                            f"would be invalid ({error.message})")
            return Applied(key, "configured", f"{why}: released the fields kubebook-provision set, kept the rest")
        if kind == "Namespace":
            foreign, unknown = foreign_objects(cluster, name, field_manager)
            if foreign or unknown:
                _release(cluster, obj, field_manager, keep_mark=True)
                listed = ", ".join(foreign[:SHOWN]) + (f" and {len(foreign) - SHOWN} more" if foreign[SHOWN:] else "")
                reason = (f"holds {len(foreign)} object(s) kubebook did not create ({listed})" if foreign else
                          f"could not check what it holds ({unknown[0]})")
                return Applied(key, "kept", f"{reason}: kept the namespace, released kubebook's fields; "
                                            "remove again once they are gone")
        cluster.delete_object(api_version, kind, name, namespace or None)
        return Applied(key, "deleted")
    except ClusterError as error:
        return Applied(key, "failed", error.message)


def _release(cluster: Any, obj: dict[str, Any], field_manager: str, *, keep_mark: bool = False) -> None:
    """Apply the object's bare identity under our manager: the fields we set are dropped, others' stay."""
    meta = obj["metadata"]
    stub: dict[str, Any] = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                            "metadata": {"name": meta["name"], **({"namespace": meta["namespace"]}
                                                                  if meta.get("namespace") else {})}}
    if keep_mark:
        stub["metadata"]["annotations"] = {CREATED: FIELD_MANAGER}
    cluster.apply_object(stub, field_manager=field_manager, force=False)


def other_managers(live: dict[str, Any], field_manager: str = FIELD_MANAGER) -> list[str]:
    """Managers other than ours that write the object itself (status writers such as controllers do not count)."""
    entries = (live.get("metadata") or {}).get("managedFields") or []
    return sorted({m.get("manager", "?") for m in entries if m.get("manager") != field_manager
                   and not m.get("subresource")})


def foreign_objects(cluster: Any, namespace: str, field_manager: str = FIELD_MANAGER) -> tuple[list[str], list[str]]:
    """The objects in ``namespace`` kubebook did not create, and the kinds that could not be listed.

    Every namespaced kind the server can list and delete is listed once (each group at its first
    served version). Not counted: objects with an owner (their owner is what someone keeps),
    the two objects the control plane puts in every namespace, and events.
    """
    kinds = []
    seen: set[tuple[str, str]] = set()
    for resource in cluster.resources().values():
        group = resource.api_version.rpartition("/")[0]
        if not resource.namespaced or not {"list", "delete"} <= set(resource.verbs) or group in SKIPPED_GROUPS \
                or resource.kind == "Event" or (group, resource.plural) in seen:
            continue
        seen.add((group, resource.plural))
        kinds.append(resource)

    def listed(resource: Any) -> tuple[Any, list[dict[str, Any]] | str]:
        try:
            return resource, list(cluster.list_objects(resource.api_version, resource.kind, namespace))
        except ClusterError as error:
            return resource, f"listing {resource.plural} failed: {error.message}"

    foreign: list[str] = []
    unknown: list[str] = []
    with ThreadPoolExecutor(max_workers=LISTERS) as pool:
        for resource, items in pool.map(listed, kinds):
            if isinstance(items, str):
                unknown.append(items)
                continue
            for item in items:
                meta = item.get("metadata") or {}
                if meta.get("ownerReferences") or (resource.kind, meta.get("name")) in CONTROLLER_MADE:
                    continue
                if created_by_kubebook(item) and not other_managers(item, field_manager):
                    continue
                foreign.append(f"{resource.kind}/{meta.get('name')}")
    return sorted(foreign), unknown
