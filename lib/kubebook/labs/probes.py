"""Behavioural probes: ask the API server to do the thing, as the subject in question.

Why behavioural: CKS practice verifiers built on reading YAML (or on ``kubectl auth can-i``
run as the wrong user) pass falsely; a request sent with the subject's identity, or a pod
created with ``dryRun=All``, is answered by the same authorizers and admission chain that
will judge the real thing. Every probe returns ``(passed, detail)``; the engine puts the
lab's own actionable text in front of the detail when a probe fails.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubebook.cluster import Cluster
from kubebook.errors import ApiError, ParameterError

PROBE_NAME = "kubebook-lab-check"
_VAP = re.compile(r"ValidatingAdmissionPolicy '([^']+)'")
_WEBHOOK = re.compile(r'admission webhook "([^"]+)"')


class Inconclusive(Exception):
    """The probe could not judge what the step is about (another admission policy refused its test object
    first): the step does not pass, and the lab's advice, which would be wrong, is not shown."""


def refuser(message: str) -> str | None:
    """Which admission control refused a request, from the API server's message (None: not admission)."""
    if m := _VAP.search(message):
        return f"ValidatingAdmissionPolicy '{m.group(1)}'"
    if m := _WEBHOOK.search(message):
        return f'admission webhook "{m.group(1)}"'
    if "violates PodSecurity" in message:
        return "PodSecurity"
    if "exceeded quota" in message:
        return "ResourceQuota"
    return None


@dataclass
class Context:
    """What a probe may use: the admin connection, the lab, the trainee's workspace folder."""

    cluster: Cluster
    lab: Any
    workspace: Path


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path(cluster: Cluster, ref: dict[str, Any], *, collection: bool = False) -> str:
    path = cluster.object_path(ref["apiVersion"], ref["kind"], ref.get("namespace"),
                               None if collection else ref.get("name"))
    return path + (f"/{ref['subresource']}" if ref.get("subresource") else "")


def request(ctx: Context, *, verb: str, resource: dict[str, Any], expect: str, user: str, group: str | None = None,
            object: dict[str, Any] | None = None, **_: Any) -> tuple[bool, str]:
    """Send ``verb`` on ``resource`` as ``user`` (impersonated); writes are dry runs. 403 = denied."""
    subject = ctx.cluster.impersonate(user, group)
    dry = {"dryRun": "All"}
    target = f"{verb} {resource['kind']}" + (f" {resource['name']}" if resource.get("name") else "") + \
        (f"/{resource['subresource']}" if resource.get("subresource") else "") + \
        (f" in {resource['namespace']}" if resource.get("namespace") else "")
    try:
        if verb == "get":
            subject.request("GET", _path(ctx.cluster, resource))
        elif verb == "list":
            subject.request("GET", _path(ctx.cluster, resource, collection=True), query={"limit": 1})
        elif verb == "create":
            body = dict(object or {"apiVersion": resource["apiVersion"], "kind": resource["kind"],
                                   "metadata": {"name": resource.get("name", PROBE_NAME)}})
            body["metadata"] = {**body.get("metadata", {}), "namespace": resource.get("namespace")}
            if resource.get("subresource"):
                subject.request("POST", _path(ctx.cluster, resource), query=dry, body=body)
            else:
                subject.request("POST", _path(ctx.cluster, resource, collection=True), query=dry, body=body)
        elif verb == "delete":
            subject.request("DELETE", _path(ctx.cluster, resource), query=dry)
        elif verb in ("patch", "update"):
            subject.request("PATCH", _path(ctx.cluster, resource), query=dry, body={},
                            content_type="application/merge-patch+json")
        else:
            raise ParameterError(f"probe 'request' cannot send verb {verb!r}")
        allowed, answer = True, "the API server allowed it"
    except ApiError as error:
        by = refuser(error.message)
        allowed = error.status != 403 or by is not None  # admission runs only after RBAC allowed the request
        answer = (f"RBAC allowed it; then {by} refused the dry run" if by else
                  f"the API server answered {error.status}: {_short(error.message, 160)}")
    wanted = expect == "allowed"
    verdict = "allowed" if allowed else "denied"
    return allowed == wanted, f"{user} {target}: {verdict} ({answer})"


