"""Fixes for audit findings that are safe to automate, applied with server-side apply after a dry run.

Three kinds of fix, each a small server-side-apply document owned by the field
manager ``kubebook-remediate`` (so a re-run changes nothing and a human can see
who set the field):

* Pod Security admission labels on a namespace (``enforce`` at ``level``, ``audit``
  and ``warn`` at restricted), only when every pod already in the namespace meets
  ``level`` - otherwise the next rollout would be rejected, so it is skipped and said why;
* a default-deny NetworkPolicy (ingress and egress, DNS egress allowed) in a
  namespace with no default deny;
* ``automountServiceAccountToken: false`` on a namespace's default ServiceAccount,
  skipped when a binding grants that account permissions (someone relies on it).

System namespaces (kube-system, kube-public, kube-node-lease) are never touched.
``plan`` reads, ``preview`` sends every fix with ``dryRun=All`` and returns one
:class:`kubebook.changes.Change` per object (the unified diff the API server's own
answer makes), ``apply`` sends them for real and returns the same per-object diffs.
Nothing mutates unless ``apply`` is called; harden-remediate calls it only through
the mutation guard in :mod:`kubebook.notebook`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubebook.audit import pss
from kubebook.audit.network import SYSTEM_NAMESPACES, default_deny
from kubebook.audit.rbac_grants import grants
from kubebook.audit.sources import AuditInventory
from kubebook.changes import Change, diff_objects, dry_run_apply
from kubebook.cluster import Cluster
from kubebook.errors import ClusterError, ParameterError

FIELD_MANAGER = "kubebook-remediate"
POLICY_NAME = "kubebook-default-deny"
PSA = "pod-security.kubernetes.io/"
LEVELS = ("baseline", "restricted")
FIX_KINDS = ("psa-labels", "default-deny", "default-sa-automount")
# The checks each kind of fix resolves (the re-audit looks at these).
CHECKS = {"psa-labels": ("pss.namespace-enforce",),
          "default-deny": ("network.default-deny-ingress", "network.default-deny-egress"),
          "default-sa-automount": ("rbac.default-sa-automount",)}


@dataclass
class Fix:
    """One server-side-apply document and the check it resolves."""

    check: str
    kind: str
    namespace: str | None
    name: str
    body: dict[str, Any]
    reason: str

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass
class Plan:
    fixes: list[Fix] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def rows(self) -> list[dict[str, str]]:
        """One row per fix: the object, the check it resolves, why."""
        return [{"fix": f.key, "check": f.check, "reason": f.reason} for f in self.fixes]


def names(text: str) -> list[str]:
    """A runbook's comma-separated parameter as a list (``"a, b,"`` gives ``["a", "b"]``)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _validate(level: str, kinds: Iterable[str]) -> list[str]:
    problems = []
    if level not in LEVELS:
        problems.append(f"level {level!r} must be one of {LEVELS}")
    unknown = sorted(set(kinds) - set(FIX_KINDS))
    if unknown:
        problems.append(f"unknown fix kinds {unknown}; choose from {list(FIX_KINDS)}")
    if problems:
        raise ParameterError("invalid remediation settings", problems=problems)
    return list(kinds)


def plan(inv: AuditInventory, *, namespaces: str | Iterable[str] | None = None, level: str = "baseline",
         kinds: str | Iterable[str] = FIX_KINDS) -> Plan:
    """The fixes the inventory needs, limited to ``namespaces`` (default: every non-system namespace).

    ``namespaces`` and ``kinds`` may be lists or comma-separated text (a runbook parameter).
    """
    if isinstance(namespaces, str):
        namespaces = names(namespaces) or None
    kinds = _validate(level, names(kinds) if isinstance(kinds, str) else kinds)
    existing = {str((ns.get("metadata") or {}).get("name")): ns for ns in inv.objects("Namespace")}
    wanted = sorted(existing) if namespaces is None else list(namespaces)
    missing = [n for n in wanted if n not in existing]
    if missing:
        raise ParameterError(f"namespaces not found: {', '.join(missing)}",
                             hint=f"existing namespaces: {', '.join(sorted(existing))}")
    result = Plan()
    for name in wanted:
        if name in SYSTEM_NAMESPACES:
            result.skipped.append({"namespace": name, "reason": "system namespace: never remediated automatically"})
            continue
        if (existing[name].get("status") or {}).get("phase") == "Terminating":
            result.skipped.append({"namespace": name, "reason": "namespace is being deleted"})
            continue
        if "psa-labels" in kinds:
            _psa(inv, existing[name], level, result)
        if "default-deny" in kinds:
            _deny(inv, name, result)
        if "default-sa-automount" in kinds:
            _automount(inv, name, result)
    return result


def _psa(inv: AuditInventory, namespace: dict[str, Any], level: str, result: Plan) -> None:
    name = str(namespace["metadata"]["name"])
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    if labels.get(PSA + "enforce") in LEVELS:
        return
    violations = []
    for pod in inv.objects("Pod"):
        if (pod.get("metadata") or {}).get("namespace") == name:
            failed = pss.evaluate_pod(pod, level)
            if failed:
                violations.append(f"{pod['metadata']['name']} ({failed[0][1]})")
    if violations:
        result.skipped.append({"namespace": name, "reason": f"pods violate {level}: {', '.join(violations[:3])}"})
        return
    result.fixes.append(Fix("pss.namespace-enforce", "Namespace", None, name, psa_body(name, level),
                            f"enforce Pod Security {level} (audit and warn restricted)"))


