"""Configuration files of the local control plane: admission, audit, encryption, kubeconfigs.

Each function writes one file under the cluster directory and returns its path.
Files that hold key material (the encryption config and kubeconfigs with embedded
client keys) are 0600; the encryption key is generated once per cluster.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from kubebook import yamlload

# The files themselves live in manifests/control-plane/ (their single source, reviewed with the rest of
# the baseline); each cluster gets a copy in its config/ folder.
SOURCE_DIR = Path(__file__).resolve().parents[3] / "manifests" / "control-plane"


def _source(name: str) -> Any:
    return yamlload.load_file(SOURCE_DIR / name, f"control-plane config {name}")


ADMISSION_CONFIG = _source("admission.yaml")
AUDIT_POLICY = _source("audit-policy.yaml")


def _write(path: Path, data: str, private: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
    os.chmod(path, 0o600 if private else 0o644)
    return path


def write_admission_config(config_dir: Path) -> Path:
    return _write(config_dir / "admission.yaml", yaml.safe_dump(ADMISSION_CONFIG, sort_keys=False))


def write_audit_policy(config_dir: Path) -> Path:
    return _write(config_dir / "audit-policy.yaml", yaml.safe_dump(AUDIT_POLICY, sort_keys=False))


def ensure_encryption_config(config_dir: Path) -> Path:
    """secretbox encryption for Secrets with a per-cluster key; identity only to read legacy data."""
    path = config_dir / "encryption.yaml"
    if path.exists():
        return path
    config = _source("encryption.yaml")
    config["resources"][0]["providers"][0]["secretbox"]["keys"][0]["secret"] = base64.b64encode(
        secrets.token_bytes(32)).decode()
    return _write(path, yaml.safe_dump(config, sort_keys=False), private=True)


def write_kubeconfig(path: Path, server: str, pki_dir: Path, user_stem: str, cluster_name: str) -> Path:
    """A kubeconfig with the CA and the client cert/key embedded, so it can be copied elsewhere."""

    def b64(name: str) -> str:
        return base64.b64encode((pki_dir / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": server,
                                                        "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": user_stem, "user": {"client-certificate-data": b64(f"{user_stem}.crt"),
                                               "client-key-data": b64(f"{user_stem}.key")}}],
        "contexts": [{"name": f"{user_stem}@{cluster_name}",
                      "context": {"cluster": cluster_name, "user": user_stem}}],
        "current-context": f"{user_stem}@{cluster_name}",
        "preferences": {},
    }
    return _write(path, yaml.safe_dump(config, sort_keys=False), private=True)


def write_scheduler_config(config_dir: Path, kubeconfig: Path, index: int = 0) -> Path:
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "leaderElection": {"leaderElect": True},
        "enableProfiling": False,
    }
    return _write(config_dir / f"scheduler-{index}.yaml", yaml.safe_dump(config, sort_keys=False))


def write_haproxy_config(config_dir: Path, frontend_port: int, backends: list[tuple[str, int]]) -> Path:
    """TCP (TLS passthrough) load balancer on 127.0.0.1 in front of the apiservers."""
    lines = [
        "global", "    maxconn 4096", "",
        "defaults", "    mode tcp", "    timeout connect 5s", "    timeout client 1h", "    timeout server 1h",
        "    option tcplog", "    option redispatch", "    retries 3", "",
        "frontend kube-apiserver", f"    bind 127.0.0.1:{frontend_port}", "    default_backend apiservers", "",
        "backend apiservers", "    balance roundrobin", "    option tcp-check",
        "    default-server inter 1s fall 2 rise 2",
    ]
    lines += [f"    server apiserver-{i} {host}:{port} check" for i, (host, port) in enumerate(backends)]
    return _write(config_dir / "haproxy.cfg", "\n".join(lines) + "\n")


def write_kwok_stages(config_dir: Path, stages_dir: Path) -> Path:
    """One kwok --config file: fast node init, heartbeat with leases, fast pod lifecycle."""
    parts = []
    for relative in ("node/fast", "node/heartbeat-with-lease", "pod/fast"):
        for stage in sorted((stages_dir / relative).glob("*.yaml")):
            if stage.name != "kustomization.yaml":
                parts.append(stage.read_text().strip())
    return _write(config_dir / "kwok-stages.yaml", "\n---\n".join(parts) + "\n")
