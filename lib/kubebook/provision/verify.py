"""Prove the baseline behaviourally: ask the API server, never read our own YAML back.

A control passes only when the server does what the baseline promises:

* **admission**: each violating pod is refused with ``ValidatingAdmissionPolicy '<name>'``
  in the answer, and the compliant pod is admitted (server-side dry-run creates: nothing
  is persisted);
* **pod-security**: in every namespace of the overlay a pod adding SYS_ADMIN is refused by
  Pod Security at the namespace's enforce level;
* **quota**: a pod asking for more than the namespace quota is refused (``exceeded quota``);
* **rbac**: each persona's forbidden request is denied and its intended one allowed, by a
  SubjectAccessReview (the authorizer's own verdict for that user and group);
* **network**: every workload namespace has a default-deny NetworkPolicy for ingress and egress.

Anything the server answers unexpectedly (an error instead of a verdict) fails the control.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from kubebook.errors import ApiError, ClusterError
from kubebook.provision import cases
from kubebook.provision.build import Built

TENANT_LABEL = "kubebook.io/tenant"
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
SETTLE = 15.0  # seconds a just-applied admission policy may take to judge requests
ENFORCE = "pod-security.kubernetes.io/enforce"


class Control(NamedTuple):
    """One behavioural check: what was asked, what was expected, what the server said."""

    control: str
    check: str
    target: str
    passed: bool
    expected: str
    observed: str


def _first_line(text: str, limit: int = 1200) -> str:
    """The server's message on one line. An admission message carries its guidance ("add ...") at the end,
    so a message too long to show whole keeps its start and its end and drops the middle."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    head = limit // 3
    return f"{line[:head]} … {line[-(limit - head - 3):]}"


def _try_create(cluster: Any, obj: dict[str, Any]) -> tuple[bool, str]:
    """(admitted, what the server said) for a dry-run create of ``obj``."""
    try:
        cluster.create_object(obj, dry_run=True)
    except ApiError as error:
        return False, error.message
    return True, "admitted"


def workload_namespaces(built: Built) -> list[str]:
    """The overlay's namespaces where workloads run (not the system namespaces it only labels)."""
    return [n for n in built.namespaces() if n not in SYSTEM_NAMESPACES]


def tenant_namespace(built: Built) -> str | None:
    """The namespace the admission and quota probes run in: the first tenant's."""
    for obj in built.of_kind("Namespace"):
        if TENANT_LABEL in (obj["metadata"].get("labels") or {}):
            return obj["metadata"]["name"]
    names = workload_namespaces(built)
    return names[0] if names else None


def admission(cluster: Any, built: Built, namespace: str, settle: float = 0.0) -> Iterator[Control]:
    """Each case once; a violation that was admitted is asked again for up to ``settle`` seconds.

    The API server loads a new policy or binding through an informer, so a policy applied a
    moment ago may not judge requests yet; a policy that never takes effect still fails.
    """
    present = {o["metadata"]["name"] for o in built.of_kind("ValidatingAdmissionPolicy")}
    deadline = time.monotonic() + settle
    for case in cases.admission_cases(namespace):
        if case.policy is not None and case.policy not in present:
            continue
        admitted, said = _try_create(cluster, case.obj)
        while case.policy is not None and admitted and time.monotonic() < deadline:
            time.sleep(0.5)
            admitted, said = _try_create(cluster, case.obj)
        if case.policy is None:
            yield Control("admission", case.name, namespace, admitted, "admitted", _first_line(said))
        else:
            named = f"ValidatingAdmissionPolicy '{case.policy}'" in said
            yield Control("admission", case.name, namespace, not admitted and named,
                          f"refused by {case.policy}", _first_line(said))


def pod_security(cluster: Any, built: Built) -> Iterator[Control]:
    for ns in built.of_kind("Namespace"):
        name = ns["metadata"]["name"]
        level = (ns["metadata"].get("labels") or {}).get(ENFORCE)
        if not level or level == "privileged":
            continue
        pod = cases.compliant_pod(name, "kubebook-verify-psa")  # SYS_ADMIN breaks baseline and restricted alike,
        pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]  # and no policy's rule
        admitted, said = _try_create(cluster, pod)
        yield Control("pod-security", "pod adding SYS_ADMIN", name, not admitted and f'PodSecurity "{level}' in said,
                      f"refused by Pod Security {level}", _first_line(said))


def quota(cluster: Any, built: Built) -> Iterator[Control]:
    for rq in built.of_kind("ResourceQuota"):
        name = rq["metadata"]["namespace"]
        admitted, said = _try_create(cluster, cases.over_quota_pod(name))
        yield Control("quota", "pod over the namespace quota", name, not admitted and "exceeded quota" in said,
                      f"refused by ResourceQuota {rq['metadata']['name']}", _first_line(said))


