"""Where a real worker node lives on this host: folders, sockets, ports, bridge and pod subnet.

A real node changes host-wide things (a bridge, iptables chains, kernel tunables, cgroups), and
kube-router owns the host's filter table while it runs, so one host runs at most one real node,
for one cluster at a time. Everything else (containerd's root and state, the kubelet's root,
certificates, CNI state, logs) lives in ``<cluster>/node-0/`` so ``down --purge`` removes it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from pathlib import Path

BRIDGE = "kubebook0"
CGROUP_ROOT = "/kubebook"
# Pod subnets tried in turn (KWOK pods use 10.244.0.0/16, services 10.96.0.0/16).
SUBNET_CHOICES = tuple(f"10.245.{third}.0/24" for third in range(0, 250, 10))
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class NodeLayout:
    """One real node: paths under the cluster's state folder, its loopback ports and its pod network."""

    cluster_root: Path
    name: str
    subnet: str
    kubelet_port: int
    kubelet_healthz_port: int
    registry_port: int
    router_health_port: int

    @property
    def root(self) -> Path:
        return self.cluster_root / "node-0"

    @property
    def pki(self) -> Path:
        return self.cluster_root / "pki"

    @property
    def logs(self) -> Path:
        return self.cluster_root / "logs"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def registry_root(self) -> Path:
        return self.cluster_root / "registry"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def node_ip(self) -> str:
        """The bridge's address: the node's InternalIP, where the API server reaches the kubelet."""
        return str(self.network.network_address + 1)

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"


def default_node_name() -> str:
    """The host name when it is a valid node name (so --hostname-override stays unset, CIS 4.2.8)."""
    name = socket.gethostname().lower()
    return name if DNS_LABEL.match(name) else "kubebook-node-0"


def pick_subnet(routes: list[str]) -> str:
    """The first pod subnet that overlaps no route of the host (``ip -4 route`` destinations)."""
    taken = []
    for destination in routes:
        try:
            taken.append(ipaddress.ip_network(destination, strict=False))
        except ValueError:
            continue
    for choice in SUBNET_CHOICES:
        network = ipaddress.IPv4Network(choice)
        if not any(network.overlaps(other) for other in taken if other.prefixlen > 0):
            return choice
    raise ValueError("every candidate pod subnet 10.245.x.0/24 overlaps a route of this host")
