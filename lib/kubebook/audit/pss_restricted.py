"""The restricted-level Pod Security checks and the registry of all checks (upstream v0.37.2).

Ported line by line like pss_checks.py (the baseline checks and shared helpers);
``CHECKS`` lists every check with its level and versioned implementations exactly
as upstream registers them (minimum minor version, function, overridden checks).
"""

from __future__ import annotations

from typing import Any

from kubebook.audit.pss_checks import (
    _SYSCTLS_BY_VERSION,
    Meta,
    Result,
    Spec,
    _sc,
    _seccomp,
    _setters,
    _user_namespace,
    _windows,
    app_armor_profile_1_0,
    capabilities_baseline_1_0,
    containers,
    host_namespaces_1_0,
    host_path_volumes_1_0,
    host_ports_1_0,
    host_probes_and_host_lifecycle_1_34,
    join_quote,
    pluralize,
    privileged_1_0,
    proc_mount_1_0,
    proc_mount_1_35_baseline,
    seccomp_profile_baseline_1_0,
    seccomp_profile_baseline_1_19,
    seLinuxOptions_1_0,
    seLinuxOptions_1_31,
    windows_host_process_1_0,
)

# --- restricted -----------------------------------------------------------------------------------------

def allow_privilege_escalation_1_8(meta: Meta, spec: Spec) -> Result:
    bad = [c.get("name") or "" for c in containers(spec) if (_sc(c) or {}).get("allowPrivilegeEscalation") is not False]
    if bad:
        return "allowPrivilegeEscalation != false", (
            f"{pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
            "must set securityContext.allowPrivilegeEscalation=false")
    return None


def allow_privilege_escalation_1_25(meta: Meta, spec: Spec) -> Result:
    return None if _windows(spec) else allow_privilege_escalation_1_8(meta, spec)


def capabilities_restricted_1_22(meta: Meta, spec: Spec) -> Result:
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    for c in containers(spec):
        caps = (_sc(c) or {}).get("capabilities")
        if caps is None:
            missing_drop.append(c.get("name") or "")
            continue
        if "ALL" not in (caps.get("drop") or ()):
            missing_drop.append(c.get("name") or "")
        extra = [cap for cap in caps.get("add") or () if cap != "NET_BIND_SERVICE"]
        if extra:
            adding.append(c.get("name") or "")
            forbidden.update(extra)
    details = []
    if missing_drop:
        details.append(f"{pluralize('container', 'containers', len(missing_drop))} {join_quote(missing_drop)} "
                       'must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{pluralize('container', 'containers', len(adding))} {join_quote(adding)} "
                       f"must not include {join_quote(sorted(forbidden))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def capabilities_restricted_1_25(meta: Meta, spec: Spec) -> Result:
    return None if _windows(spec) else capabilities_restricted_1_22(meta, spec)


ALLOWED_VOLUME_SOURCES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                          "persistentVolumeClaim", "projected", "secret")
RESTRICTED_VOLUME_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
                             "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
                             "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
                             "scaleIO", "storageos")


def restricted_volumes_1_0(meta: Meta, spec: Spec) -> Result:
    bad: list[str] = []
    types: set[str] = set()
    for volume in spec.get("volumes") or ():
        if any(volume.get(source) is not None for source in ALLOWED_VOLUME_SOURCES):
            continue
        bad.append(volume.get("name") or "")
        types.add(next((s for s in RESTRICTED_VOLUME_SOURCES if volume.get(s) is not None), "unknown"))
    if bad:
        return "restricted volume types", (
            f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} {pluralize('uses', 'use', len(bad))} "
            f"{pluralize('restricted volume type', 'restricted volume types', len(types))} "
            f"{join_quote(sorted(types))}")
    return None


