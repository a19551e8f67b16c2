"""Configuration files of the real node: containerd, the registry it pulls from, CNI, the kubelet.

Pure writers from a :class:`NodeLayout`; the kubelet file carries the CIS section-4 settings
(anonymous auth off, Webhook authorization, client CA, read-only port 0, protected kernel
defaults, certificate rotation, strong ciphers, a pid limit, RuntimeDefault seccomp).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kubebook.localcluster.components import SERVICE_CIDR, STRONG_CIPHERS
from kubebook.localcluster.configs import _write
from kubebook.localcluster.node.layout import BRIDGE, CGROUP_ROOT, NodeLayout

SANDBOX_IMAGE = "kubebook/pause:1"


def sandbox_ref(layout: NodeLayout) -> str:
    return f"{layout.registry}/{SANDBOX_IMAGE}"


def write_containerd_config(layout: NodeLayout, cni_bin: Path, runc: str, restrict_oom: bool = False) -> Path:
    """containerd with its own root, state and socket; CRI on runc (cgroupfs), CNI and our registry.

    ``restrict_oom``: without CAP_SYS_RESOURCE no process may lower its oom_score_adj (the sandbox
    asks for -998), so containers keep containerd's own score instead of failing to start.
    """
    cri_runtime = "plugins.'io.containerd.cri.v1.runtime'"
    cri_images = "plugins.'io.containerd.cri.v1.images'"
    lines = [
        "version = 4",
        f'root = "{layout.containerd_root}"',
        f'state = "{layout.containerd_state}"',
        "imports = []",
        "",
        "[plugins.'io.containerd.server.v1.grpc']",
        f'  address = "{layout.containerd_socket}"',
        "[plugins.'io.containerd.server.v1.ttrpc']",
        f'  address = "{layout.containerd_socket}.ttrpc"',
        "[plugins.'io.containerd.server.v1.debug']",
        '  address = ""',
        "[plugins.'io.containerd.server.v1.metrics']",
        '  address = ""',
        "[plugins.'io.containerd.server.v1.grpc-tcp']",
        '  address = ""',
        # NRI would listen on a host-wide socket (/var/run/nri); no plugin of ours needs it.
        "[plugins.'io.containerd.nri.v1.nri']",
        "  disable = true",
        "",
        f"[{cri_runtime}]",
        "  enable_selinux = false",
        # A non-root container must not bind ports below 1024 without NET_BIND_SERVICE.
        "  enable_unprivileged_ports = false",
        "  enable_unprivileged_icmp = false",
        "  netns_mounts_under_state_dir = true",
        f"  restrict_oom_score_adj = {'true' if restrict_oom else 'false'}",
        f"[{cri_runtime}.containerd]",
        '  default_runtime_name = "runc"',
        f"[{cri_runtime}.containerd.runtimes.runc]",
        '  runtime_type = "io.containerd.runc.v2"',
        f"[{cri_runtime}.containerd.runtimes.runc.options]",
        f'  BinaryName = "{runc}"',
        f'  Root = "{layout.containerd_state / "runc"}"',
        "  SystemdCgroup = false",
        f"[{cri_runtime}.cni]",
        f'  bin_dirs = ["{cni_bin}"]',
        f'  conf_dir = "{layout.cni_conf_dir}"',
        "  max_conf_num = 1",
        "",
        f"[{cri_images}]",
        '  snapshotter = "overlayfs"',
        f"[{cri_images}.pinned_images]",
        f'  sandbox = "{sandbox_ref(layout)}"',
        f"[{cri_images}.registry]",
        f'  config_path = "{layout.config / "certs.d"}"',
        "",
        "[plugins.'io.containerd.transfer.v1.local']",
        f'  config_path = "{layout.config / "certs.d"}"',
        "[plugins.'io.containerd.grpc.v1.cri']",
        "  disable_tcp_service = true",
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        "",
    ]
    hosts_text = "\n".join([
        f'server = "https://{layout.registry}"',
        f'[host."https://{layout.registry}"]',
        '  capabilities = ["pull", "resolve"]',
        f'  ca = "{layout.pki / "ca.crt"}"',
        "",
    ])
    _write(layout.config / "certs.d" / layout.registry / "hosts.toml", hosts_text)
    return _write(layout.config / "containerd.toml", "\n".join(lines))


def write_registry_config(layout: NodeLayout) -> Path:
    """The Distribution registry on loopback with TLS from the cluster CA; its data in the state folder."""
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(layout.registry_root)}, "delete": {"enabled": True}},
        "http": {"addr": layout.registry, "tls": {"certificate": str(layout.pki / "registry.crt"),
                                                  "key": str(layout.pki / "registry.key"),
                                                  "minimumtls": "tls1.2"},
                 "debug": {"addr": ""}, "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    return _write(layout.config / "registry.yaml", yaml.safe_dump(config, sort_keys=False), private=True)


def write_cni_config(layout: NodeLayout) -> Path:
    """Bridge + host-local on the pod subnet, portmap for hostPorts; no masquerade and no default route.

    The bridge is made (with the node's address) before the kubelet starts, so the plugin is no
    gateway and never turns on IP forwarding: pods reach each other on the bridge and the API server
    through one DNAT on the bridge address, and nothing routes beyond the host.
    """
    gateway = layout.node_ip
    network = layout.network
    conflist = {
        "cniVersion": "1.0.0",
        "name": "kubebook",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": False, "isDefaultGateway": False, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local",
                      "ranges": [[{"subnet": str(network), "rangeStart": str(network.network_address + 10),
                                   "rangeEnd": str(network.broadcast_address - 1), "gateway": gateway}]],
                      "routes": [{"dst": SERVICE_CIDR, "gw": gateway}],
                      "dataDir": str(layout.cni_ipam_dir)}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return _write(layout.cni_conf_dir / "10-kubebook.conflist", json.dumps(conflist, indent=2) + "\n", private=True)


def write_bootstrap_kubeconfig(layout: NodeLayout, endpoint: str) -> Path:
    """The kubelet's bootstrap credential: may only create CSRs (TLS bootstrap), nothing else."""
    from kubebook.localcluster.configs import write_kubeconfig

    path = write_kubeconfig(layout.config / "bootstrap.kubeconfig", endpoint, layout.pki, "node-bootstrapper",
                            "kubebook")
    return path


def kubelet_config(layout: NodeLayout) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This host mounts cgroup v1; kubelet >= 1.35 refuses it unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": CGROUP_ROOT,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "address": layout.node_ip,
        "port": layout.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": layout.kubelet_healthz_port,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True, "cacheTTL": "2m0s"},
                           "x509": {"clientCAFile": str(layout.config / "kubelet-ca.crt")}},
        "authorization": {"mode": "Webhook"},
        "protectKernelDefaults": True,
        "makeIPTablesUtilChains": True,
        "rotateCertificates": True,
        "serverTLSBootstrap": True,
        "tlsMinVersion": "VersionTLS12",
        "tlsCipherSuites": STRONG_CIPHERS.split(","),
        "streamingConnectionIdleTimeout": "4h0m0s",
        "eventRecordQPS": 50,
        "podPidsLimit": 4096,
        "seccompDefault": True,
        "podLogsDir": str(layout.root / "pod-logs"),
        "resolvConf": "",
        "clusterDomain": "cluster.local",
        "registerNode": True,
        # Only pods that ask for the real node (toleration) land on it; everything else stays on KWOK.
        "registerWithTaints": [{"key": "kubebook.io/real-node", "value": "true", "effect": "NoSchedule"}],
        "maxPods": 110,
        "serializeImagePulls": False,
        "imageMinimumGCAge": "10m",
        "evictionHard": {"memory.available": "200Mi", "nodefs.available": "5%", "imagefs.available": "5%"},
        "enableDebuggingHandlers": True,
        "enableProfilingHandler": False,
        "enableSystemLogHandler": False,
        "nodeStatusReportFrequency": "1m0s",
        "volumeStatsAggPeriod": "1m0s",
    }


def write_kubelet_config(layout: NodeLayout) -> Path:
    """The KubeletConfiguration (0600) and its own 0600 copy of the client CA (CIS 4.1.7)."""
    _write(layout.config / "kubelet-ca.crt", (layout.pki / "ca.crt").read_text(), private=True)
    return _write(layout.config / "kubelet.yaml", yaml.safe_dump(kubelet_config(layout), sort_keys=False),
                  private=True)
