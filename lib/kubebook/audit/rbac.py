"""RBAC checks (CIS 5.1): who can do what, default service accounts, escalation paths.

The permission checks ("who can read secrets", "who can create pods" ...) are one
generic query over :mod:`kubebook.audit.rbac_grants` driven by
``rules/rbac.yaml``; findings are reported per binding, because the binding is
what an operator changes. Built-in bootstrap grants (defined in rbac_grants) are
summarised in one INFO finding per check instead of dropped. When no binding
matches, the check says PASS for the whole inventory, so its verdict is explicit.
"""

from __future__ import annotations

import base64
import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kubebook.audit import catalog, rbac_scope, yamlload
from kubebook.audit.grouped import Grouped
from kubebook.audit.model import Check, Finding, Resource
from kubebook.audit.rbac_grants import (
    Grant,
    grants,
    is_bootstrap,
    restricted_names,
    rule_allows,
)
from kubebook.audit.rbac_paths import HOLDS, EscalationGraph, label
from kubebook.audit.workloads import CLUSTER, effective_automount, not_evaluated, top_level_workloads

CHECK_IDS = ("rbac.cluster-admin-binding", "rbac.secret-read", "rbac.wildcard", "rbac.pod-create",
             "rbac.default-sa-automount", "rbac.default-sa-bound", "rbac.token-automount", "rbac.system-masters",
             "rbac.bind-escalate-impersonate", "rbac.pv-create", "rbac.node-proxy", "rbac.csr-approval",
             "rbac.webhook-config", "rbac.sa-token-create", "rbac.pod-exec", "rbac.escalation-path",
             "rbac.service-status-update", "rbac.admission-policy-write")
BUILTIN = Resource("Cluster", None, "built-in-rbac")
ADMINS = Resource("Cluster", None, "cluster-admin-bindings")
LIST_LIMIT = 8


@functools.cache
def permission_queries() -> dict[str, list[dict[str, Any]]]:
    """``rules/rbac.yaml``: check id -> the (verbs, group, resource) triples it looks for."""
    text = (Path(__file__).resolve().parent / "rules" / "rbac.yaml").read_text(encoding="utf-8")
    return dict(yamlload.load(text))  # PyYAML semantics, parsed by ryaml


def applies_to(inv: Any) -> bool:
    """A cluster always has RBAC; manifests only when they carry RBAC objects or workloads."""
    if inv.source == "cluster":
        return True
    if inv.source != "manifests":
        return False
    kinds = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount")
    return any(inv.objects(k) for k in kinds)


def evaluate(inv: Any) -> Iterator[Finding]:
    errors = not_evaluated(inv, ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"),
                           CHECK_IDS)
    if errors:
        yield from errors
        return
    all_grants = grants(inv)
    yield from _cluster_admin(all_grants)
    by_rule = _by_rule(all_grants)
    scopes = rbac_scope.for_inventory(inv)
    for check_id, queries in permission_queries().items():
        yield from _who_can(catalog.get(check_id), queries, by_rule, scopes)
    yield from _wildcards(inv)
    yield from _default_sa(inv, all_grants)
    yield from _token_automount(inv, all_grants)
    yield from _system_masters(inv, all_grants)
    yield from _escalation(inv, all_grants)


def _short(items: Iterable[str]) -> str:
    items = sorted(set(items))
    head = ", ".join(items[:LIST_LIMIT])
    return head + (f" and {len(items) - LIST_LIMIT} more" if len(items) > LIST_LIMIT else "")


def _builtin_info(check: Check, matched: list[Grant]) -> Iterator[Finding]:
    builtin = [g for g in matched if g.builtin]
    if builtin:
        yield Finding(check, BUILTIN, "INFO",
                      f"ignored {len(builtin)} built-in bootstrap grant(s) to system identities: "
                      + _short(f"{g.subject} via {g.binding.name}" for g in builtin))


