"""kubebook's own objects: say why they exist and what to do instead of removing access the product needs.

The local control plane, the provisioned baseline and the runbook runner create RBAC
objects that grant wide access on purpose (the admin group kubebook provisions through,
the personas, the runners' rendered roles). A finding on one of them keeps its verdict
(the access is real), but its message says whose object it is and what to do instead of
deleting it, and the report's remediation for such findings never advises removing it.
Their accepted-risk reasons live in the repository's ``manifests/audit-waivers.yaml``.
"""

from __future__ import annotations

from typing import Any

from kubebook.audit.model import Finding
from kubebook.audit.rows import FindingRows

RBAC_KINDS = ("ClusterRoleBinding", "RoleBinding", "ClusterRole", "Role")
MARK = "kubebook's own"
WAIVERS = "manifests/audit-waivers.yaml"

ADMIN = ("keep it: kubebook provisions and repairs the cluster through this admin group (it replaces "
         "system:masters, which RBAC cannot revoke); deleting it locks the admin out. Limit who holds the admin "
         "kubeconfig (or the identity-provider group) instead")
RUNNER = ("keep it: it is rendered from the scheduled runbooks' declared rbac by `kubebook schedule "
          "render-cronjobs`; to narrow it, narrow the runbook's declared rbac and re-render (editing or deleting "
          "the role stops the schedules, and a re-render restores it)")
PERSONA = ("keep it: it is a persona of the provisioned baseline (manifests/base/personas.yaml) and is what that "
           "persona exists for; narrow the persona's role there if it grants more than the persona needs")
LOCAL = ("keep it: the local control plane needs it (kube-router, KWOK or the API server's kubelet client); it "
         "exists only on kubebook's local clusters")


def is_own(obj: dict[str, Any] | None) -> bool:
    """An object kubebook made: named ``kubebook:*``/``kubebook-*`` and labelled as kubebook's."""
    meta = (obj or {}).get("metadata") or {}
    name = str(meta.get("name") or "")
    labels = meta.get("labels") or {}
    return name.startswith(("kubebook:", "kubebook-")) and (
        labels.get("app.kubernetes.io/part-of") == "kubebook"
        or str(labels.get("app.kubernetes.io/managed-by", "")).startswith("kubebook"))


def advice(kind: str, name: str, check: str) -> str:
    """What to do about a finding on kubebook's own ``kind``/``name`` instead of removing it."""
    if name == "kubebook:cluster-admins" or name == "kubebook-platform-admins":
        return ADMIN if name == "kubebook:cluster-admins" else (
            "keep it: the platform-admin persona is the break-glass group that owns the cluster; manage its "
            "membership in the identity provider and review its use in the audit log")
    if name.startswith("kubebook-runner"):
        return RUNNER
    if name.startswith("kubebook:"):
        return LOCAL
    return PERSONA


def annotate(rows: FindingRows, inventory: Any) -> None:
    """Add whose object it is, and what to do instead, to every FAIL/WARN finding on kubebook's own RBAC objects.

    Only single findings on RBAC kinds named ``kubebook*`` are looked at (a few per
    audit), so a 50,000-pod audit pays nothing measurable.
    """
    wanted = [(index, entry) for index, entry in enumerate(rows.entries)
              if type(entry) is Finding and entry.result in ("FAIL", "WARN")
              and entry.resource.kind in RBAC_KINDS and entry.resource.name.startswith("kubebook")]
    if not wanted or inventory is None:
        return
    objects = {(kind, (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): o
               for kind in RBAC_KINDS for o in inventory.objects(kind)
               if str((o.get("metadata") or {}).get("name") or "").startswith("kubebook")}
    for index, entry in wanted:
        resource = entry.resource
        if not is_own(objects.get((resource.kind, resource.namespace, resource.name))):
            continue
        what = "binding" if resource.kind.endswith("Binding") else "role"
        text = (f"{entry.message}. {MARK} {what}: {advice(resource.kind, resource.name, entry.check.id)}; "
                f"its reason is recorded in {WAIVERS}")
        rows.entries[index] = entry._replace(message=text)
