"""The real node's pure parts: host check, pod subnet choice, config files, reproducible images."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from kubebook.errors import ParameterError
from kubebook.localcluster import images
from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.node import configs, hostcheck
from kubebook.localcluster.node.layout import NodeLayout, pick_subnet


def layout(tmp_path: Path) -> NodeLayout:
    return NodeLayout(cluster_root=tmp_path, name="vm", subnet="10.245.0.0/24", kubelet_port=10250,
                      kubelet_healthz_port=10248, registry_port=5000, router_health_port=0)


def test_a_missing_tool_is_a_reason_the_host_cannot_run_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostcheck, "TOOLS", {**hostcheck.TOOLS, "no-such-tool-kb": "no-such-package"})
    support = hostcheck.check_host()
    assert not support.supported
    assert "no-such-tool-kb is not installed (Debian package no-such-package)" in support.summary()


def test_a_missing_kernel_feature_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostcheck, "kernel_config", lambda: {"CONFIG_VETH": "y"})
    reasons = " ".join(hostcheck.check_host().reasons)
    assert "CONFIG_BRIDGE (Linux bridge)" in reasons and "CONFIG_VETH" not in reasons


def test_the_pod_subnet_avoids_every_route_of_the_host() -> None:
    assert pick_subnet(["192.0.2.0/24", "10.244.0.0/16"]) == "10.245.0.0/24"
    assert pick_subnet(["10.245.0.0/24", "10.245.10.5"]) == "10.245.20.0/24"
    with pytest.raises(ValueError):
        pick_subnet(["10.245.0.0/16"])


def test_real_nodes_is_zero_or_one() -> None:
    with pytest.raises(ParameterError, match="one host runs one real node"):
        LocalCluster(name="x", real_nodes=2)


def test_kubelet_config_carries_the_cis_worker_settings(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text("CA")
    path = configs.write_kubelet_config(layout(tmp_path))
    config = yaml.safe_load(path.read_text())
    assert path.stat().st_mode & 0o777 == 0o600
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"
    assert config["readOnlyPort"] == 0 and config["protectKernelDefaults"] is True
    assert config["rotateCertificates"] is True and config["serverTLSBootstrap"] is True
    assert config["failCgroupV1"] is False and config["address"] == "10.245.0.1"
    assert config["healthzBindAddress"] == "127.0.0.1"


def test_containerd_refuses_unprivileged_low_ports_and_keeps_everything_in_its_folder(tmp_path: Path) -> None:
    path = configs.write_containerd_config(layout(tmp_path), Path("/cni"), "/usr/sbin/runc")
    config = tomllib.loads(path.read_text())
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["enable_unprivileged_ports"] is False and runtime["netns_mounts_under_state_dir"] is True
    assert config["plugins"]["io.containerd.server.v1.grpc"]["address"].startswith(str(tmp_path))
    assert config["root"].startswith(str(tmp_path)) and config["state"].startswith(str(tmp_path))
    assert config["plugins"]["io.containerd.nri.v1.nri"]["disable"] is True
    hosts = (tmp_path / "node-0" / "config" / "certs.d" / "127.0.0.1:5000" / "hosts.toml").read_text()
    assert 'server = "https://127.0.0.1:5000"' in hosts


def test_cni_config_neither_masquerades_nor_routes_beyond_the_host(tmp_path: Path) -> None:
    conflist = json.loads(configs.write_cni_config(layout(tmp_path)).read_text())
    bridge = conflist["plugins"][0]
    assert bridge["isGateway"] is False and bridge["ipMasq"] is False and bridge["isDefaultGateway"] is False
    assert [r["dst"] for r in bridge["ipam"]["routes"]] == ["10.96.0.0/16"]


def test_images_are_reproducible_and_busybox_has_its_applets() -> None:
    first, second = images.busybox_image(), images.busybox_image()
    assert first.digest == second.digest and first.blobs.keys() == second.blobs.keys()
    manifest = json.loads(first.manifest)
    layer = first.blobs[manifest["layers"][0]["digest"]]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        names = set(tar.getnames())
    assert {"bin/busybox", "bin/sh", "bin/nc", "bin/httpd", "etc/passwd", "tmp"} <= names
    assert images.name_of("127.0.0.1:5000/kubebook/busybox:1.35.0") == "busybox"
    assert images.name_of("kubebook:0.1.0") == "kubebook"


def test_cli_images_without_a_real_node_and_a_second_real_node_are_clear_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from kubebook.cli import main

    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path))
    assert main(["cluster", "images", "--name", "nothere", "--json"]) == 1
    assert "runs no real node" in capsys.readouterr().err
    assert main(["cluster", "up", "--name", "nothere", "--real-nodes", "2"]) == 2
    assert "must be 0 or 1" in capsys.readouterr().err
    assert not (tmp_path / "clusters" / "nothere").exists()  # refused before anything was made