def _per_binding(check: Check, matched: list[Grant], what: dict[Grant, str], none: str) -> Iterator[Finding]:
    """One finding per binding: FAIL, or WARN when every matching rule is limited to resourceNames."""
    real = [g for g in matched if not g.builtin]
    by_binding: dict[Resource, list[Grant]] = defaultdict(list)
    for grant in real:
        by_binding[grant.binding].append(grant)
    for binding, held in sorted(by_binding.items(), key=lambda item: str(item[0])):
        names = sorted({n for g in held for n in restricted_names(g)})
        limited = all(restricted_names(g) for g in held)
        message = (f"{_short(str(g.subject) for g in held)} can {_short(what[g] for g in held)} "
                   f"{held[0].scope} via {held[0].role}")
        if limited:
            message += f" (only objects named {_short(names)})"
        yield Finding(check, binding, "WARN" if limited else "FAIL", message)
    yield from _builtin_info(check, matched)
    if not real:
        yield Finding(check, CLUSTER, "PASS", none)


def _who_can(check: Check, queries: list[dict[str, Any]], by_rule: dict[int, list[Grant]],
             scopes: rbac_scope.ResourceScopes | None = None) -> Iterator[Finding]:
    """Per-binding verdicts; cluster-admin grants are left to rbac.cluster-admin-binding (INFO here).

    A grant through a RoleBinding only counts for actions a namespace can hold
    (``scopes``): no RoleBinding reaches nodes/proxy or impersonates a user.
    """
    scopes = scopes or rbac_scope.builtin()
    matched: list[Grant] = []
    admins: list[Grant] = []
    what: dict[Grant, str] = {}
    # grants of one role share its rule objects: judge each rule once, skip all its grants when it allows nothing
    for held in by_rule.values():
        rule = held[0].rule
        actions = [(verb, q["group"], q["resource"]) for q in queries for verb in q["verbs"]
                   if rule_allows(rule, verb, q["group"], q["resource"])]
        if not actions:
            continue
        everywhere = ", ".join(f"{verb} {resource}" for verb, _, resource in actions)
        in_namespace = ", ".join(f"{verb} {resource}" for verb, group, resource in actions
                                 if scopes.grantable_in_namespace(verb, group, resource))
        for grant in held:
            text = everywhere if grant.namespace is None else in_namespace
            if not text:
                continue
            if is_cluster_admin(grant) and not grant.builtin:
                admins.append(grant)
                continue
            matched.append(grant)
            what[grant] = text
    wanted = _short(f"{'/'.join(q['verbs'])} {q['resource']}" for q in queries)
    if admins:
        yield Finding(check, ADMINS, "INFO", f"also allowed to {_short(str(g.subject) for g in admins)} through "
                      f"cluster-admin bindings ({_short(g.binding.name for g in admins)}), reported under "
                      "rbac.cluster-admin-binding")
    yield from _per_binding(check, matched, what, f"no binding outside the bootstrap policy allows {wanted}"
                            + (" (besides the cluster-admin bindings)" if admins else ""))


def _by_rule(all_grants: list[Grant]) -> dict[int, list[Grant]]:
    """Grants grouped by their rule object (identity), in first-seen order."""
    groups: dict[int, list[Grant]] = defaultdict(list)
    for grant in all_grants:
        groups[id(grant.rule)].append(grant)
    return groups


def is_cluster_admin(grant: Grant) -> bool:
    """Bound to ClusterRole cluster-admin, or to a rule with '*' verbs on '*' resources in '*' groups."""
    rule = grant.rule
    if grant.role == "ClusterRole cluster-admin":
        return True
    verbs = rule.get("verbs") or ()
    return "*" in verbs and "*" in (rule.get("apiGroups") or ()) and "*" in (rule.get("resources") or ())


def _cluster_admin(all_grants: list[Grant]) -> Iterator[Finding]:
    check = catalog.get("rbac.cluster-admin-binding")
    matched = [g for g in all_grants if is_cluster_admin(g)]
    what = {g: "do anything (cluster-admin)" for g in matched}
    yield from _per_binding(check, matched, what, "no binding outside the bootstrap policy grants cluster-admin")


