"""PodSecurity admission around the checks: the AdmissionConfiguration, namespace labels and exemptions.

``pss.evaluate_pod`` answers "which checks does this pod fail at level:version";
the API server first decides whether to judge the pod at all and at which
level. This module ports that part of k8s.io/pod-security-admission v0.37.2:

* the plugin's configuration (``PodSecurityConfiguration``, inline in an
  ``AdmissionConfiguration`` or in the file it names), with upstream's defaulting
  (privileged:latest for every mode that is not set);
* ``policy_for`` = ``api.PolicyToEvaluate``: a namespace label overrides the
  configured default per mode; an invalid enforce level enforces restricted
  (fail closed), an invalid audit/warn level is privileged, an invalid version
  is latest; warn follows a stricter explicit enforce level;
* ``admit_pod`` = ``Admission.ValidatePod`` + ``EvaluatePod`` for a create: an
  exempt namespace, then an exempt username, then an exempt runtimeClassName
  is allowed without evaluation; otherwise the enforce level decides, with the
  API server's ``violates PodSecurity "level:version": ...`` message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from kubebook.audit import catalog, yamlload
from kubebook.audit.model import Finding, Resource
from kubebook.audit.workloads import top_level_workloads
from kubebook.errors import AuditError

LABEL = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
LEVELS = ("privileged", "baseline", "restricted")
CONFIG_KIND = "PodSecurityConfiguration"
CONFIG_GROUP = "pod-security.admission.config.k8s.io/"
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


class LevelVersion(NamedTuple):
    level: str
    version: str = "latest"

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


class Policy(NamedTuple):
    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion


PRIVILEGED = LevelVersion("privileged")


class PodSecurityConfig(NamedTuple):
    """The PodSecurity plugin's defaults and exemptions, and where they were read from."""

    defaults: Policy = Policy(PRIVILEGED, PRIVILEGED, PRIVILEGED)
    usernames: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    runtime_classes: tuple[str, ...] = ()
    source: str = "PodSecurity's built-in defaults (no configuration)"

    def exempt_namespace(self, namespace: str | None) -> bool:
        return bool(namespace) and namespace in self.namespaces

    def exempt_user(self, username: str | None) -> bool:
        return bool(username) and username in self.usernames

    def exempt_runtime_class(self, runtime_class: str | None) -> bool:
        return bool(runtime_class) and runtime_class in self.runtime_classes


class Decision(NamedTuple):
    """The admission answer for one pod create; ``exemption`` is namespace, user or runtimeClass when one applied."""

    allowed: bool
    policy: Policy | None = None
    message: str = ""
    exemption: str | None = None
    label_errors: tuple[str, ...] = ()


def load_config(path: str | Path) -> PodSecurityConfig:
    """The PodSecurity configuration in ``path``: an AdmissionConfiguration or a PodSecurityConfiguration."""
    path = Path(path).expanduser()
    try:
        doc = yamlload.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yamlload.YAMLError) as error:
        raise AuditError(f"cannot read the admission configuration {path}: {error}",
                         hint="pass the file given to kube-apiserver --admission-control-config-file") from error
    return parse_config(doc, str(path), base=path.parent)


def parse_config(doc: Any, source: str, base: Path | None = None) -> PodSecurityConfig:
    """Parse one configuration document; a missing PodSecurity plugin entry means upstream's defaults."""
    if not isinstance(doc, dict):
        raise AuditError(f"{source} is not a configuration object")
    if doc.get("kind") == "AdmissionConfiguration":
        entry = next((p for p in doc.get("plugins") or [] if isinstance(p, dict) and p.get("name") == "PodSecurity"),
                     None)
        if entry is None:
            return PodSecurityConfig(source=f"{source} (no PodSecurity entry: built-in defaults)")
        if entry.get("configuration") is not None:
            return parse_config(entry["configuration"], source)
        if entry.get("path"):
            nested = Path(entry["path"])
            return load_config(nested if nested.is_absolute() or base is None else base / nested)
        return PodSecurityConfig(source=f"{source} (empty PodSecurity entry: built-in defaults)")
    if doc.get("kind") != CONFIG_KIND or not str(doc.get("apiVersion", "")).startswith(CONFIG_GROUP):
        raise AuditError(f"{source} is neither an AdmissionConfiguration nor a {CONFIG_KIND} "
                         f"(apiVersion {doc.get('apiVersion')!r}, kind {doc.get('kind')!r})")
    defaults = doc.get("defaults") or {}
    modes = {}
    for mode in MODES:
        level, version = defaults.get(mode) or "privileged", defaults.get(f"{mode}-version") or "latest"
        if level not in LEVELS or not (version == "latest" or _VERSION.match(str(version))):
            raise AuditError(f"{source}: defaults.{mode}={level!r}/{mode}-version={version!r} is invalid "
                             "(the API server would refuse to start)", hint='levels privileged, baseline, restricted; '
                             'versions "latest" or "v1.x"')
        modes[mode] = LevelVersion(level, str(version))
    exemptions = doc.get("exemptions") or {}
    return PodSecurityConfig(Policy(**modes), tuple(exemptions.get("usernames") or ()),
                             tuple(exemptions.get("namespaces") or ()),
                             tuple(exemptions.get("runtimeClasses") or ()), source)


