"""Secrets engine: secrets in env vars, and the configuration-only verdict on encryption at rest.

Reading stored Secrets back from etcd needs the real control plane: tests/cluster/test_audit_live.py.
"""

from __future__ import annotations

import copy

import yaml
from audit_helpers import FIXTURES, findings, missing_fixtures, of

from kubebook.audit import AuditInventory, secrets_check

HARDENED = yaml.safe_load((FIXTURES.parent / "audit-shared" / "controlplane-hardened.yaml").read_text())


def _apiserver(collection):
    return next(c for c in collection["components"] if c["name"] == "kube-apiserver")


def test_every_secrets_check_has_pass_and_fail_fixtures() -> None:
    assert missing_fixtures("secrets", {}) == []


def test_env_from_secret_and_init_containers_are_found() -> None:
    deploy = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "app"}, "spec": {"template": {"spec": {
        "initContainers": [{"name": "setup", "envFrom": [{"secretRef": {"name": "db"}}]}],
        "containers": [{"name": "app", "envFrom": [{"configMapRef": {"name": "settings"}}]}]}}}}
    result, _, message = of(findings(secrets_check, [deploy]), "secrets.env-var")[0]
    assert result == "FAIL" and "setup: envFrom secret db" in message and "settings" not in message


def test_no_encryption_config_fails() -> None:
    collection = copy.deepcopy(HARDENED)
    api = _apiserver(collection)
    api["argv"] = [a for a in api["argv"] if not a.startswith("--encryption-provider-config")]
    api["configs"] = {}
    result, _, message = of(findings(secrets_check, [collection]), "secrets.encryption-at-rest")[0]
    assert result == "FAIL" and "unencrypted" in message


def test_unreadable_encryption_config_is_an_error_not_a_pass() -> None:
    collection = copy.deepcopy(HARDENED)
    _apiserver(collection)["configs"]["--encryption-provider-config"] = {"error": "cannot read: Permission denied"}
    assert of(findings(secrets_check, [collection]), "secrets.encryption-at-rest")[0][0] == "ERROR"


def test_a_cluster_that_is_not_local_cannot_prove_encryption_through_the_api() -> None:
    inv = AuditInventory.from_objects([], source="cluster")
    result = [f for f in secrets_check.evaluate(inv) if f.check.id == "secrets.encryption-at-rest"]
    assert [f.result for f in result] == ["WARN"]
