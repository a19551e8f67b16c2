"""Can this host run a real worker node? Every reason it cannot, measured, before anything starts.

A real node needs root (network namespaces, mounts, cgroups, iptables), a cgroup layout the
kubelet accepts, kernel features for the pod network and the NetworkPolicy agent, and the
Debian tools runc, iptables and ipset. ``check_host()`` reads them all and returns a
:class:`HostSupport` whose ``reasons`` say exactly what is missing, so ``cluster up`` can
print them and start with KWOK nodes only.
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

# Kernel options a real node uses here: the pod network (veth pairs on a bridge, bridged traffic
# seen by iptables), the container root filesystems (overlayfs), isolation (namespaces, seccomp,
# cgroups) and kube-router's policy firewall (iptables filter, ipset match, conntrack, NFLOG-free).
KERNEL_OPTIONS = {
    "CONFIG_NAMESPACES": "namespaces", "CONFIG_NET_NS": "network namespaces", "CONFIG_PID_NS": "PID namespaces",
    "CONFIG_CGROUPS": "cgroups", "CONFIG_MEMCG": "memory cgroup", "CONFIG_CGROUP_PIDS": "pids cgroup",
    "CONFIG_CPUSETS": "cpuset cgroup", "CONFIG_SECCOMP": "seccomp", "CONFIG_VETH": "veth pairs",
    "CONFIG_BRIDGE": "Linux bridge", "CONFIG_BRIDGE_NETFILTER": "br_netfilter (iptables on bridged traffic)",
    "CONFIG_OVERLAY_FS": "overlayfs (containerd snapshots)", "CONFIG_NF_CONNTRACK": "conntrack",
    "CONFIG_IP_NF_FILTER": "iptables filter table", "CONFIG_IP_SET": "ipset",
    "CONFIG_NETFILTER_XT_SET": "iptables set match (kube-router)",
    "CONFIG_NETFILTER_XT_MATCH_CONNTRACK": "iptables conntrack match",
    "CONFIG_NETFILTER_XT_MATCH_COMMENT": "iptables comment match", "CONFIG_IP_NF_NAT": "iptables nat table",
}
# Controllers the kubelet's cgroupfs driver needs (cgroup v1 hierarchies or v2 controllers).
CGROUP_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer")
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids")
TOOLS = {"runc": "runc", "iptables": "iptables", "ipset": "ipset", "ip": "iproute2"}
SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


@dataclass(frozen=True)
class HostSupport:
    """What the host offers; ``supported`` only when ``reasons`` is empty."""

    reasons: list[str]
    cgroup_version: int | None = None
    tools: dict[str, str] = field(default_factory=dict)
    kernel: str = ""

    @property
    def supported(self) -> bool:
        return not self.reasons

    def summary(self) -> str:
        if self.supported:
            return f"host supports a real node (cgroup v{self.cgroup_version}, kernel {self.kernel})"
        return "host cannot run a real node: " + "; ".join(self.reasons)


def which(tool: str) -> str | None:
    """A tool on PATH or in the sbin folders (which a non-login PATH may lack)."""
    found = shutil.which(tool)
    if found:
        return found
    for folder in SBIN:
        candidate = Path(folder) / tool
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def cgroup_layout(root: Path = Path("/sys/fs/cgroup")) -> tuple[int | None, list[str]]:
    """(1 or 2, controllers missing); v1 = a hierarchy per controller, v2 = one unified tree."""
    controllers_file = root / "cgroup.controllers"
    if controllers_file.is_file():
        available = controllers_file.read_text().split()
        return 2, [c for c in V2_CONTROLLERS if c not in available]
    mounted = set()
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields = left.split()
            if right.startswith("cgroup ") and len(fields) > 4 and fields[4].startswith(str(root)):
                mounted.update(right.split()[-1].split(","))
    except OSError:
        return None, list(CGROUP_CONTROLLERS)
    if not mounted:
        return None, list(CGROUP_CONTROLLERS)
    return 1, [c for c in CGROUP_CONTROLLERS if c not in mounted]


def kernel_config() -> dict[str, str] | None:
    """The running kernel's build options from /proc/config.gz or /boot/config-<release>, else None."""
    release = os.uname().release
    for path in (Path("/proc/config.gz"), Path(f"/boot/config-{release}")):
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
        options = {}
        for line in text.splitlines():
            name, eq, value = line.partition("=")
            if eq and name.startswith("CONFIG_"):
                options[name] = value
        return options
    return None


def has_capability(number: int) -> bool:
    """Whether this process holds a capability (CAP_SYS_RESOURCE is 24) in its effective set."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> number & 1)
    return False


def check_host() -> HostSupport:
    """Every reason this host cannot run a real node (empty when it can)."""
    reasons: list[str] = []
    if os.geteuid() != 0:
        reasons.append(f"not root (uid {os.geteuid()}): a node needs network namespaces, mounts, cgroups "
                       "and iptables")
    version, missing_controllers = cgroup_layout()
    if version is None:
        reasons.append("no cgroup hierarchy is mounted under /sys/fs/cgroup")
    elif missing_controllers:
        reasons.append(f"cgroup v{version} lacks the controller(s) {', '.join(missing_controllers)}")
    options = kernel_config()
    if options is None:
        reasons.append("the kernel's build options are unreadable (no /proc/config.gz or /boot/config-*), "
                       "so the needed features cannot be verified")
    else:
        absent = [f"{name} ({what})" for name, what in KERNEL_OPTIONS.items() if options.get(name) not in ("y", "m")]
        if absent:
            reasons.append("kernel lacks " + ", ".join(absent))
    tools = {}
    for tool, package in TOOLS.items():
        path = which(tool)
        if path:
            tools[tool] = path
        else:
            reasons.append(f"{tool} is not installed (Debian package {package})")
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists() and options \
            and options.get("CONFIG_BRIDGE_NETFILTER") == "m":
        reasons.append("br_netfilter is a module that is not loaded (modprobe br_netfilter)")
    return HostSupport(reasons=reasons, cgroup_version=version, tools=tools, kernel=os.uname().release)