def admitted(ctx: Context, obj: dict[str, Any], namespace: str | None = None) -> tuple[bool, str, dict[str, Any]]:
    """Create ``obj`` with dryRun=All as the admin: (admitted, the server's message, the object as admitted)."""
    body = dict(obj)
    body["metadata"] = {**obj.get("metadata", {})}
    if namespace:
        body["metadata"]["namespace"] = namespace
    try:
        return True, "admitted", ctx.cluster.create_object(body, dry_run=True)
    except ApiError as error:
        return False, _short(error.message, 600), {}


def pod_from_template(ctx: Context, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """A Pod carrying the pod template of a workload, as the workload's controller would create it."""
    api_version = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    workload = ctx.cluster.get_object(api_version, kind, name, namespace)
    if workload is None:
        raise LookupError(f"{kind} {namespace}/{name} does not exist (run 'kubebook lab reset {ctx.lab.id}'?)")
    spec = workload["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if kind == "CronJob" else spec["template"]
    meta = template.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Pod", "spec": template.get("spec") or {},
            "metadata": {"name": f"{name}-{PROBE_NAME}", "labels": meta.get("labels") or {},
                         "annotations": meta.get("annotations") or {}}}


def admission(ctx: Context, *, expect: str, namespace: str, object: dict[str, Any] | None = None,
              template_of: dict[str, str] | None = None, refused_by: str | None = None, **_: Any) -> tuple[bool, str]:
    """Create an object (or a workload's pod) with dryRun=All: must it be admitted, or refused (by whom)?"""
    if template_of:
        try:
            obj = pod_from_template(ctx, template_of["kind"], template_of["name"],
                                    template_of.get("namespace", namespace))
        except LookupError as error:
            return False, str(error)
    else:
        obj = object or {}
    what = f"{obj['kind']} {obj['metadata'].get('name')} in {namespace}"
    ok, message, _ = admitted(ctx, obj, namespace)
    if expect == "admitted":
        return ok, f"{what}: admitted" if ok else f"{what}: refused: {message}"
    if ok:
        return False, f"{what}: the API server admitted it (dry run)"
    if refused_by and refused_by.lower() not in message.lower():
        other = refuser(message) or "the API server"
        raise Inconclusive(f"{what} was refused by {other} before {refused_by} could judge it, so whether "
                           f"{refused_by} refuses it is unknown: {message}")
    return True, f"{what}: refused by {refuser(message) or 'the API server'}"


def _effective(pod_spec: dict[str, Any], container: dict[str, Any], field: str) -> Any:
    own = (container.get("securityContext") or {}).get(field)
    return own if own is not None else (pod_spec.get("securityContext") or {}).get(field)


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def _check_requirement(spec: dict[str, Any], requirement: str, arg: Any) -> list[str]:
    """The containers (or volumes) that break ``requirement``, as short phrases."""
    bad: list[str] = []
    for c in _containers(spec):
        sc = c.get("securityContext") or {}
        name = c.get("name")
        if requirement == "non_root" and not (_effective(spec, c, "runAsNonRoot") is True
                                              and _effective(spec, c, "runAsUser") != 0):
            bad.append(f"{name}: runAsNonRoot is not true or runAsUser is 0")
        elif requirement == "read_only_root" and sc.get("readOnlyRootFilesystem") is not True:
            bad.append(f"{name}: readOnlyRootFilesystem is not true")
        elif requirement == "drop_all":
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []) or set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
                bad.append(f"{name}: capabilities drop {caps.get('drop') or []} add {caps.get('add') or []}")
        elif requirement == "no_privilege_escalation" and sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{name}: allowPrivilegeEscalation is not false")
        elif requirement == "seccomp_runtime_default":
            profile = _effective(spec, c, "seccompProfile") or {}
            if profile.get("type") not in ("RuntimeDefault", "Localhost"):
                bad.append(f"{name}: seccompProfile is {profile.get('type') or 'unset (Unconfined)'}")
        elif requirement == "no_secret_env":
            for env in c.get("env") or []:
                if ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == arg:
                    bad.append(f"{name}: env {env.get('name')} comes from Secret {arg}")
            if any((s.get("secretRef") or {}).get("name") == arg for s in c.get("envFrom") or []):
                bad.append(f"{name}: envFrom Secret {arg}")
    if requirement == "no_token_mount":
        bad += [f"volume {v['name']} mounts a service-account token" for v in spec.get("volumes") or []
                if any("serviceAccountToken" in s for s in (v.get("projected") or {}).get("sources") or [])]
    if requirement == "service_account" and spec.get("serviceAccountName") != arg:
        bad.append(f"runs as ServiceAccount {spec.get('serviceAccountName')}, not {arg}")
    if requirement == "secret_volume" and not any((v.get("secret") or {}).get("secretName") == arg
                                                  for v in spec.get("volumes") or []):
        bad.append(f"no volume mounts Secret {arg}")
    return bad


