"""Resource scope for RBAC: which permissions a namespaced grant (a RoleBinding) can give at all.

A RoleBinding's rules apply only to requests in its namespace. Requests for
cluster-scoped resources (nodes/proxy, persistentvolumes, webhook configurations
...) and impersonation of users and groups carry no namespace, so a Role with
``resources: ["*"]`` bound in a namespace cannot reach them; reporting it would
be a false finding. Scope comes from the API server's discovery on a live
cluster (``for_inventory``) and from the built-in table of the core API
(``rules/scope.yaml``) for manifests; a resource neither knows (a CRD in
manifests) is taken as namespaced, so an unknown scope never hides a grant.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubebook.audit import yamlload

RULES = Path(__file__).resolve().parent / "rules" / "scope.yaml"


class ResourceScopes:
    """Cluster-scoped (group, resource) pairs and the few namespaced requests on them."""

    __slots__ = ("cluster_scoped", "namespaced_requests", "source")

    def __init__(self, cluster_scoped: Iterable[tuple[str, str]], namespaced_requests: Iterable[tuple[str, str, str]],
                 source: str) -> None:
        self.cluster_scoped = frozenset(cluster_scoped)
        self.namespaced_requests = frozenset(namespaced_requests)
        self.source = source

    def namespaced(self, group: str, resource: str) -> bool:
        """Whether objects of ``group``/``resource`` (or its subresource) live in a namespace."""
        return (group, resource.partition("/")[0]) not in self.cluster_scoped

    def grantable_in_namespace(self, verb: str, group: str, resource: str) -> bool:
        """Whether a RoleBinding can grant ``verb`` on ``group``/``resource``."""
        return self.namespaced(group, resource) or (verb, group, resource.partition("/")[0]) in \
            self.namespaced_requests


@functools.cache
def _table() -> dict[str, Any]:
    return dict(yamlload.load(RULES.read_text(encoding="utf-8")))


def _pairs(section: str) -> set[tuple[str, str]]:
    return {(group, resource) for group, resources in (_table().get(section) or {}).items() for resource in resources}


def _requests() -> set[tuple[str, str, str]]:
    return {(r["verb"], r["group"], r["resource"]) for r in _table().get("namespaced_requests") or []}


@functools.cache
def builtin() -> ResourceScopes:
    """The built-in table of the core API (kube-apiserver's own resources), for manifests."""
    return ResourceScopes(_pairs("cluster_scoped") | _pairs("virtual_cluster_scoped"), _requests(),
                          "built-in table of the core API")


def from_discovery(resources: Iterable[tuple[str, str, bool]]) -> ResourceScopes:
    """Scopes from discovery rows ``(group, resource, namespaced)``; virtual resources added from the table."""
    cluster = {(group, resource) for group, resource, namespaced in resources if not namespaced}
    return ResourceScopes(cluster | _pairs("virtual_cluster_scoped"), _requests(), "the API server's discovery")


def discovery_rows(served: Iterable[Any]) -> list[tuple[str, str, bool]]:
    """``(group, resource, namespaced)`` from ``kubebook.cluster.Cluster.resources()`` values."""
    rows = []
    for res in served:
        api_version = str(res.api_version)
        rows.append((api_version.rpartition("/")[0] if "/" in api_version else "", str(res.plural),
                     bool(res.namespaced)))
    return rows


def for_inventory(inv: Any) -> ResourceScopes:
    """Discovery when the inventory came from a cluster that offers it, else the built-in table.

    ``inv.resource_scopes`` (when a source set it) wins; a cluster whose discovery
    cannot be read falls back to the table rather than failing the RBAC checks.
    """
    given = getattr(inv, "resource_scopes", None)
    if isinstance(given, ResourceScopes):
        return given
    cluster = getattr(inv, "cluster", None)
    resources = getattr(cluster, "resources", None)
    if inv.source != "cluster" or not callable(resources):
        return builtin()
    try:
        scopes = from_discovery(discovery_rows(resources().values()))
    except Exception:  # discovery refused or unreachable: the core table is still right for the core API
        return builtin()
    object.__setattr__(inv, "resource_scopes", scopes)
    return scopes