def _version(value: str) -> tuple[str, bool]:
    if value == "latest":
        return "latest", True
    match = _VERSION.match(value)
    return (f"v1.{int(match.group(1))}", True) if match else ("latest", False)


def policy_for(labels: dict[str, str] | None, defaults: Policy) -> tuple[Policy, list[str]]:
    """``api.PolicyToEvaluate``: the namespace's policy from its labels over the configured defaults."""
    labels = labels or {}
    if not labels:
        return defaults, []
    errors: list[str] = []
    result = {"enforce": defaults.enforce, "audit": defaults.audit, "warn": defaults.warn}
    explicit_enforce = has_warn_level = has_warn_version = False
    for mode in MODES:
        level, version = result[mode].level, result[mode].version
        if LABEL + mode in labels:
            value = labels[LABEL + mode]
            if value in LEVELS:
                level = value
                explicit_enforce = explicit_enforce or mode == "enforce"
            else:
                errors.append(f"{LABEL}{mode}={value!r}: must be one of privileged, baseline, restricted")
                level = "restricted" if mode == "enforce" else "privileged"  # enforce fails closed, the rest open
            has_warn_level = has_warn_level or mode == "warn"
        if LABEL + mode + "-version" in labels:
            value = labels[LABEL + mode + "-version"]
            version, ok = _version(value)
            if not ok:
                errors.append(f'{LABEL}{mode}-version={value!r}: must be "latest" or "v1.x"')
            has_warn_version = has_warn_version or mode == "warn"
        result[mode] = LevelVersion(level, version)
    enforce, warn = result["enforce"], result["warn"]
    if not has_warn_level and explicit_enforce and LEVELS.index(enforce.level) > LEVELS.index(warn.level):
        result["warn"] = LevelVersion(enforce.level, warn.version if has_warn_version else enforce.version)
    return Policy(**result), errors


def admit_pod(pod: dict[str, Any], namespace: str, labels: dict[str, str] | None,
              config: PodSecurityConfig | None = None, username: str = "") -> Decision:
    """Whether PodSecurity admission lets ``pod`` be created in ``namespace`` (labels ``labels``) by ``username``."""
    from kubebook.audit import pss

    config = config or PodSecurityConfig()
    if config.exempt_namespace(namespace):
        return Decision(True, exemption="namespace")
    if config.exempt_user(username):
        return Decision(True, exemption="user")
    policy, errors = policy_for(labels, config.defaults)
    if not errors and all(lv.level == "privileged" for lv in (policy.enforce, policy.audit, policy.warn)):
        return Decision(True, policy)
    if config.exempt_runtime_class((pod.get("spec") or {}).get("runtimeClassName")):
        return Decision(True, policy, exemption="runtimeClass", label_errors=tuple(errors))
    failed = pss.evaluate_pod(pod, policy.enforce.level, policy.enforce.version)
    if not failed:
        return Decision(True, policy, label_errors=tuple(errors))
    return Decision(False, policy, f'violates PodSecurity "{policy.enforce}": {pss.forbidden_message(failed)}',
                    label_errors=tuple(errors))


ENV = "KUBEBOOK_AUDIT_ADMISSION_CONFIG"
ENFORCE_LABEL = LABEL + "enforce"