def _wildcards(inv: Any) -> Iterator[Finding]:
    check = catalog.get("rbac.wildcard")
    builtin: list[str] = []
    flagged = 0
    for kind in ("ClusterRole", "Role"):
        for role in inv.objects(kind):
            fields = sorted({f for rule in role.get("rules") or [] for f in ("verbs", "resources", "apiGroups")
                             if "*" in (rule.get(f) or [])})
            if not fields:
                continue
            if is_bootstrap(role):
                builtin.append(Resource.of(role, kind).name)
                continue
            flagged += 1
            yield Finding(check, Resource.of(role, kind), "FAIL", f"uses '*' in {', '.join(fields)}")
    if builtin:
        yield Finding(check, BUILTIN, "INFO", f"ignored {len(builtin)} built-in bootstrap role(s) with wildcards: "
                      + _short(builtin))
    if not flagged:
        yield Finding(check, CLUSTER, "PASS", "no Role or ClusterRole outside the bootstrap policy uses '*'")


def _namespaces(inv: Any) -> list[str]:
    names = {str((ns.get("metadata") or {}).get("name")) for ns in inv.objects("Namespace")}
    names |= {(sa.get("metadata") or {}).get("namespace") for sa in inv.objects("ServiceAccount")}
    return sorted(n for n in names if n)


def _default_sa(inv: Any, all_grants: list[Grant]) -> Iterator[Finding]:
    check = catalog.get("rbac.default-sa-automount")
    defaults = {(sa.get("metadata") or {}).get("namespace"): sa for sa in inv.objects("ServiceAccount")
                if (sa.get("metadata") or {}).get("name") == "default"}
    for namespace in _namespaces(inv):
        resource = Resource("ServiceAccount", namespace, "default")
        sa = defaults.get(namespace)
        if sa is None:
            where = "the manifests define" if inv.source == "manifests" else "the cluster has"
            yield Finding(check, resource, "FAIL" if inv.source == "manifests" else "WARN",
                          f"{where} no default ServiceAccount object; the one Kubernetes creates mounts tokens")
        elif sa.get("automountServiceAccountToken") is False:
            yield Finding(check, resource, "PASS", "automountServiceAccountToken: false")
        else:
            value = sa.get("automountServiceAccountToken")
            yield Finding(check, resource, "FAIL", f"automountServiceAccountToken is {_yaml(value)}, not false")
    bound = [g for g in all_grants if g.subject.kind == "ServiceAccount" and g.subject.name == "default"]
    what = {g: _rule_text(g.rule) for g in bound}
    yield from _per_binding(catalog.get("rbac.default-sa-bound"), bound, what,
                            "no binding grants permissions to a default service account")


def _yaml(value: Any) -> str:
    return "unset (defaults to true)" if value is None else str(value).lower()


def _rule_text(rule: dict[str, Any]) -> str:
    return f"{','.join(rule.get('verbs') or [])} {','.join(rule.get('resources') or [])}"


def _token_automount(inv: Any, all_grants: list[Grant]) -> Iterator[Finding]:
    """Pods that mount a token they have no evidence of needing.

    FAIL when the account holds no RBAC rule, and when the workload never named
    a service account (it runs as the namespace's default one, CIS 5.1.5/5.1.6)
    even if that account is bound: the binding is named so it can be moved to an
    account of the workload's own.
    """
    check = catalog.get("rbac.token-automount")
    holders: dict[tuple[str | None, str], list[Grant]] = defaultdict(list)
    for grant in all_grants:
        if grant.subject.kind == "ServiceAccount":
            holders[(grant.subject.namespace, grant.subject.name)].append(grant)
        elif grant.subject.kind == "Group" and grant.subject.name.startswith("system:serviceaccounts:"):
            holders[(grant.subject.name.split(":", 2)[2], "*")].append(grant)
    accounts = {((sa.get("metadata") or {}).get("namespace"), (sa.get("metadata") or {}).get("name")): sa
                for sa in inv.objects("ServiceAccount")}
    grouped = Grouped()
    for workload in top_level_workloads(inv):
        named = workload.spec.get("serviceAccountName") or workload.spec.get("serviceAccount")
        sa_name = named or "default"
        mounted, why = effective_automount(workload.spec, accounts.get((workload.namespace, sa_name)))
        held = holders.get((workload.namespace, sa_name), []) + holders.get((workload.namespace, "*"), [])
        if not mounted:
            grouped.add(check, workload.resource, "PASS", f"no token mounted ({why})")
        elif held and not named:
            bindings = _short(f"{g.binding.kind} {g.binding.namespace + '/' if g.binding.namespace else ''}"
                              f"{g.binding.name}" for g in held)
            grouped.add(check, workload.resource, "FAIL",
                        f"sets no serviceAccountName, so it mounts the token of the namespace's default "
                        f"ServiceAccount ({why}), which {bindings} grant(s) {len(held)} RBAC rule(s): no evidence "
                        "the workload needs them")
        elif held:
            grouped.add(check, workload.resource, "PASS",
                        f"mounts the token of ServiceAccount {sa_name}, which holds {len(held)} RBAC rule(s)")
        else:
            grouped.add(check, workload.resource, "FAIL",
                        f"mounts the token of ServiceAccount {sa_name} ({why}) but no binding grants it anything")
    yield from grouped.entries()  # no workload: nothing judged, left out of the score


