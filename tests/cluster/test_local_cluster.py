"""The local control plane behaves like a hardened production cluster (real apiserver, etcd, KWOK)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubebook import cluster as cluster_mod
from kubebook.localcluster import build
from kubebook.localcluster.manager import LocalCluster

pytestmark = pytest.mark.cluster


def _state_of(kubeconfig: Path) -> tuple[Path, dict]:
    root = kubeconfig.parent
    return root, json.loads((root / "state.json").read_text())


def _wait(predicate, timeout: float = 60.0, interval: float = 0.25):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def test_deployment_of_three_replicas_runs_on_kwok_nodes(kube: cluster_mod.Cluster, namespace: str) -> None:
    labels = {"app": "web"}
    container = client.V1Container(name="web", image="registry.example/web:1.0")
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels),
                                              spec=client.V1PodSpec(containers=[container]))))
    kube.apps.create_namespaced_deployment(namespace, deployment)

    def running_pods() -> list[client.V1Pod]:
        pods = kube.core.list_namespaced_pod(namespace, label_selector="app=web").items
        running = [p for p in pods if p.status.phase == "Running"]
        return running if len(running) == 3 else []

    pods = _wait(running_pods)
    kwok_nodes = {n.metadata.name for n in kube.core.list_node(label_selector="type=kwok").items}
    assert {p.spec.node_name for p in pods} <= kwok_nodes
    assert all(p.spec.node_name for p in pods)


def test_anonymous_request_is_rejected_with_401(kube: cluster_mod.Cluster, local_cluster: Path) -> None:
    root, _ = _state_of(local_cluster)
    response = requests.get(f"{kube.server}/api/v1/namespaces", verify=str(root / "pki" / "ca.crt"), timeout=10)
    assert response.status_code == 401


def test_user_without_rbac_gets_403(kube: cluster_mod.Cluster, local_cluster: Path, tmp_path: Path) -> None:
    from kubebook.localcluster import configs, pki

    root, _ = _state_of(local_cluster)
    user_pki = tmp_path / "pki"
    user_pki.mkdir()
    for name in ("ca.crt", "ca.key"):
        (user_pki / name).write_bytes((root / "pki" / name).read_bytes())
    pki.ensure_cert(user_pki, pki.CertSpec("nobody", f"nobody-{uuid.uuid4().hex[:6]}", client=True))
    kubeconfig = configs.write_kubeconfig(tmp_path / "nobody.kubeconfig", kube.server, user_pki, "nobody", "t")
    nobody = cluster_mod.connect(kubeconfig)
    with pytest.raises(ApiException) as error:
        nobody.core.list_namespaced_pod("default")
    assert error.value.status == 403


def _etcdctl_get(root: Path, state: dict, key: str) -> bytes:
    pki = root / "pki"
    endpoint = f"https://127.0.0.1:{state['ports']['etcd_client']}"
    result = subprocess.run(
        [str(build.binary("etcdctl")), f"--endpoints={endpoint}", f"--cacert={pki / 'etcd-ca.crt'}",
         f"--cert={pki / 'apiserver-etcd-client.crt'}", f"--key={pki / 'apiserver-etcd-client.key'}",
         "get", key, "--print-value-only"], capture_output=True, check=True, timeout=30)
    return result.stdout


def test_secret_is_encrypted_at_rest_and_audited_without_data(kube: cluster_mod.Cluster, local_cluster: Path,
                                                              namespace: str) -> None:
    root, state = _state_of(local_cluster)
    canary = f"canary-{uuid.uuid4().hex}"
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="canary"), string_data={"password": canary}))
    raw = _etcdctl_get(root, state, f"/registry/secrets/{namespace}/canary")
    assert raw.startswith(b"k8s:enc:secretbox:v1:key1:"), raw[:40]
    assert canary.encode() not in raw

    def audit_event() -> dict | None:
        for log in sorted((root / "logs").glob("audit-*.log")):
            for line in log.read_text().splitlines():
                wanted = (f'"namespace":"{namespace}"', '"resource":"secrets"', '"verb":"create"')
                if all(part in line for part in wanted):
                    return json.loads(line)
        return None

    event = _wait(audit_event, timeout=20)
    assert event["level"] == "Metadata"
    assert event["objectRef"]["name"] == "canary"
    assert "requestObject" not in event and "responseObject" not in event
    everything = "".join(p.read_text() for p in (root / "logs").glob("audit-*.log"))
    assert canary not in everything


def _pod(name: str, privileged: bool) -> client.V1Pod:
    if privileged:
        security = client.V1SecurityContext(privileged=True)
    else:
        security = client.V1SecurityContext(
            allow_privilege_escalation=False, run_as_non_root=True, run_as_user=1000,
            capabilities=client.V1Capabilities(drop=["ALL"]),
            seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"))
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
        containers=[client.V1Container(name="c", image="registry.example/app:1.0", security_context=security)]))


def test_pod_security_restricted_rejects_privileged_and_admits_compliant(kube: cluster_mod.Cluster,
                                                                        namespace: str) -> None:
    kube.core.patch_namespace(namespace, {"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(namespace, _pod("privileged", privileged=True))
    assert error.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in json.loads(error.value.body)["message"]
    created = kube.core.create_namespaced_pod(namespace, _pod("compliant", privileged=False))
    assert created.metadata.name == "compliant"


def test_cluster_default_enforces_baseline(kube: cluster_mod.Cluster, namespace: str) -> None:
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(namespace, _pod("privileged", privileged=True))
    assert 'violates PodSecurity "baseline:latest"' in json.loads(error.value.body)["message"]


def test_private_keys_are_0600(local_cluster: Path) -> None:
    root, _ = _state_of(local_cluster)
    keys = [*list((root / "pki").glob("*.key")), root / "config" / "encryption.yaml", local_cluster]
    assert len(keys) > 10
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in keys}
    assert set(modes.values()) == {"0o600"}, modes


def test_starting_a_running_cluster_is_a_no_op(local_cluster: Path) -> None:
    root, state = _state_of(local_cluster)
    if root.parent.name != "clusters":
        pytest.fail("the session cluster is not a kubebook local cluster")
    messages: list[str] = []
    cluster = LocalCluster(name=state["name"], topology=state["topology"], nodes=state["nodes"], root=root)
    status = cluster.up(progress=messages.append)
    assert any("already running" in m for m in messages)
    _, after = _state_of(local_cluster)
    assert {k: v["pid"] for k, v in after["components"].items()} == {
        k: v["pid"] for k, v in state["components"].items()}
    assert status["healthy"]


def test_admin_kubeconfig_is_not_system_masters(local_cluster: Path) -> None:
    config = yaml.safe_load(local_cluster.read_text())
    import base64

    from cryptography import x509

    cert = x509.load_pem_x509_certificate(base64.b64decode(config["users"][0]["user"]["client-certificate-data"]))
    organizations = [a.value for a in cert.subject if a.oid == x509.NameOID.ORGANIZATION_NAME]
    assert organizations == ["kubebook:cluster-admins"]
