"""Kinds a few checks need beyond the inventory's standard list: Services, Ingresses, PodDisruptionBudgets.

A manifests source holds whatever the files hold (a kind with no object simply
has none). A cluster source lists the kinds in ``sources.KINDS``; until those
include these, a cluster that offers ``kubebook.cluster.Cluster.list_objects``
(raw JSON through discovery) is asked here, once per audit, and the objects are
kept in the inventory so every engine reads the same list. When the kind can be
listed by neither, ``objects`` returns None and the checks say INFO "not
evaluated", never PASS.
"""

from __future__ import annotations

from typing import Any

API_VERSIONS = {"Service": "v1", "Ingress": "networking.k8s.io/v1", "PodDisruptionBudget": "policy/v1"}


def objects(inv: Any, kind: str) -> list[dict[str, Any]] | None:
    """Every ``kind`` object of the inventory, or None when this source cannot say (see module docstring)."""
    if inv.source != "cluster" or kind in inv.by_kind:
        return inv.objects(kind)
    if not inv.readable(kind):
        return None
    list_objects = getattr(inv.cluster, "list_objects", None)
    if not callable(list_objects):
        return None
    try:
        items = list(list_objects(API_VERSIONS[kind], kind))
    except Exception as error:  # refused (403) or gone: recorded like any kind the source could not list
        inv.unreadable[kind] = f"listing {kind} failed: {type(error).__name__}: {error}"
        return None
    for item in items:
        (item.get("metadata") or {}).pop("managedFields", None)
    inv.by_kind[kind] = items
    return items


def not_listed(kind: str) -> str:
    """The INFO message for a check whose kind this source could not list."""
    return (f"not evaluated: this source did not list {kind} objects (a cluster audit lists them once "
            "kubebook.audit.sources.KINDS includes the kind)")