def network(cluster: Any, built: Built) -> Iterator[Control]:
    from kubebook.netpolicy import default_deny  # one definition of "default deny" for audit and proof

    for name in workload_namespaces(built):
        try:
            policies = list(cluster.list_objects("networking.k8s.io/v1", "NetworkPolicy", namespace=name))
        except ClusterError as error:
            yield Control("network", "default deny", name, False, "default deny ingress and egress", error.message)
            continue
        ingress = [p["metadata"]["name"] for p in policies if default_deny(p, "Ingress")]
        egress = [p["metadata"]["name"] for p in policies if default_deny(p, "Egress")]
        observed = f"ingress: {', '.join(ingress) or 'none'}; egress: {', '.join(egress) or 'none'}"
        yield Control("network", "default deny", name, bool(ingress and egress),
                      "default deny ingress and egress", observed)


class Access(NamedTuple):
    persona: str
    user: str
    groups: tuple[str, ...]
    verb: str
    resource: str
    namespace: str | None
    allowed: bool
    subresource: str = ""
    group: str = ""


def access_cases(built: Built) -> list[Access]:
    """Persona requests and the verdict the baseline promises, for the personas this overlay defines."""
    roles = {o["metadata"]["name"] for o in built.of_kind("ClusterRole")}
    tenants = [o["metadata"]["name"] for o in built.of_kind("Namespace")
               if TENANT_LABEL in (o["metadata"].get("labels") or {})]
    if not tenants:
        return []
    ns, other = tenants[0], tenants[-1]
    exec_ok = "kubebook-developer-exec" in roles
    dev = ("developer", "kubebook-verify-developer", ("kubebook:developers", "system:authenticated"))
    aud = ("auditor", "kubebook-verify-auditor", ("kubebook:auditors", "system:authenticated"))
    nsa = ("namespace-admin", "kubebook-verify-nsadmin", ("kubebook:namespace-admins", "system:authenticated"))
    ci = ("ci-deployer", f"system:serviceaccount:{ns}:ci-deployer",
          ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"))
    out = []
    if "kubebook-developer" in roles:
        out += [Access(*dev, "get", "secrets", ns, False), Access(*dev, "list", "secrets", ns, False),
                Access(*dev, "create", "pods", ns, exec_ok, subresource="exec"),
                Access(*dev, "create", "deployments", ns, True, group="apps")]
    if "kubebook-auditor" in roles:
        out += [Access(*aud, "get", "secrets", ns, False), Access(*aud, "list", "secrets", None, False),
                Access(*aud, "list", "pods", None, True),
                Access(*aud, "create", "deployments", ns, False, group="apps")]
    if "kubebook-namespace-admin" in roles:
        out += [Access(*nsa, "delete", "networkpolicies", ns, False, group="networking.k8s.io"),
                Access(*nsa, "update", "resourcequotas", ns, False), Access(*nsa, "get", "secrets", ns, True)]
    if "kubebook-ci-deployer" in roles:
        out += [Access(*ci, "patch", "deployments", ns, True, group="apps"),
                Access(*ci, "get", "secrets", ns, False)]
        if other != ns:
            out.append(Access(*ci, "patch", "deployments", other, False, group="apps"))
    return out


def subject_access(cluster: Any, case: Access) -> tuple[bool, str]:
    """The authorizer's verdict for ``case`` (allowed, reason) from a SubjectAccessReview."""
    attributes = {"verb": case.verb, "resource": case.resource, "group": case.group}
    if case.namespace:
        attributes["namespace"] = case.namespace
    if case.subresource:
        attributes["subresource"] = case.subresource
    review = cluster.create_object({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                    "spec": {"user": case.user, "groups": list(case.groups),
                                             "resourceAttributes": attributes}})
    status = review.get("status") or {}
    return bool(status.get("allowed")), status.get("reason") or status.get("evaluationError") or ""


def rbac(cluster: Any, built: Built) -> Iterator[Control]:
    for case in access_cases(built):
        what = f"{case.verb} {case.resource}{'/' + case.subresource if case.subresource else ''}" \
               f"{' in ' + case.namespace if case.namespace else ' (all namespaces)'}"
        try:
            allowed, reason = subject_access(cluster, case)
        except ClusterError as error:
            yield Control("rbac", what, case.persona, False, "a verdict", error.message)
            continue
        verdict = "allowed" if allowed else "denied"
        yield Control("rbac", what, case.persona, allowed == case.allowed,
                      "allowed" if case.allowed else "denied", f"{verdict}{': ' + reason if reason else ''}")


def verify(cluster: Any, built: Built, *, settle: float = 0.0) -> list[Control]:
    """Every behavioural control of ``built`` against the live cluster; pass/fail each.

    ``settle``: how long an admitted violation is re-asked; pass ``SETTLE`` right after an apply
    (a policy applied a moment ago), 0 otherwise.
    """
    out: list[Control] = []
    namespace = tenant_namespace(built)
    if namespace:
        out += admission(cluster, built, namespace, settle)
    out += pod_security(cluster, built)
    out += quota(cluster, built)
    out += rbac(cluster, built)
    out += network(cluster, built)
    return out


def summary(controls: list[Control]) -> dict[str, Any]:
    """Passed/failed per control family and overall, for records and headlines."""
    families: dict[str, dict[str, int]] = {}
    for c in controls:
        entry = families.setdefault(c.control, {"passed": 0, "failed": 0})
        entry["passed" if c.passed else "failed"] += 1
    failed = sum(e["failed"] for e in families.values())
    return {"passed": failed == 0 and bool(controls), "failed": failed, "total": len(controls), "by_control": families}
