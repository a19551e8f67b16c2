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
``plan`` reads, ``preview`` sends every fix with ``dryRun=All`` and returns the diff
the API server would produce, ``apply`` sends them for real. Nothing mutates unless
``apply`` is called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from kubernetes.client.exceptions import ApiException

from kubebook.audit import pss
from kubebook.audit.network import SYSTEM_NAMESPACES, default_deny
from kubebook.audit.rbac_grants import grants
from kubebook.audit.sources import AuditInventory
from kubebook.cluster import Cluster, call
from kubebook.errors import ClusterError, ParameterError

FIELD_MANAGER = "kubebook-remediate"
POLICY_NAME = "kubebook-default-deny"
PSA = "pod-security.kubernetes.io/"
LEVELS = ("baseline", "restricted")
FIX_KINDS = ("psa-labels", "default-deny", "default-sa-automount")
APPLY = "application/apply-patch+yaml"


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

    def frame(self) -> pd.DataFrame:
        rows = [{"fix": f.key, "check": f.check, "reason": f.reason} for f in self.fixes]
        return pd.DataFrame(rows, columns=["fix", "check", "reason"])


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


def plan(inv: AuditInventory, *, namespaces: Iterable[str] | None = None, level: str = "baseline",
         kinds: Iterable[str] = FIX_KINDS) -> Plan:
    """The fixes the inventory needs, limited to ``namespaces`` (default: every non-system namespace)."""
    kinds = _validate(level, kinds)
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
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
        PSA + "enforce": level, PSA + "enforce-version": "latest", PSA + "audit": "restricted",
        PSA + "warn": "restricted"}}}
    result.fixes.append(Fix("pss.namespace-enforce", "Namespace", None, name, body,
                            f"enforce Pod Security {level} (audit and warn restricted)"))


def _deny(inv: AuditInventory, name: str, result: Plan) -> None:
    policies = [p for p in inv.objects("NetworkPolicy") if (p.get("metadata") or {}).get("namespace") == name]
    if any(default_deny(p, "Ingress") for p in policies) and any(default_deny(p, "Egress") for p in policies):
        return
    dns = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    labels = {"app.kubernetes.io/managed-by": "kubebook"}
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": POLICY_NAME, "namespace": name, "labels": labels},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": [{"ports": dns}]}}
    result.fixes.append(Fix("network.default-deny-ingress", "NetworkPolicy", name, POLICY_NAME, body,
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
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name},
            "automountServiceAccountToken": False}
    result.fixes.append(Fix("rbac.default-sa-automount", "ServiceAccount", name, "default", body,
                            "stop mounting API tokens into pods that use the default account"))


def _calls(cluster: Cluster, fix: Fix) -> tuple[Callable[..., Any], Callable[..., Any], tuple[Any, ...]]:
    """(read, server-side-apply patch, positional args) for a fix's object."""
    core, net = cluster.core, cluster.networking
    if fix.kind == "Namespace":
        return core.read_namespace, core.patch_namespace, (fix.name,)
    if fix.kind == "ServiceAccount":
        return core.read_namespaced_service_account, core.patch_namespaced_service_account, (fix.name, fix.namespace)
    return net.read_namespaced_network_policy, net.patch_namespaced_network_policy, (fix.name, fix.namespace)


def _send(cluster: Cluster, fix: Fix, dry_run: bool) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(object before, object after) for one fix; ``dry_run`` asks the server not to persist."""
    read, patch, args = _calls(cluster, fix)
    client = cluster.api_client
    try:
        before = client.sanitize_for_serialization(call(read, *args, server=cluster.server))
    except ApiException as error:
        if error.status != 404:
            raise ClusterError(f"reading {fix.key} failed: {error.status} {error.reason}") from error
        before = None
    extra = {"dry_run": "All"} if dry_run else {}
    try:
        after = call(patch, *args, fix.body, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY,
                     server=cluster.server, **extra)
    except ApiException as error:
        raise ClusterError(f"applying {fix.key} failed: {error.status} {error.reason}",
                           hint="nothing after this fix was sent; earlier fixes are listed in the result") from error
    return before, client.sanitize_for_serialization(after)


FIELDS = {"Namespace": ("metadata", "labels"), "ServiceAccount": ("automountServiceAccountToken",),
          "NetworkPolicy": ("spec",)}


def _field(obj: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _rows(fix: Fix, before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    path = FIELDS[fix.kind]
    old, new = _field(before, path), _field(after, path)
    if isinstance(new, dict) and isinstance(old, dict | None):
        old = old or {}
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return [{"object": fix.key, "field": ".".join((*path, k)), "before": old.get(k), "after": new.get(k),
                 "check": fix.check} for k in keys]
    if old == new:
        return []
    return [{"object": fix.key, "field": ".".join(path), "before": old, "after": new, "check": fix.check}]


COLUMNS = ["object", "field", "before", "after", "check"]


def preview(cluster: Cluster, fixes: list[Fix]) -> pd.DataFrame:
    """What each fix would change, from the API server's own server-side dry run; nothing is persisted.

    A fix the server refuses (its namespace was deleted meanwhile, say) shows as a row
    with field ``(refused)`` and the reason, so the preview of the others still shows.
    """
    rows: list[dict[str, Any]] = []
    for fix in fixes:
        try:
            rows.extend(_rows(fix, *_send(cluster, fix, dry_run=True)))
        except ClusterError as error:
            rows.append({"object": fix.key, "field": "(refused)", "before": None, "after": str(error),
                         "check": fix.check})
    return pd.DataFrame(rows, columns=COLUMNS)


def apply(cluster: Cluster, fixes: list[Fix], *, confirm: bool) -> pd.DataFrame:
    """Apply the fixes for real; ``confirm`` must be True (the caller asked a human or got the parameter)."""
    if not confirm:
        raise ParameterError("refusing to change the cluster without confirmation",
                             hint="set confirm = True (headless) or press the Apply button")
    rows = [row for fix in fixes for row in _rows(fix, *_send(cluster, fix, dry_run=False))]
    return pd.DataFrame(rows, columns=COLUMNS)


def confirm_button(cluster: Cluster, fixes: list[Fix], on_done: Callable[[pd.DataFrame], None]) -> Any:
    """An ipywidgets button that applies the fixes when a person presses it (interactive confirmation)."""
    import ipywidgets as widgets

    button = widgets.Button(description=f"Apply {len(fixes)} fix(es)", button_style="danger")
    output = widgets.Output()

    def clicked(_: Any) -> None:
        button.disabled = True
        with output:
            on_done(apply(cluster, fixes, confirm=True))

    button.on_click(clicked)
    return widgets.VBox([button, output])
