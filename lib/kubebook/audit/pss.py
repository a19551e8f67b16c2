"""Pod Security Standards engine: upstream PodSecurity admission verdicts for every pod template.

``evaluate_pod_spec`` reproduces ``policy.Evaluator.EvaluatePod`` of
k8s.io/pod-security-admission v0.37.2: the same check ids, the same version
gating (each check's versions, "latest" = the newest registered minimum version),
the same overrides (a restricted check replaces the baseline check it overrides),
the same order (baseline ids sorted, then restricted ids sorted) and the same
forbidden reason/detail text, so a kubebook verdict can be compared string for
string with the API server's ``violates PodSecurity "restricted:latest": ...``.
``evaluate_pod`` first applies what the API server does to a Pod before its
PodSecurity admission runs (hostNetwork host-port defaulting, AppArmor
annotation-to-field sync), which is why a manifest and the server agree.

As an audit engine it judges every pod template (Pods, Deployments, StatefulSets,
DaemonSets, Jobs, CronJobs, ReplicaSets) against every baseline and restricted
check (overridden baseline checks included, so a template shows each level it
breaks), plus each Namespace's enforce label.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from kubebook.audit import catalog, pss_admission
from kubebook.audit.grouped import entry as grouped_entry
from kubebook.audit.model import Finding, FindingBatch, Resource
from kubebook.audit.pss_checks import APPARMOR_ANNOTATION_PREFIX, containers
from kubebook.audit.pss_restricted import ALLOWED_VOLUME_SOURCES, CHECKS
from kubebook.audit.pss_validate import SpecError, validate_spec
from kubebook.audit.sources import WORKLOAD_KINDS, AuditInventory
from kubebook.errors import ParameterError

LEVELS = ("privileged", "baseline", "restricted")
MAX_MINOR = max(version for _, _, versions in CHECKS for version, _, _ in versions)
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
_VERSION = re.compile(r"^v1\.([0-9]|[1-9][0-9]*)$")
# Upstream forbidden reasons -> check ids (a reason may belong to a baseline and a restricted check).
REASONS: dict[str, tuple[str, ...]] = {
    "allowPrivilegeEscalation != false": ("allowPrivilegeEscalation",),
    "forbidden AppArmor profile": ("appArmorProfile",), "forbidden AppArmor profiles": ("appArmorProfile",),
    "non-default capabilities": ("capabilities_baseline",), "unrestricted capabilities": ("capabilities_restricted",),
    "host namespaces": ("hostNamespaces",), "hostPath volumes": ("hostPathVolumes",), "hostPort": ("hostPorts",),
    "probe or lifecycle host": ("hostProbesAndHostLifecycle",), "privileged": ("privileged",),
    "procMount": ("procMount", "procMount_restricted"), "restricted volume types": ("restrictedVolumes",),
    "runAsNonRoot != true": ("runAsNonRoot",), "runAsUser=0": ("runAsUser",), "seLinuxOptions": ("seLinuxOptions",),
    "seccompProfile": ("seccompProfile_baseline", "seccompProfile_restricted"),
    "forbidden sysctls": ("sysctls",), "hostProcess": ("windowsHostProcess",),
}


def parse_version(version: str) -> int:
    """The minor version a PodSecurity version label selects ("latest" -> the newest check version)."""
    if version == "latest":
        return MAX_MINOR
    match = _VERSION.match(version or "")
    if not match:
        raise ParameterError(f"invalid Pod Security version {version!r}", hint='use "latest" or "v1.x"')
    return min(int(match.group(1)), MAX_MINOR)


@functools.cache
def checks_for(level: str, version: str = "latest") -> tuple[tuple[str, str, Any], ...]:
    """``(check_id, check_level, function)`` evaluated for ``level`` at ``version``, in upstream order."""
    if level not in LEVELS:
        raise ParameterError(f"invalid Pod Security level {level!r}", hint="use baseline, restricted or privileged")
    minor = parse_version(version)
    if level == "privileged":
        return ()
    active: dict[str, tuple[str, Any, tuple[str, ...]]] = {}
    for check_id, check_level, versions in CHECKS:
        entries = [v for v in versions if v[0] <= minor]
        if entries and (check_level == "baseline" or level == "restricted"):
            _, fn, overrides = entries[-1]
            active[check_id] = (check_level, fn, overrides)
    overridden = {o for lvl, _, overrides in active.values() if lvl == "restricted" for o in overrides}
    ordered = sorted(i for i, (lvl, _, _) in active.items() if lvl == "baseline") + \
        sorted(i for i, (lvl, _, _) in active.items() if lvl == "restricted")
    return tuple((i, active[i][0], active[i][1]) for i in ordered if i not in overridden)


def evaluate_pod_spec(pod_meta: dict[str, Any] | None, pod_spec: dict[str, Any], level: str,
                      version: str = "latest") -> list[tuple[str, str, str]]:
    """Failing checks as ``(check_id, forbidden_reason, forbidden_detail)``, in upstream order.

    An empty list means PodSecurity admission at ``level:version`` allows the pod.
    Raises SpecError when a field the standards read has the wrong type.
    """
    meta = pod_meta or {}
    validate_spec(meta, pod_spec)
    failed = []
    for check_id, _, fn in checks_for(level, version):
        result = fn(meta, pod_spec)
        if result is not None:
            failed.append((check_id, result[0] or "unknown forbidden reason", result[1]))
    return failed


def forbidden_message(failed: Iterable[tuple[str, str, str]]) -> str:
    """Upstream's AggregateCheckResult.ForbiddenDetail(): ``reason (detail), reason, ...``."""
    return ", ".join(f"{reason} ({detail})" if detail else reason for _, reason, detail in failed)


