"""Control-plane engine: flag parsing, upstream defaults, config files that replace flags, file facts.

File facts come from real files in tmp_path (chmod), collected by the same code that
runs on a control-plane host; the live local control plane is covered in
tests/cluster/test_audit_live.py.
"""

from __future__ import annotations

import copy
import os

import pytest
import yaml
from audit_helpers import FIXTURES, findings, missing_fixtures, of

from kubebook.audit import AuditInventory, controlplane, cpcollect
from kubebook.audit.cprules import rules

HARDENED = yaml.safe_load((FIXTURES.parent / "audit-shared" / "controlplane-hardened.yaml").read_text())


def collection_with(name: str, argv: list[str] | None = None, configs=None, env=None):
    collection = copy.deepcopy(HARDENED)
    component = next(c for c in collection["components"] if c["name"] == name)
    if argv is not None:
        component["argv"] = [name, *argv]
    if configs is not None:
        component["configs"] = configs
    if env is not None:
        component["env"] = env
    return collection


def verdict(collection, check_id):
    return of(findings(controlplane, [collection]), check_id)


def test_every_control_plane_check_has_fixtures_and_a_rule() -> None:
    assert missing_fixtures("controlplane", {}) == []
    ruled = set(rules()["flag_checks"]) | set(rules()["file_checks"])
    from kubebook.audit import catalog

    assert ruled == {c for c in catalog.load_catalog() if c.startswith("controlplane.")}


def test_parse_flags_handles_every_form() -> None:
    argv = ["etcd", "--a=1", "--b", "2", "--bare", "--c=x=y", "--a=3"]
    assert cpcollect.parse_flags(argv) == {"--a": "3", "--b": "2", "--bare": "true", "--c": "x=y"}


@pytest.mark.parametrize(("check_id", "result", "text"), [
    ("controlplane.apiserver-profiling", "FAIL", "upstream default true"),
    ("controlplane.apiserver-anonymous-auth", "FAIL", "upstream default true"),
    ("controlplane.apiserver-authz-not-always-allow", "FAIL", "AlwaysAllow"),
    ("controlplane.apiserver-audit-log-maxage", "PASS", "upstream default 366"),
    ("controlplane.apiserver-admission-service-account", "PASS", "ServiceAccount is in it"),
    ("controlplane.apiserver-admission-node-restriction", "FAIL", "NodeRestriction is not in it"),
    ("controlplane.apiserver-encryption-config", "FAIL", "not set"),
])
def test_absent_flags_take_the_upstream_default(check_id, result, text) -> None:
    found = verdict(collection_with("kube-apiserver", argv=[], configs={}), check_id)
    assert found[0][0] == result and text in found[0][2]


def test_scheduler_config_file_replaces_the_profiling_flag() -> None:
    flagged = collection_with("kube-scheduler", argv=["--config=/s.yaml", "--profiling=false"],
                              configs={"--config": {"enableProfiling": True}})
    assert verdict(flagged, "controlplane.scheduler-profiling")[0][0] == "FAIL"
    unset = collection_with("kube-scheduler", argv=["--config=/s.yaml"], configs={"--config": {}})
    assert "upstream default true" in verdict(unset, "controlplane.scheduler-profiling")[0][2]


def test_unreadable_config_file_is_an_error() -> None:
    broken = collection_with("kube-scheduler", argv=["--config=/s.yaml"],
                             configs={"--config": {"error": "cannot read /s.yaml: PermissionError"}})
    assert verdict(broken, "controlplane.scheduler-profiling")[0][0] == "ERROR"


def test_etcd_environment_variables_stand_in_for_flags() -> None:
    by_env = collection_with("etcd", argv=["--cert-file=/a.crt", "--key-file=/a.key"],
                             env={"ETCD_CLIENT_CERT_AUTH": "true"})
    assert verdict(by_env, "controlplane.etcd-client-cert-auth")[0][0] == "PASS"
    assert "ETCD_CLIENT_CERT_AUTH=true" in verdict(by_env, "controlplane.etcd-client-cert-auth")[0][2]


