"""The host side of the real node's pod network, and the kernel tunables the kubelet protects.

Made before the kubelet starts and removed by ``down``: the bridge ``kubebook0`` holding the node's
address, one DNAT rule that takes pods' traffic for the ``kubernetes`` Service (10.96.0.1:443) to
the API server on 127.0.0.1, and the kernel tunables ``protectKernelDefaults`` requires (the
values the kubelet itself would otherwise set). IP forwarding stays off: pods talk over the bridge
(layer 2) and to the host, and nothing is routed beyond it.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
from pathlib import Path

from kubebook.errors import LocalClusterError
from kubebook.localcluster.node.hostcheck import which
from kubebook.localcluster.node.layout import BRIDGE, NodeLayout

API_SERVICE_IP = "10.96.0.1"
NAT_CHAIN = "KUBEBOOK-API"
# Chains the node's parts make: kube-router's policy firewall, the kubelet's utility chains, CNI portmap, ours.
OWNED_CHAINS = ("KUBE-ROUTER-", "KUBE-NWPLCY-", "KUBE-POD-FW-", "KUBE-SRC-", "KUBE-DST-", "KUBE-FIREWALL",
                "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT", "CNI-", "KUBEBOOK-")
OWNED_SETS = ("KUBE-", "kube-router", "inet6:KUBE-")
# What the kubelet's protectKernelDefaults checks (pkg/kubelet/cm/container_manager_linux.go).
KERNEL_TUNABLES = {
    "vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10", "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000", "kernel/keys/root_maxbytes": "25000000",
}
# Lower bounds: containerd's CNI monitor and the kubelet each need inotify instances, and the default of
# 128 per user was measured exhausted on a shared machine (CRI then fails to load: "too many open files").
KERNEL_MINIMUMS = {"fs/inotify/max_user_instances": 1024, "fs/inotify/max_user_watches": 524288}


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    tool = which(argv[0]) or argv[0]
    result = subprocess.run([tool, *argv[1:]], capture_output=True, text=True, check=False, timeout=60)
    if check and result.returncode != 0:
        raise LocalClusterError(f"{' '.join(argv)} failed: {result.stderr.strip()[:300]}")
    return result


def host_routes() -> list[str]:
    answer = run(["ip", "-j", "-4", "route", "show", "table", "all"], check=False)
    try:
        return [route.get("dst", "") for route in json.loads(answer.stdout or "[]") if route.get("dst") != "default"]
    except json.JSONDecodeError:
        return []


def apply_kernel_tunables() -> dict[str, str]:
    """Set the tunables; return the previous values of those that changed (restored by ``down``)."""
    previous = {}
    for key, wanted in KERNEL_TUNABLES.items():
        path = Path("/proc/sys") / key
        current = path.read_text().strip()
        if current != wanted:
            path.write_text(wanted)
            previous[key] = current
    for key, minimum in KERNEL_MINIMUMS.items():
        path = Path("/proc/sys") / key
        current = path.read_text().strip()
        if int(current) < minimum:
            path.write_text(str(minimum))
            previous[key] = current
    return previous


def restore_kernel_tunables(previous: dict[str, str]) -> None:
    for key, value in previous.items():
        with contextlib.suppress(OSError):
            (Path("/proc/sys") / key).write_text(value)


def bridge_exists() -> bool:
    return Path(f"/sys/class/net/{BRIDGE}").exists()


def setup_bridge(layout: NodeLayout) -> None:
    """The bridge with the node's address; route_localnet lets the DNAT to 127.0.0.1 through."""
    prefix = layout.network.prefixlen
    if not bridge_exists():
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addresses = run(["ip", "-j", "-4", "addr", "show", "dev", BRIDGE]).stdout
    if f'"{layout.node_ip}"' not in addresses:
        run(["ip", "addr", "add", f"{layout.node_ip}/{prefix}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").write_text("1")


def setup_api_dnat(apiserver_port: int) -> None:
    """Pods reach the ``kubernetes`` Service at 10.96.0.1:443: DNAT to the API server on loopback."""
    if run(["iptables", "-t", "nat", "-S", NAT_CHAIN], check=False).returncode != 0:
        run(["iptables", "-t", "nat", "-N", NAT_CHAIN])
    run(["iptables", "-t", "nat", "-F", NAT_CHAIN])
    run(["iptables", "-t", "nat", "-A", NAT_CHAIN, "-i", BRIDGE, "-d", f"{API_SERVICE_IP}/32", "-p", "tcp",
         "--dport", "443", "-j", "DNAT", "--to-destination", f"127.0.0.1:{apiserver_port}"])
    jump = ["PREROUTING", "-i", BRIDGE, "-j", NAT_CHAIN]
    if run(["iptables", "-t", "nat", "-C", *jump], check=False).returncode != 0:
        run(["iptables", "-t", "nat", "-I", *jump])


def remove_api_dnat() -> None:
    jump = ["PREROUTING", "-i", BRIDGE, "-j", NAT_CHAIN]
    while run(["iptables", "-t", "nat", "-C", *jump], check=False).returncode == 0:
        run(["iptables", "-t", "nat", "-D", *jump], check=False)
    run(["iptables", "-t", "nat", "-F", NAT_CHAIN], check=False)
    run(["iptables", "-t", "nat", "-X", NAT_CHAIN], check=False)


def bridge_ports() -> list[str]:
    """Interfaces attached to the bridge (the host ends of the pods' veth pairs)."""
    folder = Path(f"/sys/class/net/{BRIDGE}/brif")
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def remove_bridge() -> list[str]:
    """Delete leftover veths on the bridge, then the bridge; return what was removed."""
    removed = []
    for port in bridge_ports():
        run(["ip", "link", "del", port], check=False)
        removed.append(port)
    if bridge_exists():
        run(["ip", "link", "del", BRIDGE], check=False)
        removed.append(BRIDGE)
    return removed


def leftover_cni_chains() -> list[str]:
    """iptables chains left by the CNI portmap plugin (``CNI-*``), normally removed with each sandbox."""
    chains = []
    for table in ("nat", "filter"):
        listing = run(["iptables", "-t", table, "-S"], check=False).stdout
        chains += [f"{table}/{line.split()[1]}" for line in listing.splitlines()
                   if line.startswith("-N CNI-")]
    return chains


def owned_chains() -> list[str]:
    """``tool/table/chain`` of every chain of ours still in iptables or ip6tables."""
    found = []
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle", "raw"):
            dump = run([f"{tool}-save", "-t", table], check=False).stdout
            found += [f"{tool}/{table}/{line[1:].split()[0]}" for line in dump.splitlines()
                      if line.startswith(":") and line[1:].startswith(OWNED_CHAINS)]
    return found


def sweep_iptables() -> list[str]:
    """Remove our chains (and the rules of other chains that jump to them) from both families."""
    removed = []
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle", "raw"):
            dump = run([f"{tool}-save", "-t", table], check=False).stdout
            chains = [line[1:].split()[0] for line in dump.splitlines()
                      if line.startswith(":") and line[1:].startswith(OWNED_CHAINS)]
            if not chains:
                continue
            for line in dump.splitlines():
                if not line.startswith("-A "):
                    continue
                words = shlex.split(line)
                target = words[words.index("-j") + 1] if "-j" in words else ""
                if words[1] not in chains and target in chains:
                    run([tool, "-t", table, "-D", *words[1:]], check=False)
            for chain in chains:
                run([tool, "-t", table, "-F", chain], check=False)
            for chain in chains:
                if run([tool, "-t", table, "-X", chain], check=False).returncode == 0:
                    removed.append(f"{tool}/{table}/{chain}")
    return removed


def owned_ipsets() -> list[str]:
    names = run(["ipset", "list", "-n"], check=False).stdout.split()
    return [name for name in names if name.startswith(OWNED_SETS)]


def sweep_ipsets() -> list[str]:
    removed = []
    for name in owned_ipsets():
        if run(["ipset", "destroy", name], check=False).returncode == 0:
            removed.append(name)
    return removed
