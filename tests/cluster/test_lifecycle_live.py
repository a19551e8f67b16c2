"""certs check and node drain/uncordon against a real local control plane with KWOK nodes (issue 25).

One cluster for the module (``lifecycle``, no real node), purged after. Every command runs as a user
runs it: ``python -m kubebook ...`` in a subprocess, its exit code and output checked.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubebook.cluster import Cluster, connect
from kubebook.errors import ApiError
from kubebook.lifecycle import LOCK_NAME, LOCK_NAMESPACE
from kubebook.localcluster.manager import LocalCluster

NAME = os.environ.get("KUBEBOOK_LIFECYCLE_CLUSTER", "lifecycle")
NODE = "kwok-workload-0"
OTHER = "kwok-workload-1"


@pytest.fixture(scope="module")
def kube() -> Iterator[Cluster]:
    os.environ.setdefault("KUBEBOOK_UNSAFE_NO_FSYNC", "1")
    lc = LocalCluster(name=NAME, nodes=3, real_nodes=0)
    lc.up()
    yield connect(str(lc.root / "kubeconfig"))
    if not os.environ.get("KUBEBOOK_KEEP_CLUSTER"):
        lc.down(purge=True)


def kubebook(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubebook.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def namespace(kube: Cluster) -> Iterator[str]:
    name = f"lifecycle-{uuid.uuid4().hex[:6]}"
    kube.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube.delete_object("v1", "Namespace", name)


def tls_pair(days: float) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "soon.example.com")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("soon.example.com")]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_certs_check_lists_a_tls_secret_due_in_2_days_first_and_never_its_key(kube: Cluster, namespace: str) -> None:
    cert_pem, key_pem = tls_pair(2)
    kube.create_object({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": "soon", "namespace": namespace},
                        "data": {"tls.crt": base64.b64encode(cert_pem).decode(),
                                 "tls.key": base64.b64encode(key_pem).decode()}})
    result = kubebook("certs", "check", "--name", NAME, "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    first = report["certificates"][0]
    assert (first["source"], first["name"], first["status"]) == ("secret", f"{namespace}/soon", "warning")
    assert 1.9 < first["days_left"] <= 2.0 and first["sans"] == ["DNS:soon.example.com"]
    assert report["soonest"]["name"] == f"{namespace}/soon"
    sources = {c["source"] for c in report["certificates"]}
    assert {"local-pki", "kubeconfig", "secret"} <= sources
    names = {c["name"] for c in report["certificates"]}
    assert {"apiserver.crt", "etcd-server-0.crt", "etcd-peer-0.crt", "front-proxy-ca.crt", "sa.key"} <= names
    text = kubebook("certs", "check", "--name", NAME)
    assert text.returncode == 1
    assert text.stdout.splitlines()[1].split()[0] == "warning" and f"{namespace}/soon" in text.stdout.splitlines()[1]
    key_body = key_pem.decode().splitlines()[1]
    for output in (result.stdout + result.stderr, text.stdout + text.stderr):
        assert "PRIVATE KEY" not in output and key_body not in output
        assert base64.b64encode(key_pem).decode()[:40] not in output


# --- node maintenance ---

def wait(predicate: Any, seconds: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def pods(kube: Cluster, namespace: str) -> list[dict[str, Any]]:
    return list(kube.list_path(f"/api/v1/namespaces/{namespace}/pods"))


def ready_on(kube: Cluster, namespace: str, node: str, count: int) -> bool:
    found = [p for p in pods(kube, namespace) if p["spec"].get("nodeName") == node
             and not p["metadata"].get("deletionTimestamp")
             and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]
    return len(found) == count


def set_cordon(kube: Cluster, node: str, value: bool) -> None:
    kube.request("PATCH", f"/api/v1/nodes/{node}", body={"spec": {"unschedulable": value or None}},
                 content_type="application/merge-patch+json")


@pytest.fixture
def web(kube: Cluster, namespace: str) -> Iterator[str]:
    """A Deployment of 3 ready pods, all on NODE (the other nodes cordoned while it starts), and a PDB."""
    nodes = [n["metadata"]["name"] for n in kube.list_path("/api/v1/nodes")]
    for node in nodes:
        set_cordon(kube, node, node != NODE)
    container = {"name": "web", "image": "registry.k8s.io/pause:3.10",
                 "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65535,
                                     "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}
    kube.create_object({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "web", "namespace": namespace},
                        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                 "template": {"metadata": {"labels": {"app": "web"}},
                                              "spec": {"containers": [container]}}}})
    kube.create_object({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                        "metadata": {"name": "web", "namespace": namespace},
                        "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}})
    wait(lambda: ready_on(kube, namespace, NODE, 3), what="3 ready pods on the node")
    for node in nodes:
        set_cordon(kube, node, node == NODE)  # the others schedulable again, as a drain finds them
    set_cordon(kube, NODE, False)
    wait(lambda: (kube.get_object("policy/v1", "PodDisruptionBudget", "web", namespace) or {})
         .get("status", {}).get("currentHealthy") == 3, what="the PDB to count 3 healthy pods")
    yield namespace
    for node in nodes:
        set_cordon(kube, node, False)


def test_drain_refuses_bad_input_before_anything_changes(kube: Cluster) -> None:
    wrong = kubebook("node", "drain", NODE, "--name", NAME, "--confirm", OTHER)
    assert wrong.returncode == 2 and "--confirm must name the node" in wrong.stderr
    unknown = kubebook("node", "drain", "no-such-node", "--name", NAME, "--confirm", "no-such-node")
    assert unknown.returncode == 2 and "does not exist" in unknown.stderr and NODE in unknown.stderr
    assert not (kube.get_object("v1", "Node", NODE) or {})["spec"].get("unschedulable")
    assert kubebook("node", "uncordon", "no-such-node", "--name", NAME).returncode == 2


def test_drain_blocked_by_a_pdb_names_it_and_times_out_then_moves_every_pod(kube: Cluster, web: str) -> None:
    dry = kubebook("node", "drain", NODE, "--name", NAME, "--dry-run", "--json")
    report = json.loads(dry.stdout)
    assert dry.returncode == 1 and report["blocking_pdbs"] and report["blocking_pdbs"][0].startswith(f"{web}/web ")
    assert not (kube.get_object("v1", "Node", NODE) or {})["spec"].get("unschedulable")  # a dry run changes nothing
    assert len([p for p in pods(kube, web) if p["spec"].get("nodeName") == NODE]) == 3

    started = time.monotonic()
    blocked = kubebook("node", "drain", NODE, "--name", NAME, "--confirm", NODE, "--timeout", "10", "--json")
    took = time.monotonic() - started
    report = json.loads(blocked.stdout)
    assert blocked.returncode == 1 and report["timed_out"], blocked.stdout
    assert took < 10 + 15, took  # the timeout, plus the interpreter's start-up: never a hang
    assert report["seconds"] <= 10 + 2
    assert any(f"{web}/web (minAvailable=3" in p for p in report["blocking_pdbs"])
    assert {v["pod"].split("/")[0] for v in report["blocked"]} == {web} and len(report["blocked"]) == 3
    assert report["evicted"] == []
    assert kube.get_object("coordination.k8s.io/v1", "Lease", LOCK_NAME, LOCK_NAMESPACE) is None  # released

    kube.request("PATCH", f"/apis/policy/v1/namespaces/{web}/poddisruptionbudgets/web",
                 body={"spec": {"minAvailable": 2}}, content_type="application/merge-patch+json")
    moved = kubebook("node", "drain", NODE, "--name", NAME, "--confirm", NODE, "--timeout", "120", "--json")
    report = json.loads(moved.stdout)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert len(report["evicted"]) == 3 and report["blocked"] == [] and not report["timed_out"]
    wait(lambda: ready_on(kube, web, OTHER, 3), what="3 ready pods rescheduled on the other node")
    assert not [p for p in pods(kube, web) if p["spec"].get("nodeName") == NODE]

    assert (kube.get_object("v1", "Node", NODE) or {})["spec"].get("unschedulable") is True
    back = kubebook("node", "uncordon", NODE, "--name", NAME)
    assert back.returncode == 0 and "schedulable" in back.stdout
    assert not (kube.get_object("v1", "Node", NODE) or {})["spec"].get("unschedulable")


def test_a_second_concurrent_drain_is_refused_naming_the_holder(kube: Cluster, web: str) -> None:
    first: dict[str, subprocess.CompletedProcess[str]] = {}
    runner = threading.Thread(target=lambda: first.setdefault("r", kubebook(
        "node", "drain", NODE, "--name", NAME, "--confirm", NODE, "--timeout", "20")))
    runner.start()
    try:
        wait(lambda: kube.get_object("coordination.k8s.io/v1", "Lease", LOCK_NAME, LOCK_NAMESPACE),
             seconds=20, what="the first drain to take the lock")
        second = kubebook("node", "drain", OTHER, "--name", NAME, "--confirm", OTHER, "--timeout", "5")
        assert second.returncode == 1, second.stdout + second.stderr
        line = second.stderr.strip()
        assert len(line.splitlines()) == 1 and f"locked by kubebook node drain {NODE}" in line
        assert not (kube.get_object("v1", "Node", OTHER) or {})["spec"].get("unschedulable")  # nothing changed
    finally:
        runner.join(60)
    assert first["r"].returncode == 1 and "minAvailable=3" in first["r"].stdout  # the PDB held the first one
    with pytest.raises(ApiError):
        kube.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{LOCK_NAMESPACE}/leases/{LOCK_NAME}")
