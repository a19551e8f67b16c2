"""Local control plane pieces that need no running cluster: flags, PKI, node plan, build errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509

from kubebook.errors import BuildError, ParameterError
from kubebook.localcluster import bootstrap, build, components, pki
from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.processes import free_port


def layout(tmp_path: Path, members: int = 1) -> components.Layout:
    return components.Layout(name="t", members=members, root=tmp_path, etcd_client_port=1, etcd_peer_port=2,
                             apiserver_port=3, controller_manager_port=4, scheduler_port=5, kwok_port=6,
                             lb_port=7 if members > 1 else None)


@pytest.fixture
def fake_binaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """argv builders only need binary paths, not binaries: point the cache at empty files."""
    monkeypatch.setenv("KUBEBOOK_CACHE_DIR", str(tmp_path / "cache"))
    for recipe in build.RECIPES.values():
        recipe.install_dir.mkdir(parents=True)
        for name in recipe.binaries:
            recipe.path(name).touch()


def flags(argv: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv[1:] if a.startswith("--") and "=" in a)


def test_apiserver_flags_are_hardened(tmp_path: Path, fake_binaries: None) -> None:
    f = flags(components.apiserver_argv(layout(tmp_path), 0))
    assert f["anonymous-auth"] == "false"
    assert f["authorization-mode"] == "Node,RBAC"
    assert "NodeRestriction" in f["enable-admission-plugins"]
    assert f["profiling"] == "false"
    assert f["tls-min-version"] == "VersionTLS12"
    assert f["bind-address"].startswith("127.")
    assert f["etcd-servers"].startswith("https://")
    for key in ("encryption-provider-config", "audit-policy-file", "audit-log-path", "admission-control-config-file",
                "service-account-key-file", "service-account-signing-key-file", "kubelet-certificate-authority"):
        assert f[key], key


def test_etcd_requires_client_and_peer_certificates(tmp_path: Path, fake_binaries: None) -> None:
    f = flags(components.etcd_argv(layout(tmp_path, 3), 2))
    assert f["client-cert-auth"] == "true" and f["peer-client-cert-auth"] == "true"
    assert f["listen-client-urls"] == "https://127.0.0.3:1"
    assert f["initial-cluster"].count("https://127.0.0.") == 3


def test_every_listener_is_on_loopback(tmp_path: Path, fake_binaries: None) -> None:
    lay = layout(tmp_path, 3)
    argvs = [components.etcd_argv(lay, 0), components.apiserver_argv(lay, 1), components.kwok_argv(lay),
             components.controller_manager_argv(lay, 2), components.scheduler_argv(lay, 0)]
    for argv in argvs:
        f = flags(argv)
        for key in ("bind-address", "advertise-address", "node-ip"):
            if key in f:
                assert f[key].startswith("127."), (key, f[key])
        for key in ("listen-client-urls", "listen-peer-urls", "server-address"):
            if key in f:
                assert "127.0.0." in f[key], (key, f[key])


def test_pki_keys_are_private_and_serving_cert_has_loopback_sans(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path / "pki", etcd_members=3)
    keys = list((tmp_path / "pki").glob("*.key"))
    assert len(keys) >= 15
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700
    cert = x509.load_pem_x509_certificate((tmp_path / "pki" / "apiserver.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "127.0.0.2", "127.0.0.3"} <= ips


def test_pki_is_reused_not_regenerated(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path, 1)
    before = (tmp_path / "ca.crt").read_bytes()
    pki.ensure_pki(tmp_path, 1)
    assert (tmp_path / "ca.crt").read_bytes() == before


def test_node_plan_has_system_and_workload_pools_of_realistic_size() -> None:
    plan = bootstrap.node_plan(8)
    pools = {entry["pool"] for entry in plan}
    assert pools == {"system", "workload"}
    assert all(4 <= e["cpu"] <= 32 and 16 <= e["memory_gi"] <= 128 for e in plan)
    assert len({e["name"] for e in plan}) == 8
    system = bootstrap.node_body(plan[0], "v1.37.2")
    assert system.spec.taints[0].effect == "NoSchedule"
    assert system.status.allocatable["pods"] == "110"


def test_bad_cluster_settings_list_every_problem() -> None:
    with pytest.raises(ParameterError) as error:
        LocalCluster(name="Bad_Name", topology="triple", nodes=-2)
    assert len(error.value.problems) == 3
    assert "topology 'triple' is not one of ['ha', 'single']" in str(error.value)


def test_build_without_go_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBEBOOK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError) as error:
        build.build_recipe(build.RECIPES["kwok"], progress=lambda _: None)
    assert "Go toolchain was not found" in str(error.value)
    assert not list((tmp_path / "bin").glob("kwok-*")), "nothing half-built may count as cached"


@pytest.mark.process
def test_unreachable_module_proxy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A real `go build` against a proxy address where nothing listens, with an empty module cache."""
    monkeypatch.setenv("KUBEBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    monkeypatch.setenv("GOPROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("GONOSUMDB", "*")
    monkeypatch.setenv("GOFLAGS", "")
    with pytest.raises(BuildError) as error:
        build.build_recipe(build.RECIPES["kwok"], progress=lambda _: None)
    assert "module proxy" in str(error.value) and "could not be reached" in str(error.value)
    assert not (tmp_path / "cache" / "bin" / f"kwok-{build.RECIPES['kwok'].version}").exists()
    os.system(f"chmod -R u+w {tmp_path / 'modcache'} 2>/dev/null")  # go leaves its cache read-only


def test_missing_binary_names_the_build_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBEBOOK_CACHE_DIR", str(tmp_path))
    with pytest.raises(BuildError) as error:
        build.binary("kube-apiserver")
    assert "kubebook cluster build" in str(error.value)