def pod_spec(ctx: Context, *, namespace: str, require: list[Any], template_of: dict[str, str] | None = None,
             object: dict[str, Any] | None = None, **_: Any) -> tuple[bool, str]:
    """The pod the API server would admit from a workload's template (or a given pod), defaults and
    admission applied, meets each requirement: what runs is what the server stores, not what the YAML says."""
    if template_of:
        try:
            pod = pod_from_template(ctx, template_of["kind"], template_of["name"], namespace)
        except LookupError as error:
            return False, str(error)
        what = f"a pod of {template_of['kind']} {template_of['name']}"
    else:
        pod, what = dict(object or {}), f"Pod {(object or {}).get('metadata', {}).get('name')}"
    ok, message, stored = admitted(ctx, pod, namespace)
    if not ok:
        return False, f"{what} would be refused: {message}"
    problems: list[str] = []
    for item in require:
        requirement, arg = (next(iter(item.items())) if isinstance(item, dict) else (item, None))
        problems += _check_requirement(stored["spec"], requirement, arg)
    if problems:
        return False, "; ".join(problems)
    return True, f"{what} as admitted meets: " + \
        ", ".join(str(r if isinstance(r, str) else next(iter(r))) for r in require)


def object_field(ctx: Context, *, ref: dict[str, Any], expect: str, path: str = "", value: Any = None,
                 **_: Any) -> tuple[bool, str]:
    """An object (or a dotted field of it) is absent, present or equal to ``value``."""
    obj = ctx.cluster.get_object(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace"))
    found: Any = obj
    for part in [p for p in path.split(".") if p]:
        found = found.get(part) if isinstance(found, dict) else None
    what = f"{ref['kind']} {ref.get('namespace', '')}/{ref['name']}" + (f" {path}" if path else "")
    if expect == "absent":
        return found is None, f"{what} is {'absent' if found is None else 'present'}"
    if expect == "present":
        return found is not None, f"{what} is {'present' if found is not None else 'absent'}"
    return found == value, f"{what} is {found!r}"


def token_review(cluster: Cluster, token: str) -> str | None:
    """The username a bearer token authenticates as, or None when the API server rejects it."""
    review = cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                             body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                   "spec": {"token": token}})
    status = review.get("status") or {}
    return (status.get("user") or {}).get("username") if status.get("authenticated") else None


def legacy_tokens(ctx: Context, *, namespace: str, **_: Any) -> tuple[bool, str]:
    """No long-lived service-account token Secret in ``namespace`` still authenticates (TokenReview)."""
    live = []
    for secret in ctx.cluster.list_objects("v1", "Secret", namespace):
        if secret.get("type") != "kubernetes.io/service-account-token":
            continue
        token = base64.b64decode((secret.get("data") or {}).get("token", "")).decode(errors="replace")
        who = token_review(ctx.cluster, token) if token else None
        name = secret["metadata"]["name"]
        live.append(f"Secret {name} authenticates as {who}" if who else f"Secret {name} (token not issued yet)")
    if live:
        return False, "; ".join(live)
    return True, f"no service-account token Secret in {namespace}"


def stored_token(ctx: Context, *, secret: dict[str, str], key: str = "token", **_: Any) -> tuple[bool, str]:
    """A token kept in a Secret (evidence of a leak) no longer authenticates anyone."""
    obj = ctx.cluster.get_object("v1", "Secret", secret["name"], secret["namespace"])
    raw = ((obj or {}).get("data") or {}).get(key)
    if not raw:
        return False, f"Secret {secret['namespace']}/{secret['name']} has no {key} (reset the lab)"
    who = token_review(ctx.cluster, base64.b64decode(raw).decode(errors="replace"))
    return who is None, f"the leaked token authenticates as {who}" if who else "the leaked token is rejected"


Probe = Callable[..., tuple[bool, str]]
PROBES: dict[str, Probe] = {"request": request, "admission": admission, "pod_spec": pod_spec,
                            "object_field": object_field, "legacy_tokens": legacy_tokens,
                            "stored_token": stored_token}