def _deny(inv: AuditInventory, name: str, result: Plan) -> None:
    policies = [p for p in inv.objects("NetworkPolicy") if (p.get("metadata") or {}).get("namespace") == name]
    if any(default_deny(p, "Ingress") for p in policies) and any(default_deny(p, "Egress") for p in policies):
        return
    result.fixes.append(Fix("network.default-deny-ingress", "NetworkPolicy", name, POLICY_NAME, deny_body(name),
                            "deny all ingress and all egress but DNS by default"))


def _automount(inv: AuditInventory, name: str, result: Plan) -> None:
    account = next((sa for sa in inv.objects("ServiceAccount") if (sa.get("metadata") or {}).get("namespace") == name
                    and sa["metadata"].get("name") == "default"), None)
    if account is None or account.get("automountServiceAccountToken") is False:
        return
    used = [g for g in grants(inv) if g.subject.kind == "ServiceAccount" and g.subject.name == "default"
            and g.subject.namespace == name]
    if used:
        result.skipped.append({"namespace": name, "reason": f"default ServiceAccount is granted permissions by "
                               f"{used[0].binding}: give that workload its own account first"})
        return
    result.fixes.append(Fix("rbac.default-sa-automount", "ServiceAccount", name, "default", automount_body(name),
                            "stop mounting API tokens into pods that use the default account"))


def psa_body(namespace: str, level: str = "baseline") -> dict[str, Any]:
    """Pod Security labels: enforce ``level``, audit and warn restricted."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {
        PSA + "enforce": level, PSA + "enforce-version": "latest", PSA + "audit": "restricted",
        PSA + "warn": "restricted"}}}


def deny_body(namespace: str) -> dict[str, Any]:
    """A default-deny NetworkPolicy (all ingress, all egress but DNS)."""
    dns = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": POLICY_NAME, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "kubebook"}},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": [{"ports": dns}]}}


def automount_body(namespace: str) -> dict[str, Any]:
    """The namespace's default ServiceAccount without automounted API tokens."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace},
            "automountServiceAccountToken": False}


# A report card's snippet is what its check's remediation text says: restricted (the check's target level;
# harden-remediate's `level` parameter chooses what it applies), kubebook-default-deny with DNS egress.
_SNIPPETS = {"pss.namespace-enforce": lambda namespace: psa_body(namespace, "restricted"),
             "network.default-deny-ingress": deny_body,
             "network.default-deny-egress": deny_body, "rbac.default-sa-automount": automount_body}


def snippet(check: str, namespace: str | None) -> dict[str, Any] | None:
    """The document this module would apply for ``check`` in ``namespace`` (for a report's remediation card)."""
    build = _SNIPPETS.get(check)
    return build(namespace) if build is not None and namespace else None


def preview(cluster: Cluster, fixes: list[Fix]) -> list[Change]:
    """What each fix would change: the API server's own server-side dry run, one diff per object.

    A fix the server refuses (its namespace was deleted meanwhile, say) is a ``refused``
    Change with the server's message, so the preview of the others still shows.
    """
    changes = dry_run_apply(cluster, [fix.body for fix in fixes], field_manager=FIELD_MANAGER)
    return [c._replace(reason=c.reason or fix.reason) for c, fix in zip(changes, fixes, strict=True)]


def apply(cluster: Cluster, fixes: list[Fix], *, confirm: bool) -> list[Change]:
    """Apply the fixes for real; ``confirm`` must be True (the mutation guard asked a human or got the parameter).

    Returns the per-object diff between the object before and what the server stored.
    """
    if not confirm:
        raise ParameterError("refusing to change the cluster without confirmation",
                             hint="set confirm = True (headless) or press the Apply button")
    done = []
    for fix in fixes:
        before = cluster.get_object(fix.body["apiVersion"], fix.kind, fix.name, fix.namespace)
        try:
            after = cluster.apply_object(fix.body, field_manager=FIELD_MANAGER)
        except ClusterError as error:
            raise ClusterError(f"applying {fix.key} failed: {error.message}",
                               hint="nothing after this fix was sent; earlier fixes were applied") from error
        done.append(diff_objects(before, after, key=fix.key, reason=fix.reason))
    return done


def planned_checks(fixes: Iterable[Fix]) -> set[tuple[str, str]]:
    """(check, namespace) pairs the fixes resolve: what a re-audit looks at."""
    kinds = {"Namespace": "psa-labels", "NetworkPolicy": "default-deny", "ServiceAccount": "default-sa-automount"}
    return {(check, fix.namespace or fix.name) for fix in fixes for check in CHECKS[kinds[fix.kind]]}


def reaudit(cluster: Cluster, fixes: list[Fix]) -> list[dict[str, Any]]:
    """Audit the cluster again and keep the findings of the checks the fixes resolve."""
    from kubebook.audit.engine import run_audit

    wanted = planned_checks(fixes)
    findings = run_audit(AuditInventory.from_cluster(cluster)).findings
    columns = ["check", "kind", "namespace", "name", "result", "message"]
    return [row for row in findings[columns].to_dict(orient="records")
            if (row["check"], row["namespace"] or row["name"]) in wanted]