def run_as_non_root_1_0(meta: Meta, spec: Spec) -> Result:
    setters: list[str] = []
    pod_value = (spec.get("securityContext") or {}).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    pod_non_root = pod_value is True
    explicit: list[str] = []
    implicit: list[str] = []
    for c in containers(spec):
        value = (_sc(c) or {}).get("runAsNonRoot")
        if value is not None:
            if value is False:
                explicit.append(c.get("name") or "")
        elif not pod_non_root:
            implicit.append(c.get("name") or "")
    setters = _setters(setters, explicit)
    if setters:
        return "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
    if implicit:
        return "runAsNonRoot != true", (
            f"pod or {pluralize('container', 'containers', len(implicit))} {join_quote(implicit)} "
            "must set securityContext.runAsNonRoot=true")
    return None


def run_as_non_root_1_35(meta: Meta, spec: Spec) -> Result:
    return None if _user_namespace(spec) else run_as_non_root_1_0(meta, spec)


def run_as_user_1_23(meta: Meta, spec: Spec) -> Result:
    setters = ["pod"] if (spec.get("securityContext") or {}).get("runAsUser") == 0 else []
    bad = [c.get("name") or "" for c in containers(spec) if (_sc(c) or {}).get("runAsUser") == 0]
    setters = _setters(setters, bad)
    if setters:
        return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"
    return None


def run_as_user_1_35(meta: Meta, spec: Spec) -> Result:
    return None if _user_namespace(spec) else run_as_user_1_23(meta, spec)


def seccomp_profile_restricted_1_19(meta: Meta, spec: Spec) -> Result:
    return _seccomp(spec, required=True)


def seccomp_profile_restricted_1_25(meta: Meta, spec: Spec) -> Result:
    return None if _windows(spec) else _seccomp(spec, required=True)


# (id, level, [(minimum minor version, function, overridden baseline ids)]) exactly as upstream registers them.
CHECKS: tuple[tuple[str, str, tuple[tuple[int, Any, tuple[str, ...]], ...]], ...] = (
    ("allowPrivilegeEscalation", "restricted", ((8, allow_privilege_escalation_1_8, ()),
                                                (25, allow_privilege_escalation_1_25, ()))),
    ("appArmorProfile", "baseline", ((0, app_armor_profile_1_0, ()),)),
    ("capabilities_baseline", "baseline", ((0, capabilities_baseline_1_0, ()),)),
    ("capabilities_restricted", "restricted", ((22, capabilities_restricted_1_22, ("capabilities_baseline",)),
                                               (25, capabilities_restricted_1_25, ("capabilities_baseline",)))),
    ("hostNamespaces", "baseline", ((0, host_namespaces_1_0, ()),)),
    ("hostPathVolumes", "baseline", ((0, host_path_volumes_1_0, ()),)),
    ("hostPorts", "baseline", ((0, host_ports_1_0, ()),)),
    ("hostProbesAndHostLifecycle", "baseline", ((34, host_probes_and_host_lifecycle_1_34, ()),)),
    ("privileged", "baseline", ((0, privileged_1_0, ()),)),
    ("procMount", "baseline", ((0, proc_mount_1_0, ()), (35, proc_mount_1_35_baseline, ()))),
    ("procMount_restricted", "restricted", ((35, proc_mount_1_0, ("procMount",)),)),
    ("restrictedVolumes", "restricted", ((0, restricted_volumes_1_0, ("hostPathVolumes",)),)),
    ("runAsNonRoot", "restricted", ((0, run_as_non_root_1_0, ()), (35, run_as_non_root_1_35, ()))),
    ("runAsUser", "restricted", ((23, run_as_user_1_23, ()), (35, run_as_user_1_35, ()))),
    ("seLinuxOptions", "baseline", ((0, seLinuxOptions_1_0, ()), (31, seLinuxOptions_1_31, ()))),
    ("seccompProfile_baseline", "baseline", ((0, seccomp_profile_baseline_1_0, ()),
                                             (19, seccomp_profile_baseline_1_19, ()))),
    ("seccompProfile_restricted", "restricted", ((19, seccomp_profile_restricted_1_19, ("seccompProfile_baseline",)),
                                                 (25, seccomp_profile_restricted_1_25, ("seccompProfile_baseline",)))),
    ("sysctls", "baseline", _SYSCTLS_BY_VERSION),
    ("windowsHostProcess", "baseline", ((0, windows_host_process_1_0, ()),)),
)