def namespace_findings(inv: Any) -> Iterator[Finding]:
    """pss.namespace-enforce per Namespace, judged as the API server's PodSecurity configuration would.

    With the configuration known (``pss_admission.config_for``), an exempted
    namespace is not enforced whatever its labels say, an unlabelled one gets the
    configured default, and exempt usernames are reported once for the cluster.
    """
    check = catalog.get("pss.namespace-enforce")
    config = config_for(inv)
    runtime_exempt: dict[str, list[str]] = {}
    if config is not None and config.runtime_classes:
        for workload in top_level_workloads(inv):
            runtime_class = workload.spec.get("runtimeClassName")
            if config.exempt_runtime_class(runtime_class):
                runtime_exempt.setdefault(workload.namespace, []).append(f"{workload.resource} ({runtime_class})")
    for ns in inv.objects("Namespace"):
        meta = ns.get("metadata") or {}
        name = str(meta.get("name") or "")
        labels = meta.get("labels") or {}
        level = labels.get(ENFORCE_LABEL)
        resource = Resource("Namespace", None, name)
        if config is not None and config.exempt_namespace(name):
            yield Finding(check, resource, "FAIL", f"exempt from Pod Security in {config.source}: every pod is "
                          "admitted unchecked" + (f", and its {ENFORCE_LABEL}={level} label is ignored" if level
                                                  else ""))
            continue
        if config is not None and level is None:
            # the default holds only as long as the API server's file says so: the namespace should state it
            yield Finding(check, resource, "FAIL", f"no {ENFORCE_LABEL} label: the API server's default "
                          f"enforce={config.defaults.enforce} applies ({config.source}), which the namespace does "
                          "not state")
            continue
        if level in ("baseline", "restricted"):
            yield Finding(check, resource, "PASS", f"{ENFORCE_LABEL}={level}")
        elif level is None:
            yield Finding(check, resource, "FAIL", f"no {ENFORCE_LABEL} label: the level is the API server's "
                          "admission default (privileged unless its PodSecurity configuration sets one), which the "
                          "namespace does not state")
            continue
        elif level == "privileged":
            yield Finding(check, resource, "FAIL", f"{ENFORCE_LABEL}=privileged: pods are admitted unchecked")
            continue
        else:
            yield Finding(check, resource, "FAIL", f"{ENFORCE_LABEL}={level!r} is not a valid level "
                          "(baseline, restricted or privileged)")
            continue
        if runtime_exempt.get(name):
            yield Finding(check, Resource("Namespace", None, name), "WARN",
                          "enforced, but these run with a runtime class exempt from Pod Security: "
                          + ", ".join(sorted(runtime_exempt[name])))
    if config is not None and config.usernames:
        yield Finding(check, Resource("AdmissionConfiguration", None, "pod-security-admission"), "WARN",
                      f"users {', '.join(config.usernames)} are exempt from Pod Security in every namespace "
                      f"({config.source}): pods they create are never checked")



def config_for(inv: Any) -> PodSecurityConfig | None:
    """The PodSecurity configuration that governs the audited cluster, when kubebook can know it.

    In order: ``inv.pod_security_config`` (set by the caller), the file in
    ``$KUBEBOOK_AUDIT_ADMISSION_CONFIG``, and for a local control plane the file
    its kube-apiserver was started with (``--admission-control-config-file``).
    None means unknown: namespace labels are then taken at their word.
    """
    import os

    given = getattr(inv, "pod_security_config", None)
    if given is not None:
        return given  # type: ignore[no-any-return]
    if os.environ.get(ENV):
        return load_config(os.environ[ENV])
    if inv.source != "cluster":
        return None
    path = _local_admission_file(getattr(inv.cluster, "server", None))
    return load_config(path) if path else None


def _local_admission_file(server: str | None) -> str | None:
    """``--admission-control-config-file`` of the local control plane serving ``server`` (None if not local)."""
    from kubebook.localcluster import name_serving

    name = name_serving(server)
    if name is None:
        return None
    from kubebook.localcluster.manager import LocalCluster

    for instance, record in sorted((LocalCluster(name=name).load_state().get("components") or {}).items()):
        if instance.startswith("kube-apiserver"):
            for arg in record.get("argv") or ():
                if str(arg).startswith("--admission-control-config-file="):
                    return str(arg).split("=", 1)[1]
    return None
