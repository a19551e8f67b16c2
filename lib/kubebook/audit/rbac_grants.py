"""RBAC as data: who holds which rule, where, through which binding.

The RBAC checks and the escalation-path analysis both ask one question, "which
subjects may do VERB on RESOURCE in NAMESPACE?", so the bindings are flattened
once into :class:`Grant` rows (subject x rule x scope) and queried here with the
API server's own matching rules (``*`` wildcards, ``pods/*`` and ``*/scale``
subresource forms, ``resourceNames`` restrictions).

Built-in grants. The API server's bootstrap policy creates many powerful grants
for its own components (``system:kube-controller-manager``, the controllers'
service accounts in kube-system, ``system:masters`` ...). Reporting those as
findings would bury the real ones, so a grant is *built-in* when both:

* its binding is bootstrap policy: labelled ``kubernetes.io/bootstrapping=rbac-defaults``
  or named ``system:*``; and
* its subject is a system identity: a User or Group named ``system:*`` other than the
  everyone-groups (``system:authenticated``, ``system:unauthenticated``,
  ``system:serviceaccounts[:ns]``) and ``system:anonymous``, or a ServiceAccount in
  ``kube-system``.

A user added to a bootstrap binding, or a bootstrap role bound to anyone by a new
binding, is therefore *not* built-in. One more grant counts as built-in because
every kubeadm-style control plane makes it outside the bootstrap policy: the API
server's kubelet client identity (User ``kube-apiserver-kubelet-client``) bound to
ClusterRole ``system:kubelet-api-admin`` (``COMPONENT_GRANTS``). Built-in grants are never dropped silently:
checks report them in one INFO finding per check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubebook.audit.model import Resource
from kubebook.audit.workloads import selector_matches

BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
EVERYONE_GROUPS = ("system:authenticated", "system:unauthenticated", "system:serviceaccounts")
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
# (subject kind, subject name, role) grants that control planes make for their own components.
COMPONENT_GRANTS = frozenset({("User", "kube-apiserver-kubelet-client", "ClusterRole system:kubelet-api-admin")})


@dataclass(frozen=True)
class Subject:
    """A User, Group or ServiceAccount as named in a binding."""

    kind: str
    name: str
    namespace: str | None = None

    @property
    def key(self) -> str:
        return f"ServiceAccount:{self.namespace}/{self.name}" if self.kind == "ServiceAccount" else \
            f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"

    @property
    def resource(self) -> Resource:
        return Resource(self.kind, self.namespace, self.name)

    @property
    def is_system(self) -> bool:
        """A control-plane identity (see the module docstring); the everyone-groups are not."""
        if self.kind == "ServiceAccount":
            return self.namespace == "kube-system"
        if self.name == "system:anonymous" or self.name in EVERYONE_GROUPS:
            return False
        if self.name.startswith("system:serviceaccounts:"):
            return False
        return self.name.startswith("system:")


@dataclass(frozen=True, eq=False)
class Grant:
    """One rule held by one subject; ``namespace`` None means cluster-wide (hashed by identity)."""

    subject: Subject
    binding: Resource
    role: str
    namespace: str | None
    rule: dict[str, Any]
    builtin: bool

    @property
    def scope(self) -> str:
        return "cluster-wide" if self.namespace is None else f"in namespace {self.namespace}"

    def via(self) -> str:
        return f"{self.binding.kind} {self.binding.namespace + '/' if self.binding.namespace else ''}" \
               f"{self.binding.name} -> {self.role}"


def is_bootstrap(obj: dict[str, Any]) -> bool:
    """Created by the API server's RBAC bootstrap policy (label or ``system:`` name)."""
    meta = obj.get("metadata") or {}
    return (meta.get("labels") or {}).get(BOOTSTRAP_LABEL) == "rbac-defaults" or \
        str(meta.get("name", "")).startswith("system:")


def _meta(obj: dict[str, Any]) -> tuple[str | None, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), str(meta.get("name", ""))


def cluster_role_rules(cluster_roles: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rules per ClusterRole name, filling aggregated roles whose rules the controller has not filled.

    On a live cluster the aggregation controller has already copied the rules; in
    manifests it has not, so an aggregated role with no rules gets the union of the
    roles its ``aggregationRule`` selects (one level, as the controller does).
    """
    roles = list(cluster_roles)
    rules = {_meta(r)[1]: list(r.get("rules") or []) for r in roles}
    for role in roles:
        aggregation = role.get("aggregationRule") or {}
        name = _meta(role)[1]
        if not aggregation or rules[name]:
            continue
        for selector in aggregation.get("clusterRoleSelectors") or []:
            for other in roles:
                labels = (other.get("metadata") or {}).get("labels") or {}
                if other is not role and selector_matches(selector, labels):
                    rules[name].extend(other.get("rules") or [])
    return rules


def grants(inv: Any) -> list[Grant]:
    """Every (subject, rule, scope) the inventory's bindings create; unknown roles grant nothing."""
    cluster_rules = cluster_role_rules(inv.objects("ClusterRole"))
    role_rules = {_meta(r): list(r.get("rules") or []) for r in inv.objects("Role")}
    found: list[Grant] = []
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in inv.objects(kind):
            namespace, name = _meta(binding)
            ref = binding.get("roleRef") or {}
            ref_kind, ref_name = ref.get("kind"), str(ref.get("name", ""))
            if ref_kind == "ClusterRole":
                rules = cluster_rules.get(ref_name, [])
            else:
                rules = role_rules.get((namespace, ref_name), [])
            scope = None if kind == "ClusterRoleBinding" else namespace
            bootstrap = is_bootstrap(binding)
            for raw in binding.get("subjects") or []:
                subject = Subject(str(raw.get("kind", "")), str(raw.get("name", "")),
                                  raw.get("namespace") or (namespace if raw.get("kind") == "ServiceAccount" else None))
                role = f"{ref_kind} {ref_name}"
                builtin = (bootstrap and subject.is_system) or (subject.kind, subject.name, role) in COMPONENT_GRANTS
                for rule in rules:
                    found.append(Grant(subject, Resource(kind, namespace, name), role, scope, rule, builtin))
    return found


def _covers(values: Iterable[str], wanted: str) -> bool:
    values = list(values or [])
    return "*" in values or wanted in values


def resource_matches(resources: Iterable[str], wanted: str) -> bool:
    """RBAC resource matching: exact, ``*``, ``base/*`` for any subresource, ``*/sub``."""
    base, _, sub = wanted.partition("/")
    for item in resources or []:
        if item in ("*", wanted):
            return True
        if sub and item == f"{base}/*":
            return True
        if sub and item == f"*/{sub}":
            return True
    return False


def rule_allows(rule: dict[str, Any], verb: str, group: str, resource: str) -> bool:
    """Whether one PolicyRule allows ``verb`` on ``group``/``resource`` (any name)."""
    return (_covers(rule.get("verbs") or [], verb) and _covers(rule.get("apiGroups") or [], group)
            and resource_matches(rule.get("resources") or [], resource))


def restricted_names(grant: Grant) -> list[str]:
    """The ``resourceNames`` the rule is limited to (empty: every object)."""
    return [str(n) for n in grant.rule.get("resourceNames") or []]


def unreadable_kinds(inv: Any, kinds: Iterable[str] = RBAC_KINDS) -> list[str]:
    """RBAC kinds the source could not list (any of them makes the RBAC verdicts incomplete)."""
    return [k for k in kinds if not inv.readable(k)]