def test_authorization_config_file_decides_the_authorizers() -> None:
    by_file = collection_with("kube-apiserver", argv=["--authorization-config=/authz.yaml"],
                              configs={"--authorization-config": {"authorizers": ["Node", "RBAC"]}})
    assert verdict(by_file, "controlplane.apiserver-authz-rbac")[0][0] == "PASS"
    assert verdict(by_file, "controlplane.apiserver-authz-not-always-allow")[0][0] == "PASS"


def test_ha_loopback_bind_addresses_pass() -> None:
    collection = collection_with("kube-controller-manager", argv=["--bind-address=127.0.0.3"])
    assert verdict(collection, "controlplane.controller-manager-bind-address")[0][0] == "PASS"


def test_etcd_ca_shared_with_the_cluster_ca_by_content_fails() -> None:
    collection = copy.deepcopy(HARDENED)
    collection["files"]["/etc/kubernetes/pki/etcd/ca.crt"]["sha256"] = "same"
    collection["files"]["/etc/kubernetes/pki/ca.crt"]["sha256"] = "same"
    found = verdict(collection, "controlplane.etcd-unique-ca")
    assert found[0][0] == "FAIL" and "same CA" in found[0][2]


def test_missing_component_is_a_warning() -> None:
    collection = copy.deepcopy(HARDENED)
    collection["components"] = [c for c in collection["components"] if c["name"] != "etcd"]
    assert verdict(collection, "controlplane.etcd-tls")[0][0] == "WARN"


def _static_pods(tmp_path, key_mode: int):
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "apiserver.key").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    (pki / "apiserver.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    os.chmod(pki / "apiserver.key", key_mode)
    os.chmod(pki / "apiserver.crt", 0o644)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver", "namespace": "kube-system"},
           "spec": {"containers": [{"name": "kube-apiserver", "command": [
               "kube-apiserver", f"--tls-private-key-file={pki / 'apiserver.key'}",
               f"--tls-cert-file={pki / 'apiserver.crt'}"]}]}}
    (manifests / "kube-apiserver.yaml").write_text(yaml.safe_dump(pod))
    os.chmod(manifests / "kube-apiserver.yaml", 0o644)
    return manifests


def test_static_pod_collection_reads_real_file_modes(tmp_path) -> None:
    collection = cpcollect.collect_static_pods(_static_pods(tmp_path, 0o640))
    keys = verdict(collection, "controlplane.pki-key-permissions")
    assert [(r, res.endswith("apiserver.key")) for r, res, _ in keys] == [("FAIL", True)]
    certs = verdict(collection, "controlplane.pki-cert-permissions")
    assert [r for r, _, _ in certs] == ["PASS"], "the key is not judged as a certificate"
    manifest = verdict(collection, "controlplane.apiserver-manifest-permissions")
    assert manifest[0][0] == "FAIL" and "644" in manifest[0][2]


def test_static_pods_in_a_manifest_directory_are_audited_with_their_files(tmp_path) -> None:
    manifests = _static_pods(tmp_path, 0o600)
    found = list(controlplane.evaluate(AuditInventory.from_manifests(manifests)))
    keys = of(found, "controlplane.pki-key-permissions")
    assert [r for r, _, _ in keys] == ["PASS"]


def test_control_plane_pods_seen_through_the_api_have_no_file_facts(tmp_path) -> None:
    pod = yaml.safe_load((_static_pods(tmp_path, 0o600) / "kube-apiserver.yaml").read_text())
    inv = AuditInventory.from_objects([pod], source="cluster")
    found = list(controlplane.evaluate(inv))
    assert of(found, "controlplane.pki-key-permissions")[0][0] == "WARN"
    assert of(found, "controlplane.apiserver-tls-cert")[0][0] == "PASS"
