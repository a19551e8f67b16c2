"""The control-plane, secrets and RBAC engines against the real local control plane.

Reads the running processes' argv from /proc, the real files' modes, Secrets back
from the real etcd (a plaintext value is planted with etcdctl to produce the
failure for real), and compares the upstream defaults in rules/controlplane.yaml
with what the real binaries' --help says.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from kubebook.audit import AuditInventory, controlplane, cpcollect, rbac, run_audit, secrets_check
from kubebook.audit.cprules import Component, rules
from kubebook.audit.posture import local_control_plane_for


@pytest.fixture(scope="module")
def plane(kube) -> str:
    name = local_control_plane_for(kube)
    assert name, f"{kube.server} is not served by a kubebook local control plane"
    return name


@pytest.fixture(scope="module")
def collection(plane) -> dict:
    return cpcollect.collect_local(plane)


def test_collection_reads_the_running_processes_and_their_files(collection) -> None:
    names = sorted({c["name"] for c in collection["components"]})
    assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert all(c["running"] and c["origin"].startswith("/proc/") for c in collection["components"])
    keys = [f for f in collection["files"].values() if f.get("pem") == "private-key"]
    assert keys and all(f["mode"] == "600" for f in keys)
    apiserver = next(c for c in collection["components"] if c["name"] == "kube-apiserver")
    assert "secretbox" in apiserver["configs"]["--encryption-provider-config"]["secrets_providers"]
    config_file = cpcollect.parse_flags(apiserver["argv"])["--encryption-provider-config"]
    keys = re.findall(r"secret:\s*(\S+)", Path(config_file).read_text(encoding="utf-8"))
    assert keys and not any(k in str(collection) for k in keys), "no encryption key reaches the collection"


def test_control_plane_audit_of_the_hardened_local_cluster(plane) -> None:
    frame = run_audit(AuditInventory.from_control_plane(plane)).findings
    cp = frame[frame["section"] == "controlplane"]
    assert "ERROR" not in set(cp["result"]), cp[cp["result"] == "ERROR"].to_string()
    verdict = cp.groupby("check")["result"].agg(lambda r: "PASS" if set(r) == {"PASS"} else "/".join(sorted(set(r))))
    for check in ("apiserver-anonymous-auth", "apiserver-authz-node", "apiserver-profiling", "etcd-client-cert-auth",
                  "scheduler-profiling", "controller-manager-sa-credentials", "pki-key-permissions",
                  "apiserver-encryption-provider", "etcd-unique-ca", "encryption-config-permissions"):
        assert verdict[f"controlplane.{check}"] == "PASS", check
    # processes, not static pods: the pod-spec file checks cannot apply and say so
    assert verdict["controlplane.apiserver-manifest-permissions"] == "INFO"


@pytest.mark.parametrize("component", ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"])
def test_upstream_defaults_match_the_real_binaries(collection, component) -> None:
    binary = next(c["argv"][0] for c in collection["components"] if c["name"] == component)
    helptext = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60).stdout + \
        subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60).stderr
    defaults = rules()["components"][component]["defaults"]
    for flag, expected in defaults.items():
        if component == "etcd":
            found = re.search(rf"^\s+{re.escape(flag)} '([^']*)'", helptext, re.MULTILINE)
        else:
            found = re.search(rf"^\s+{re.escape(flag)} [^\n]*?\(default ([^)]*)\)", helptext, re.MULTILINE)
        if found is None and flag == "--authorization-mode":
            assert "Defaults to AlwaysAllow if --authorization-config is not used" in helptext
            continue
        if found is None and flag == "--feature-gates":
            continue  # a map flag with no printed default: empty means no gate overridden
        if found is None and re.search(rf"^\s+{re.escape(flag)}\s{{2,}}\S", helptext, re.MULTILINE):
            assert expected == "false", f"{component} {flag} is a boolean flag without a printed default (false)"
            continue
        assert found, f"{component} --help documents no default for {flag}"
        assert found.group(1).strip('"') == expected, f"{component} {flag}: help says {found.group(1)}"
    if component == "kube-apiserver":
        plugins = re.search(r"default enabled ones \(([^)]*)\)", helptext)
        assert plugins and [p.strip() for p in plugins.group(1).split(",")] == \
            rules()["components"][component]["default_admission_plugins"]


def _etcdctl(collection, *args: str) -> subprocess.CompletedProcess:
    apiserver = Component(next(c for c in collection["components"] if c["name"] == "kube-apiserver"), collection)
    command = secrets_check.etcdctl_command(collection, apiserver)
    base = command[: command.index("get")]
    return subprocess.run([*base, *args], capture_output=True, timeout=60, check=True)


def test_secrets_are_read_back_from_etcd_and_a_plaintext_one_fails(kube, namespace, plane, collection) -> None:
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="real"), string_data={"password": "not-in-any-report"}))
    inv = AuditInventory.from_control_plane(plane)
    found = [f for f in secrets_check.evaluate(inv) if f.check.id == "secrets.encryption-at-rest"]
    assert [f.result for f in found] == ["PASS"] and "k8s:enc:secretbox" in found[0].message
    assert "not-in-any-report" not in str(found)
    key = f"/registry/secrets/{namespace}/planted-{uuid.uuid4().hex[:6]}"
    _etcdctl(collection, "put", key, '{"kind":"Secret","apiVersion":"v1","data":{"k":"cGxhaW4="}}')
    try:
        found = [f for f in secrets_check.evaluate(AuditInventory.from_control_plane(plane))
                 if f.check.id == "secrets.encryption-at-rest"]
        failing = [(f.result, f.resource.namespace, f.resource.name) for f in found if f.result != "PASS"]
        assert failing == [("FAIL", namespace, key.rsplit("/", 1)[1])]
        assert "cGxhaW4=" not in str(found)
    finally:
        _etcdctl(collection, "del", key)


def test_a_cluster_source_of_the_local_cluster_reads_etcd_too(kube, plane) -> None:
    found = [f for f in secrets_check.evaluate(AuditInventory.from_cluster(kube))
             if f.check.id == "secrets.encryption-at-rest"]
    assert found and all(f.result == "PASS" for f in found), [f.message for f in found]


def test_escalation_path_through_pod_creation_on_the_live_api(kube, namespace) -> None:
    rbac_api = kube.rbac
    admin_binding = f"t-{namespace}-deployer-admin"
    kube.core.create_namespaced_service_account(namespace, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="deployer")))
    rbac_api.create_namespaced_role(namespace, client.V1Role(
        metadata=client.V1ObjectMeta(name="pods"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["create"])]))
    rbac_api.create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="eve-pods"), role_ref=client.V1RoleRef(
            api_group="rbac.authorization.k8s.io", kind="Role", name="pods"),
        subjects=[client.RbacV1Subject(kind="User", name=f"eve-{namespace}", api_group="rbac.authorization.k8s.io")]))
    rbac_api.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=admin_binding), role_ref=client.V1RoleRef(
            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="deployer", namespace=namespace)]))
    try:
        found = [f for f in rbac.evaluate(AuditInventory.from_cluster(kube)) if f.check.id == "rbac.escalation-path"]
        eve = [f for f in found if f.resource.name == f"eve-{namespace}"]
        assert len(eve) == 1 and eve[0].result == "FAIL"
        assert f"ServiceAccount {namespace}/deployer" in eve[0].message and "2 step" in eve[0].message
    finally:
        rbac_api.delete_cluster_role_binding(admin_binding)


def test_control_plane_engine_applies_only_where_it_has_input(kube, plane) -> None:
    assert controlplane.applies_to(AuditInventory.from_control_plane(plane))
    assert not controlplane.applies_to(AuditInventory.from_cluster(kube)), "processes are not Pods in the API"


def _served_scopes(kube) -> dict[tuple[str, str], bool]:
    """(group, resource) -> namespaced, for every resource the API server serves (legacy discovery)."""
    def get(path: str) -> dict:
        headers = {"Accept": "application/json", **kube.api_client.default_headers}
        kube.api_client.update_params_for_auth(headers, None, ["BearerToken"], path, "GET", None)
        return json.loads(kube.api_client.call_api("GET", kube.server + path, header_params=headers).read())

    found = {("", r["name"]): r["namespaced"] for r in get("/api/v1")["resources"] if "/" not in r["name"]}
    for group in get("/apis")["groups"]:
        version = group["preferredVersion"]["groupVersion"]
        for r in get(f"/apis/{version}")["resources"]:
            if "/" not in r["name"]:
                found.setdefault((group["name"], r["name"]), r["namespaced"])
    return found


def test_built_in_scope_table_matches_the_api_servers_discovery(kube) -> None:
    """Every cluster-scoped resource the real API server serves is in rules/scope.yaml, and nothing there is
    namespaced on the server (the table is what manifests audits use instead of discovery)."""
    from kubebook.audit import rbac_scope

    served = _served_scopes(kube)
    table = rbac_scope._pairs("cluster_scoped")
    missing = sorted(key for key, namespaced in served.items() if not namespaced and key not in table)
    wrong = sorted(key for key in table if served.get(key) is True)
    assert not missing and not wrong, f"cluster-scoped but not in the table: {missing}; namespaced: {wrong}"
    scopes = rbac_scope.for_inventory(AuditInventory.from_cluster(kube))
    if hasattr(kube, "resources"):  # the client layer offers discovery: the audit uses it
        assert scopes.source == "the API server's discovery"
        assert {k for k, namespaced in served.items() if not namespaced} <= scopes.cluster_scoped
