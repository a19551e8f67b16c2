"""The Pod Security Standards checks, ported line by line from k8s.io/pod-security-admission v0.37.2.

Baseline checks and shared helpers; the restricted checks and the registry are in
pss_restricted.py. Each function mirrors one upstream ``CheckPodFn`` (``policy/check_*.go``) and returns
None when the pod is allowed or ``(forbidden_reason, forbidden_detail)`` with the
exact upstream text. Inputs are plain dicts shaped like the API's JSON; a field
that is absent or null is Go's nil/zero value. ``validate_spec`` (pss.py) has
already rejected values of the wrong type, so these functions only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Result = tuple[str, str] | None
Meta = dict[str, Any]
Spec = dict[str, Any]


def containers(spec: Spec) -> Iterator[dict[str, Any]]:
    """initContainers, containers, then ephemeralContainers: upstream's visitContainers order."""
    yield from spec.get("initContainers") or ()
    yield from spec.get("containers") or ()
    yield from spec.get("ephemeralContainers") or ()


def _sc(container: dict[str, Any]) -> dict[str, Any] | None:
    return container.get("securityContext")


def join_quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def go_quote(value: str) -> str:
    """Go's ``%q`` for a string (strconv.Quote): escapes quotes, backslashes and non-printables."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                        "\v": "\\v"}[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _setters(prefix: list[str], names: list[str]) -> list[str]:
    if names:
        return [*prefix, f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"]
    return prefix


def _user_namespace(spec: Spec) -> bool:
    return spec.get("hostUsers") is False


def _windows(spec: Spec) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


# --- baseline -------------------------------------------------------------------------------------------

def privileged_1_0(meta: Meta, spec: Spec) -> Result:
    bad = [c.get("name") or "" for c in containers(spec) if (_sc(c) or {}).get("privileged") is True]
    if bad:
        return "privileged", (f"{pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
                              "must not set securityContext.privileged=true")
    return None


def host_namespaces_1_0(meta: Meta, spec: Spec) -> Result:
    found = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    return ("host namespaces", ", ".join(found)) if found else None


def host_path_volumes_1_0(meta: Meta, spec: Spec) -> Result:
    bad = [v.get("name") or "" for v in spec.get("volumes") or () if v.get("hostPath") is not None]
    if bad:
        return "hostPath volumes", f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}"
    return None


def host_ports_1_0(meta: Meta, spec: Spec) -> Result:
    bad: list[str] = []
    ports: set[str] = set()
    for c in containers(spec):
        found = [str(p.get("hostPort")) for p in c.get("ports") or () if p.get("hostPort")]
        if found:
            bad.append(c.get("name") or "")
            ports.update(found)
    if bad:
        return "hostPort", (f"{pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
                            f"{pluralize('uses', 'use', len(bad))} {pluralize('hostPort', 'hostPorts', len(ports))} "
                            + ", ".join(sorted(ports)))
    return None


def _bad_hosts(handler: dict[str, Any] | None) -> list[str]:
    if not handler:
        return []
    hosts = []
    for kind in ("httpGet", "tcpSocket"):
        host = (handler.get(kind) or {}).get("host")
        if handler.get(kind) is not None and host:
            hosts.append(host)
    return hosts


def host_probes_and_host_lifecycle_1_34(meta: Meta, spec: Spec) -> Result:
    bad: set[str] = set()
    forbidden: set[str] = set()
    for c in containers(spec):
        lifecycle = c.get("lifecycle") or {}
        for handler in (c.get("livenessProbe"), c.get("readinessProbe"), c.get("startupProbe"),
                        lifecycle.get("postStart"), lifecycle.get("preStop")):
            hosts = _bad_hosts(handler)
            if hosts:
                bad.add(c.get("name") or "")
                forbidden.update(hosts)
    if bad:
        return "probe or lifecycle host", (
            f"{pluralize('container', 'containers', len(bad))} {join_quote(sorted(bad))} "
            f"{pluralize('uses', 'use', len(bad))} "
            f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(forbidden))} "
            f"{join_quote(sorted(forbidden))}")
    return None


def proc_mount_1_0(meta: Meta, spec: Spec) -> Result:
    bad: list[str] = []
    types: set[str] = set()
    for c in containers(spec):
        value = (_sc(c) or {}).get("procMount")
        if value is not None and value != "Default":
            bad.append(c.get("name") or "")
            types.add(value)
    if bad:
        return "procMount", (f"{pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
                             f"must not set securityContext.procMount to {join_quote(sorted(types))}")
    return None


def proc_mount_1_35_baseline(meta: Meta, spec: Spec) -> Result:
    return None if _user_namespace(spec) else proc_mount_1_0(meta, spec)


APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def app_armor_profile_1_0(meta: Meta, spec: Spec) -> Result:
    setters: list[str] = []
    values: set[str] = set()
    pod_profile = (spec.get("securityContext") or {}).get("appArmorProfile")
    if pod_profile is not None and pod_profile.get("type") not in ("RuntimeDefault", "Localhost"):
        setters.append("pod")
        values.add(pod_profile.get("type") or "")
    bad: list[str] = []
    for c in containers(spec):
        profile = (_sc(c) or {}).get("appArmorProfile")
        if profile is not None and profile.get("type") not in ("RuntimeDefault", "Localhost"):
            bad.append(c.get("name") or "")
            values.add(profile.get("type") or "")
    setters = _setters(setters, bad)
    annotations = [f"{k}={go_quote(v)}" for k, v in (meta.get("annotations") or {}).items()
                   if k.startswith(APPARMOR_ANNOTATION_PREFIX)
                   and not (not v or v == "runtime/default" or v.startswith("localhost/"))]
    value_list = sorted(values)
    if annotations:
        value_list += sorted(annotations)
        setters.append(pluralize("annotation", "annotations", len(annotations)))
    if setters:
        return (pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(value_list)),
                f"{' and '.join(setters)} must not set AppArmor profile type to {join_quote(value_list)}")
    return None


CAPABILITIES_ALLOWED_1_0 = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                      "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


def capabilities_baseline_1_0(meta: Meta, spec: Spec) -> Result:
    bad: list[str] = []
    caps: set[str] = set()
    for c in containers(spec):
        added = ((_sc(c) or {}).get("capabilities") or {}).get("add") or ()
        extra = [cap for cap in added if cap not in CAPABILITIES_ALLOWED_1_0]
        if extra:
            bad.append(c.get("name") or "")
            caps.update(extra)
    if bad:
        return "non-default capabilities", (
            f"{pluralize('container', 'containers', len(bad))} {join_quote(bad)} "
            f"must not include {join_quote(sorted(caps))} in securityContext.capabilities.add")
    return None


def _selinux(allowed: frozenset[str]) -> Any:
    def check(meta: Meta, spec: Spec) -> Result:
        state = {"types": set(), "user": False, "role": False}

        def valid(opts: dict[str, Any]) -> bool:
            ok = True
            if (opts.get("type") or "") not in allowed:
                ok = False
                state["types"].add(opts.get("type") or "")  # type: ignore[union-attr]
            if opts.get("user"):
                ok, state["user"] = False, True
            if opts.get("role"):
                ok, state["role"] = False, True
            return ok

        setters: list[str] = []
        pod_opts = (spec.get("securityContext") or {}).get("seLinuxOptions")
        if pod_opts is not None and not valid(pod_opts):
            setters.append("pod")
        bad = [c.get("name") or "" for c in containers(spec)
               if (_sc(c) or {}).get("seLinuxOptions") is not None and not valid(_sc(c)["seLinuxOptions"])]  # type: ignore[index]
        setters = _setters(setters, bad)
        if not setters:
            return None
        data = []
        types = sorted(state["types"])  # type: ignore[arg-type]
        if types:
            data.append(f"{pluralize('type', 'types', len(types))} {join_quote(types)}")
        if state["user"]:
            data.append("user may not be set")
        if state["role"]:
            data.append("role may not be set")
        return "seLinuxOptions", (f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
                                  + "; ".join(data))
    return check


SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
seLinuxOptions_1_0 = _selinux(SELINUX_TYPES_1_0)
seLinuxOptions_1_31 = _selinux(SELINUX_TYPES_1_0 | {"container_engine_t"})

SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _valid_seccomp_annotation(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_profile_baseline_1_0(meta: Meta, spec: Spec) -> Result:
    annotations = meta.get("annotations") or {}
    forbidden: set[str] = set()
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_PREFIX + c.get("name") or "" for c in containers(spec)]
    for key in keys:
        if key in annotations and not _valid_seccomp_annotation(annotations[key]):
            forbidden.add(f"{key}={go_quote(annotations[key])}")
    if forbidden:
        return "seccompProfile", (f"forbidden {pluralize('annotation', 'annotations', len(forbidden))} "
                                  + ", ".join(sorted(forbidden)))
    return None


def _seccomp(spec: Spec, required: bool) -> Result:
    setters: list[str] = []
    values: set[str] = set()
    pod_set = False
    pod_profile = (spec.get("securityContext") or {}).get("seccompProfile")
    if pod_profile is not None:
        if pod_profile.get("type") not in ("Localhost", "RuntimeDefault"):
            setters.append("pod")
            values.add(pod_profile.get("type") or "")
        else:
            pod_set = True
    explicit: list[str] = []
    implicit: list[str] = []
    for c in containers(spec):
        profile = (_sc(c) or {}).get("seccompProfile")
        if profile is not None:
            if profile.get("type") not in ("Localhost", "RuntimeDefault"):
                explicit.append(c.get("name") or "")
                values.add(profile.get("type") or "")
        elif not pod_set:
            implicit.append(c.get("name") or "")
    setters = _setters(setters, explicit)
    if setters:
        return "seccompProfile", (f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
                                  f"to {join_quote(sorted(values))}")
    if required and implicit:
        return "seccompProfile", (
            f"pod or {pluralize('container', 'containers', len(implicit))} {join_quote(implicit)} "
            'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return None


def seccomp_profile_baseline_1_19(meta: Meta, spec: Spec) -> Result:
    return _seccomp(spec, required=False)


SYSCTLS_1_0 = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                         "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"})
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                               "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SYSCTLS_1_37 = SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def _sysctls(allowed: frozenset[str]) -> Any:
    def check(meta: Meta, spec: Spec) -> Result:
        found = [s.get("name") or "" for s in (spec.get("securityContext") or {}).get("sysctls") or ()
                 if (s.get("name") or "") not in allowed]
        return ("forbidden sysctls", ", ".join(found)) if found else None
    return check


def windows_host_process_1_0(meta: Meta, spec: Spec) -> Result:
    bad = [c.get("name") or "" for c in containers(spec)
           if ((_sc(c) or {}).get("windowsOptions") or {}).get("hostProcess") is True]
    pod = ((spec.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess") is True
    setters = _setters(["pod"] if pod else [], bad)
    if setters:
        return "hostProcess", (f"{' and '.join(setters)} must not set "
                               "securityContext.windowsOptions.hostProcess=true")
    return None


_SYSCTLS_BY_VERSION = ((0, _sysctls(SYSCTLS_1_0), ()), (27, _sysctls(SYSCTLS_1_27), ()),
                       (29, _sysctls(SYSCTLS_1_29), ()), (32, _sysctls(SYSCTLS_1_32), ()),
                       (37, _sysctls(SYSCTLS_1_37), ()))