def _system_masters(inv: Any, all_grants: list[Grant]) -> Iterator[Finding]:
    """Bindings naming system:masters (outside bootstrap) and an audit identity that is a member."""
    check = catalog.get("rbac.system-masters")
    found = False
    for grant in all_grants:
        if grant.subject.kind == "Group" and grant.subject.name == "system:masters" and not grant.builtin:
            found = True
            yield Finding(check, grant.binding, "FAIL", f"binds group system:masters to {grant.role}")
            break
    organizations = _client_cert_groups(getattr(inv, "cluster", None))
    if organizations is not None and "system:masters" in organizations:
        found = True
        yield Finding(check, Resource("Kubeconfig", None, str(inv.cluster.kubeconfig)), "WARN",
                      "the audit's own client certificate is in group system:masters, which bypasses RBAC and "
                      "cannot be revoked short of rotating the CA; use a cluster-admin-bound identity instead")
    if not found:
        yield Finding(check, CLUSTER, "PASS", "no binding outside the bootstrap policy names group system:masters"
                      + ("" if organizations is None else "; the audit's identity is not in it"))


def _client_cert_groups(cluster: Any) -> list[str] | None:
    """The O= values (groups) of the connected kubeconfig's client certificate, or None."""
    if cluster is None:
        return None
    config = getattr(getattr(cluster, "api_client", None), "configuration", None)
    path = getattr(config, "cert_file", None)
    if not path:
        return None
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if b"-----BEGIN" not in data:
        data = base64.b64decode(data)
    cert = x509.load_pem_x509_certificate(data)
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def _escalation(inv: Any, all_grants: list[Grant]) -> Iterator[Finding]:
    """Subjects with a path to cluster-admin; direct holders are left to rbac.cluster-admin-binding."""
    check = catalog.get("rbac.escalation-path")
    graph = EscalationGraph(inv, all_grants)
    builtin: list[str] = []
    holders: list[str] = []
    flagged = 0
    for key in sorted(graph.subjects):
        subject = graph.subjects[key]
        path = graph.shortest_path(key)
        if not path:
            continue
        if subject.is_system:
            builtin.append(str(subject))
            continue
        if len(path) == 1 and path[0].how.startswith(HOLDS):
            holders.append(str(subject))
            continue
        flagged += 1
        hops = " => ".join(f"[{step.how}] {label(step.to)}" for step in path)
        yield Finding(check, subject.resource, "FAIL",
                      f"can become cluster-admin in {len(path)} step(s): {subject} => {hops}")
    if holders:
        yield Finding(check, ADMINS, "INFO", f"{_short(holders)} hold cluster-admin directly (reported under "
                      "rbac.cluster-admin-binding)")
    if builtin:
        yield Finding(check, BUILTIN, "INFO", f"{len(builtin)} system identities reach cluster-admin by design: "
                      + _short(builtin))
    if not flagged:
        yield Finding(check, CLUSTER, "PASS", "no user, group or service account can escalate to cluster-admin")