def prepare_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``pod`` as the API server hands it to PodSecurity on create.

    Mirrors SetDefaults_Pod (with hostNetwork, every container port without a
    hostPort gets hostPort=containerPort), SetDefaults_Volume (a volume with no
    source becomes emptyDir) and PrepareForCreate's AppArmor version skew (a
    container's deprecated AppArmor annotation becomes its
    securityContext.appArmorProfile unless the field is set or equals the pod's).
    """
    if not _needs_preparation(pod):
        return pod
    pod = copy.deepcopy(pod)
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    if isinstance(spec, dict):
        spec.update(default_volumes(spec))
    if spec.get("hostNetwork") is True:
        for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
            for port in c.get("ports") or ():
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")
    if (spec.get("os") or {}).get("name") != "windows":
        pod_profile = (spec.get("securityContext") or {}).get("appArmorProfile")
        annotations = meta.get("annotations") or {}
        for c in containers(spec):
            value = annotations.get(APPARMOR_ANNOTATION_PREFIX + c.get("name") or "")
            if value is None or (c.get("securityContext") or {}).get("appArmorProfile") is not None:
                continue
            field = _apparmor_field(value)
            if field is not None and field != pod_profile:
                c.setdefault("securityContext", {})
                if c["securityContext"] is None:
                    c["securityContext"] = {}
                c["securityContext"]["appArmorProfile"] = field
    return pod


def _needs_preparation(pod: dict[str, Any]) -> bool:
    """Whether prepare_pod would change anything (most pods: no, and then no copy is made)."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork") is True and any(
            not port.get("hostPort") for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
            for port in c.get("ports") or ()):
        return True
    if isinstance(spec, dict) and any(_sourceless(v) for v in _volumes(spec)):
        return True
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return any(key.startswith(APPARMOR_ANNOTATION_PREFIX) for key in annotations)


def _volumes(spec: dict[str, Any]) -> list[Any]:
    volumes = spec.get("volumes")
    return volumes if isinstance(volumes, list) else []


def _sourceless(volume: Any) -> bool:
    """A volume whose every field besides ``name`` is absent or null (pointer.AllPtrFieldsNil upstream)."""
    return isinstance(volume, dict) and all(value is None for key, value in volume.items() if key != "name")


