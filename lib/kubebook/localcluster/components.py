"""Command lines of the control-plane components, hardened as the CIS benchmark asks.

Pure functions from a :class:`Layout` (addresses, ports, file locations) to argv
lists, so the flags can be read, reviewed and unit-tested without starting anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubebook.localcluster import build

LOOPBACK = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
SERVICE_CIDR = "10.96.0.0/16"
STRONG_CIPHERS = ",".join([
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
])


@dataclass(frozen=True)
class Layout:
    """Where everything of one cluster lives and listens."""

    name: str
    members: int
    root: Path
    etcd_client_port: int
    etcd_peer_port: int
    apiserver_port: int
    controller_manager_port: int
    scheduler_port: int
    kwok_port: int
    lb_port: int | None
    unsafe_no_fsync: bool = False

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def hosts(self) -> tuple[str, ...]:
        return LOOPBACK[: self.members]

    def etcd_client_urls(self) -> list[str]:
        return [f"https://{host}:{self.etcd_client_port}" for host in self.hosts]

    def apiserver_url(self, index: int) -> str:
        return f"https://{self.hosts[index]}:{self.apiserver_port}"

    @property
    def endpoint(self) -> str:
        """The one address clients use: HAProxy in front of the apiservers in HA."""
        if self.lb_port is not None:
            return f"https://127.0.0.1:{self.lb_port}"
        return self.apiserver_url(0)

    def kubeconfig(self, user: str, index: int | None = None) -> Path:
        suffix = "" if index is None else f"-{index}"
        return self.config / f"{user}{suffix}.kubeconfig"


def etcd_argv(layout: Layout, index: int) -> list[str]:
    host, pki = layout.hosts[index], layout.pki
    cluster = ",".join(f"etcd-{i}=https://{h}:{layout.etcd_peer_port}" for i, h in enumerate(layout.hosts))
    argv = [
        str(build.binary("etcd")),
        f"--name=etcd-{index}",
        f"--data-dir={layout.root / 'etcd' / f'member-{index}'}",
        f"--listen-client-urls=https://{host}:{layout.etcd_client_port}",
        f"--advertise-client-urls=https://{host}:{layout.etcd_client_port}",
        f"--listen-peer-urls=https://{host}:{layout.etcd_peer_port}",
        f"--initial-advertise-peer-urls=https://{host}:{layout.etcd_peer_port}",
        f"--initial-cluster={cluster}",
        "--initial-cluster-state=new",
        f"--initial-cluster-token=kubebook-{layout.name}",
        "--client-cert-auth=true",
        f"--trusted-ca-file={pki / 'etcd-ca.crt'}",
        f"--cert-file={pki / f'etcd-server-{index}.crt'}",
        f"--key-file={pki / f'etcd-server-{index}.key'}",
        "--peer-client-cert-auth=true",
        f"--peer-trusted-ca-file={pki / 'etcd-ca.crt'}",
        f"--peer-cert-file={pki / f'etcd-peer-{index}.crt'}",
        f"--peer-key-file={pki / f'etcd-peer-{index}.key'}",
        "--auto-tls=false",
        "--peer-auto-tls=false",
        "--log-level=warn",
        "--snapshot-count=10000",
    ]
    if layout.unsafe_no_fsync:
        argv.append("--unsafe-no-fsync")
    return argv


def apiserver_argv(layout: Layout, index: int) -> list[str]:
    host, pki, config = layout.hosts[index], layout.pki, layout.config
    return [
        str(build.binary("kube-apiserver")),
        f"--bind-address={host}",
        f"--advertise-address={host}",
        f"--secure-port={layout.apiserver_port}",
        "--endpoint-reconciler-type=none",
        f"--etcd-servers={','.join(layout.etcd_client_urls())}",
        f"--etcd-cafile={pki / 'etcd-ca.crt'}",
        f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        "--tls-min-version=VersionTLS12",
        f"--tls-cipher-suites={STRONG_CIPHERS}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
        # A real node's kubelet listens on its InternalIP (the pod bridge); its host name may resolve to loopback.
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction,AlwaysPullImages,DenyServiceExternalIPs,EventRateLimit",
        f"--admission-control-config-file={config / 'admission.yaml'}",
        f"--encryption-provider-config={config / 'encryption.yaml'}",
        f"--audit-policy-file={config / 'audit-policy.yaml'}",
        f"--audit-log-path={layout.logs / f'audit-{index}.log'}",
        "--audit-log-maxage=30",
        "--audit-log-maxbackup=10",
        "--audit-log-maxsize=100",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-lookup=true",
        "--service-account-max-token-expiration=1h",
        "--service-account-extend-token-expiration=false",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        "--profiling=false",
        "--request-timeout=60s",
        "--v=1",
    ]


def controller_manager_argv(layout: Layout, index: int) -> list[str]:
    pki, kubeconfig = layout.pki, layout.kubeconfig("controller-manager", index)
    return [
        str(build.binary("kube-controller-manager")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={layout.hosts[index]}",
        f"--secure-port={layout.controller_manager_port}",
        f"--cert-dir={layout.root / 'run' / f'controller-manager-{index}'}",
        "--use-service-account-credentials=true",
        "--leader-elect=true",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--terminated-pod-gc-threshold=100",
        "--profiling=false",
        "--tls-min-version=VersionTLS12",
        "--v=1",
    ]


def scheduler_argv(layout: Layout, index: int) -> list[str]:
    kubeconfig = layout.kubeconfig("scheduler", index)
    return [
        str(build.binary("kube-scheduler")),
        f"--config={layout.config / f'scheduler-{index}.yaml'}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={layout.hosts[index]}",
        f"--secure-port={layout.scheduler_port}",
        f"--cert-dir={layout.root / 'run' / f'scheduler-{index}'}",
        "--tls-min-version=VersionTLS12",
        "--v=1",
    ]


def kwok_argv(layout: Layout) -> list[str]:
    return [
        str(build.binary("kwok")),
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-label-selector=type=kwok",
        "--node-ip=127.0.0.1",
        f"--node-port={layout.kwok_port}",
        f"--server-address=127.0.0.1:{layout.kwok_port}",
        f"--tls-cert-file={layout.pki / 'kwok-serving.crt'}",
        f"--tls-private-key-file={layout.pki / 'kwok-serving.key'}",
        "--node-lease-duration-seconds=40",
        "--cidr=10.244.0.0/16",
        f"--config={layout.config / 'kwok-stages.yaml'}",
        # the metrics pipeline's usage emulation (localcluster/metrics.py), once it was turned on
        *([f"--config={layout.config / 'kwok-metrics.yaml'}"] if (layout.config / "kwok-metrics.yaml").exists()
          else []),
    ]


def haproxy_argv(layout: Layout, haproxy: str) -> list[str]:
    return [haproxy, "-db", "-f", str(layout.config / "haproxy.cfg")]
