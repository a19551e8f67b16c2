"""kubebook.detect against a real local control plane's real audit log.

A module fixture starts its own cluster (``detect``, no real node), performs each technique as a
compromised ServiceAccount (its token, minted through TokenRequest) and as a low-privilege user
(impersonated by that ServiceAccount), then scans the API server's own audit log and asserts each rule
fires on its scenario and that the cluster's start-up traffic raises no HIGH or CRITICAL finding.
Exec, attach, port-forward and nodes/proxy need a kubelet (the KWOK nodes have none): not performed here.
Events are logged at level None by the local policy: events-deleted cannot fire, and the test says so.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from kubernetes import client

from kubebook.cluster import api_client_from_kubeconfig
from kubebook.detect import catalog, policy
from kubebook.detect.scan import scan
from kubebook.localcluster.manager import LocalCluster

NAME = "detect"
NS = "detect-lab"
SA = "attacker"
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture(scope="module")
def cluster():
    lc = LocalCluster(name=NAME, real_nodes=0)
    if lc.status().get("exists"):
        lc.down(purge=True)  # a fresh audit log: start-up traffic and the attack only
    lc.up()
    yield lc
    lc.down(purge=True)


def _as(base: client.ApiClient, token: str | None = None, impersonate: str | None = None) -> client.ApiClient:
    config = client.Configuration()
    config.host = base.configuration.host
    config.ssl_ca_cert = base.configuration.ssl_ca_cert
    config.verify_ssl = True
    if token:
        config.api_key = {"authorization": f"Bearer {token}"}
    else:
        config.cert_file, config.key_file = base.configuration.cert_file, base.configuration.key_file
    api = client.ApiClient(config)
    if impersonate:
        api.set_default_header("Impersonate-User", impersonate)
    return api


@pytest.fixture(scope="module")
def attack(cluster) -> dict:
    """Perform the techniques; return the time the attack began and the log's path."""
    admin = api_client_from_kubeconfig(str(cluster.kubeconfig))
    time.sleep(2)  # let start-up traffic settle so the boundary is clean
    began = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    # setup by the admin: a namespace that allows privileged pods (psa-relaxed), an over-privileged SA
    core.create_namespace({"metadata": {"name": NS, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}})
    core.create_namespaced_service_account(NS, {"metadata": {"name": SA}})
    core.create_namespaced_service_account(NS, {"metadata": {"name": "victim"}})
    rbac.create_cluster_role({"metadata": {"name": "detect-attacker"}, "rules": [
        {"apiGroups": [RBAC], "resources": ["clusterroles", "clusterrolebindings"],
         "verbs": ["create", "bind", "escalate"]},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]},
        {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"],
         "verbs": ["create", "delete"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["deletecollection", "delete"]},
        {"apiGroups": [""], "resources": ["services", "pods", "serviceaccounts"], "verbs": ["create"]},
    ]})
    rbac.create_cluster_role_binding({"metadata": {"name": "detect-attacker"}, "roleRef": {
        "apiGroup": RBAC, "kind": "ClusterRole", "name": "detect-attacker"},
        "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": NS}]})
    token = core.create_namespaced_service_account_token(SA, NS, {"spec": {"expirationSeconds": 600}}).status.token

    # as the compromised ServiceAccount
    sa = _as(admin, token=token)
    sa_core, sa_rbac = client.CoreV1Api(sa), client.RbacAuthorizationV1Api(sa)
    suffix = uuid.uuid4().hex[:6]
    sa_rbac.create_cluster_role_binding({"metadata": {"name": f"pwn-{suffix}"}, "roleRef": {
        "apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "mallory", "apiGroup": RBAC}]})
    sa_rbac.create_cluster_role({"metadata": {"name": f"wild-{suffix}"},
                                 "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]})
    sa_core.create_namespaced_service_account_token("victim", NS, {"spec": {"expirationSeconds": 600}})
    sa_core.list_secret_for_all_namespaces()
    client.AdmissionregistrationV1Api(sa).create_mutating_webhook_configuration({
        "metadata": {"name": f"evil-{suffix}"}, "webhooks": [{
            "name": "evil.detect.test", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Ignore", "clientConfig": {"url": "https://127.0.0.1:1/mutate"},
            "namespaceSelector": {"matchLabels": {"detect-never": "true"}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["configmaps"]}]}]})
    client.AdmissionregistrationV1Api(sa).delete_mutating_webhook_configuration(f"evil-{suffix}")
    sa_core.delete_collection_namespaced_event(NS)
    sa_core.create_namespaced_service(NS, {"metadata": {"name": "exposed"}, "spec": {
        "type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]}})
    # the pod runs as the namespace's default ServiceAccount, which kube-controller-manager creates a moment
    # after the namespace: on a loaded machine it may not exist yet (403 "serviceaccount default not found")
    deadline = time.monotonic() + 60
    while not [a for a in core.list_namespaced_service_account(NS).items if a.metadata.name == "default"]:
        assert time.monotonic() < deadline, f"no default ServiceAccount in {NS} after 60 s"
        time.sleep(0.5)
    sa_core.create_namespaced_pod(NS, {"metadata": {"name": "priv"}, "spec": {"containers": [{
        "name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}})
    sa_core.create_namespaced_service_account("kube-system", {"metadata": {"name": f"backdoor-{suffix}"}})
    # the low-privilege user, impersonated by the ServiceAccount: enumerates what it may do
    client.AuthorizationV1Api(_as(admin, token=token, impersonate="mallory")).create_self_subject_rules_review(
        {"spec": {"namespace": "default"}})
    time.sleep(3)  # the audit backend writes in batches
    log = cluster.root / "logs" / "audit-0.log"
    return {"began": began, "log": log, "sa": f"system:serviceaccount:{NS}:{SA}"}


EXPECTED = {  # rule -> who performed it
    "psa-relaxed": "admin", "rbac-bind-escalate-impersonate-grant": "admin", "token-request-other-sa": "sa",
    "cluster-admin-binding": "sa", "clusterrole-wildcard": "sa", "secrets-list-cluster-wide": "sa",
    "admission-webhook-changed": "sa", "nodeport-service": "sa", "privileged-pod": "sa",
    "serviceaccount-in-kube-system": "sa", "impersonation": "sa", "permission-enumeration": "sa",
}


def test_each_rule_fires_on_its_scenario(attack) -> None:
    result = scan([attack["log"]], catalog.catalogue())
    assert result.corrupt == 0 and result.scanned > 100
    during = [f for f in result.findings if (f.time or "") >= attack["began"]]
    fired = {f.rule: f for f in during}
    missing = sorted(set(EXPECTED) - set(fired))
    assert not missing, f"did not fire: {missing}; fired: {sorted(fired)}"
    for rule, who in EXPECTED.items():
        if who == "sa":
            assert fired[rule].user == attack["sa"], (rule, fired[rule])
    assert fired["token-request-other-sa"].object == f"serviceaccounts/token {NS}/victim"
    # the local policy logs Events at None: the deletion was made and cannot be seen (detect rules says so)
    assert "events-deleted" not in fired


def test_the_clusters_policy_is_reported_blind_to_event_deletion(cluster) -> None:
    rows = policy.coverage(policy.load_policy(cluster.root / "config" / "audit-policy.yaml"), catalog.catalogue())
    assert {r["rule"] for r in rows if r["status"] == "cannot_fire"} == {"events-deleted", "configmap-credentials"}


def test_start_up_traffic_raises_no_high_finding(attack, capsys) -> None:
    result = scan([attack["log"]], catalog.catalogue())
    startup = [f for f in result.findings if (f.time or "") < attack["began"]]
    high = [f for f in startup if f.severity in ("high", "critical")]
    with capsys.disabled():
        print(f"\nstart-up traffic: {sum(1 for _ in startup)} false positives "
              f"({', '.join(sorted({f'{f.rule}/{f.severity}' for f in startup})) or 'none'}), {len(high)} HIGH+")
    assert not high, [f.to_dict() for f in high]