def default_volumes(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with SetDefaults_Volume applied: a volume with no source is an emptyDir (copy on change).

    The API server defaults every Volume it decodes, in Pods and in pod templates
    alike, before admission sees it; upstream PodSecurity therefore never meets a
    source-less volume, and a manifest that has one must be judged as emptyDir.
    """
    volumes = _volumes(spec)
    if not any(_sourceless(v) for v in volumes):
        return spec
    defaulted = [{"name": v.get("name"), "emptyDir": {}} if _sourceless(v) else v for v in volumes]
    return {**spec, "volumes": defaulted}


def _apparmor_field(annotation: str) -> dict[str, str] | None:
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    if annotation == "runtime/default":
        return {"type": "RuntimeDefault"}
    if annotation.startswith("localhost/"):
        profile = annotation[len("localhost/"):]
        if profile and profile.strip() == profile and len(profile) <= 4095:
            return {"type": "Localhost", "localhostProfile": profile}
    return None


def evaluate_pod(pod: dict[str, Any], level: str, version: str = "latest") -> list[tuple[str, str, str]]:
    """Like evaluate_pod_spec for a whole Pod object, after the server's create-time mutations."""
    prepared = prepare_pod(pod)
    return evaluate_pod_spec(prepared.get("metadata") or {}, prepared.get("spec") or {}, level, version)


def pod_template(kind: str, obj: dict[str, Any], stored: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, spec) of the pod a workload object runs, as PodSecurity extracts it.

    ``stored`` says the object was read from an API server, which has already
    defaulted and mutated it, so a Pod is taken as is.
    """
    if kind == "Pod":
        prepared = obj if stored else prepare_pod(obj)
        return prepared.get("metadata") or {}, _need(prepared.get("spec"), "spec")
    spec = _need(obj.get("spec"), "spec")
    if kind == "CronJob":
        spec = _need(_need(spec.get("jobTemplate"), "spec.jobTemplate").get("spec"), "spec.jobTemplate.spec")
    template = _need(spec.get("template"), "pod template")
    pod_spec = _need(template.get("spec"), "pod template spec")
    return template.get("metadata") or {}, pod_spec if stored else default_volumes(pod_spec)


def _need(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"{what} is missing or not an object")
    return value


# --- audit engine ---------------------------------------------------------------------------------------

def applies_to(inv: AuditInventory) -> bool:
    return inv.source in ("cluster", "manifests")


def evaluate(inv: AuditInventory, version: str = "latest") -> Iterator[Finding]:
    """PASS/FAIL/ERROR per (PSS check, workload) and per Namespace enforce label.

    Objects read from a cluster were validated and defaulted by the API server,
    so only manifests are type-checked and given the server's create-time changes.
    """
    checks = [(catalog.get(check_id), fn, []) for check_id, _, fn in _audit_checks(version)]
    stored = inv.source == "cluster"
    verdicts: dict[str, tuple[list[list[Resource]], list[tuple[Any, str, list[Resource]]]]] = {}
    for kind in WORKLOAD_KINDS:
        owned = _owned_by_audited_controllers(inv, kind)
        for obj in inv.objects(kind):
            meta = obj.get("metadata") or {}
            if owned and meta.get("uid") in owned:
                continue
            resource = Resource(kind, meta.get("namespace"), str(meta.get("name", "")))
            try:
                pod_meta, spec = pod_template(kind, obj, stored)
                if not stored:
                    validate_spec(pod_meta, spec)
            except SpecError as error:
                for check, _, _ in checks:
                    yield Finding(check, resource, "ERROR", f"pod template not evaluated: {error}")
                continue
            key = template_key(pod_meta, spec)
            verdict = verdicts.get(key)
            if verdict is None:  # judge each distinct template once: replicas share their verdicts
                verdict = verdicts[key] = _judge(checks, pod_meta, spec)
            for resources in verdict[0]:
                resources.append(resource)
            for _, _, resources in verdict[1]:
                resources.append(resource)
    for check, _, passed in checks:  # the many PASS verdicts travel as one batch per check
        if passed:
            yield FindingBatch(check, passed, "PASS", f"{check.id}: allowed")
    for _, fails in verdicts.values():  # and the FAIL verdicts as one batch per (template, check)
        for check, message, resources in fails:
            yield grouped_entry(check, resources, "FAIL", message)
    yield from pss_admission.namespace_findings(inv)


def _judge(checks: list[tuple[Any, Any, list[Resource]]], meta: dict[str, Any],
           spec: dict[str, Any]) -> tuple[list[list[Resource]], list[tuple[Any, str, list[Resource]]]]:
    """(PASS lists to append the resource to, [(check, FAIL message, resources failing so)]) for one template."""
    passes, fails = [], []
    for check, fn, passed in checks:
        result = fn(meta, spec)
        if result is None:
            passes.append(passed)
        else:
            fails.append((check, f"{result[0]} ({result[1]})" if result[1] else result[0], []))
    return passes, fails


_CONTAINER_FIELDS = ("name", "securityContext", "ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle")
_SPEC_FIELDS = ("hostNetwork", "hostPID", "hostIPC", "hostUsers", "os", "securityContext")
_ALLOWED_SOURCES = frozenset(ALLOWED_VOLUME_SOURCES)
_ANNOTATION_PREFIXES = (APPARMOR_ANNOTATION_PREFIX, "seccomp.security.alpha.kubernetes.io/",
                        "container.seccomp.security.alpha.kubernetes.io/")


def template_key(meta: dict[str, Any], spec: dict[str, Any]) -> str:
    """Everything any Pod Security check reads, as one string; templates with equal keys get equal verdicts.

    Left out on purpose: fields no check reads (nodeName, env, volumeMounts, images
    ...) and volumes of the always-allowed types (their names never appear in a
    message), so replicas whose token volumes have random names still share a key.
    """
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(_ANNOTATION_PREFIXES)}
    volumes = [v for v in spec.get("volumes") or ()
               if not any(v[s] is not None for s in _ALLOWED_SOURCES.intersection(v))]
    groups = [[{f: c[f] for f in _CONTAINER_FIELDS if f in c} for c in spec.get(g) or ()]
              for g in ("initContainers", "containers", "ephemeralContainers")]
    fields = {f: spec[f] for f in _SPEC_FIELDS if f in spec}
    # repr is exact for the JSON-like values of a pod (quoted strings, numbers, None, True ...) and
    # several times faster than json.dumps; a different key order only costs a cache miss.
    return repr((annotations, fields, volumes, groups))


@functools.cache
def _audit_checks(version: str) -> tuple[tuple[str, str, Any], ...]:
    """Every baseline and restricted check at ``version``, overridden baseline checks included."""
    restricted_only = tuple(c for c in checks_for("restricted", version) if c[1] == "restricted")
    return checks_for("baseline", version) + restricted_only


# Owner kinds whose template already stands for the objects they create.
_CONTROLLERS = {"Pod": ("ReplicaSet", "StatefulSet", "DaemonSet", "Job"), "ReplicaSet": ("Deployment",),
                "Job": ("CronJob",)}


def _owned_by_audited_controllers(inv: AuditInventory, kind: str) -> set[str]:
    """UIDs of ``kind`` objects whose controller is itself audited (judged once, through its template)."""
    owner_kinds = _CONTROLLERS.get(kind, ())
    owner_uids = {(o.get("metadata") or {}).get("uid") for k in owner_kinds for o in inv.objects(k)} - {None}
    if not owner_uids:
        return set()
    owned = set()
    for obj in inv.objects(kind):
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or ():
            if ref.get("controller") and ref.get("uid") in owner_uids:
                owned.add(meta.get("uid"))
    return owned


def checks_from_message(message: str, level: str, version: str = "latest") -> list[str]:
    """Check ids named by an admission message body ``reason (detail), reason, ...``, in message order.

    Each reason is matched against upstream's known reasons (longest first), its
    parenthesized detail skipped with quote- and nesting-aware scanning, and mapped
    to the check id active at ``level:version``. Unknown text raises ValueError.
    """
    active = {check_id for check_id, _, _ in checks_for(level, version)}
    reasons = sorted(REASONS, key=len, reverse=True)
    ids, pos = [], 0
    while pos < len(message):
        reason = next((r for r in reasons if message.startswith(r, pos)), None)
        if reason is None:
            raise ValueError(f"unknown PodSecurity reason at {message[pos:pos + 40]!r}")
        ids.append(next(i for i in REASONS[reason] if i in active))
        pos += len(reason)
        if message.startswith(" (", pos):
            pos = _skip_parenthesized(message, pos + 1)
        if message.startswith(", ", pos):
            pos += 2
        elif pos < len(message):
            raise ValueError(f"unexpected text after {reason!r}: {message[pos:pos + 40]!r}")
    return ids


def _skip_parenthesized(text: str, start: int) -> int:
    depth, quoted, index = 0, False, start
    while index < len(text):
        ch = text[index]
        if quoted:
            if ch == "\\":
                index += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError(f"unbalanced parentheses in {text[start:start + 60]!r}")
