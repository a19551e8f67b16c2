"""PodSecurity exemptions and configured defaults, with a real API server as the oracle.

The shared local cluster exempts nothing, so this module starts a second
kube-apiserver on the same etcd (the local cluster's own argv and certificates,
another port) whose AdmissionConfiguration enforces restricted by default and
exempts a namespace, a user and a runtime class. Pods of the agreement corpus
are then created with a server-side dry run - in the exempt namespace, in a
plain one, in one whose labels lower the level, as the exempt user
(impersonated) and with the exempt runtime class - and every answer must equal
``pss_admission.admit_pod`` for the same configuration file.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from test_pss_agreement import PREFIX, corpus

from kubebook import cluster as cluster_mod
from kubebook.audit import pss, pss_admission

EXEMPT_USER = "ci-deployer"
EXEMPT_RUNTIME = "kubebook-exempt"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _apiserver_argv(kubeconfig: Path) -> list[str]:
    state_path = kubeconfig.parent / "state.json"
    if not state_path.is_file():
        pytest.skip(f"{kubeconfig} is not a kubebook local cluster (no state.json beside it)")
    components = json.loads(state_path.read_text()).get("components") or {}
    for instance, record in sorted(components.items()):
        if instance.startswith("kube-apiserver") and record.get("argv"):
            return list(record["argv"])
    pytest.skip("the local cluster records no kube-apiserver argv")


@pytest.fixture(scope="module")
def exempting(local_cluster: Path, kube: cluster_mod.Cluster, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[cluster_mod.Cluster, pss_admission.PodSecurityConfig, dict[str, str]]]:
    """(a client of the second API server, its PodSecurity configuration, namespace names by role)."""
    tmp = tmp_path_factory.mktemp("exempting-apiserver")
    suffix = uuid.uuid4().hex[:6]
    names = {"exempt": f"pss-exempt-{suffix}", "plain": f"pss-plain-{suffix}", "baseline": f"pss-base-{suffix}"}
    admission = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration", "plugins": [{
        "name": "PodSecurity", "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "restricted", "enforce-version": "latest"},
            "exemptions": {"usernames": [EXEMPT_USER], "runtimeClasses": [EXEMPT_RUNTIME],
                           "namespaces": [names["exempt"]]}}}]}
    config_path = tmp / "admission.yaml"
    config_path.write_text(yaml.safe_dump(admission))
    port = _free_port()
    replace = {"--secure-port": str(port), "--admission-control-config-file": str(config_path),
               "--audit-log-path": str(tmp / "audit.log"),
               "--enable-admission-plugins": "NodeRestriction,DenyServiceExternalIPs"}
    argv = [a if a.partition("=")[0] not in replace else f"{a.partition('=')[0]}={replace[a.partition('=')[0]]}"
            for a in _apiserver_argv(local_cluster)]
    for role, name in names.items():
        labels = {pss.ENFORCE_LABEL: "baseline"} if role == "baseline" else {}
        kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    # the RuntimeClass admission plugin refuses pods naming a runtime class that does not exist
    client.NodeV1Api(kube.api_client).create_runtime_class(
        {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": EXEMPT_RUNTIME},
         "handler": "runc"})
    log = open(tmp / "apiserver.log", "w")  # noqa: SIM115 - open for the process's lifetime
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        kubeconfig = yaml.safe_load(local_cluster.read_text())
        for entry in kubeconfig["clusters"]:
            server = entry["cluster"]["server"]
            entry["cluster"]["server"] = server.rsplit(":", 1)[0] + f":{port}"
        second_path = tmp / "kubeconfig"
        second_path.write_text(yaml.safe_dump(kubeconfig))
        deadline = time.monotonic() + 120
        second = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the second kube-apiserver exited ({process.returncode}): "
                            + (tmp / "apiserver.log").read_text()[-2000:])
            try:
                second = cluster_mod.connect(second_path)
                second.core.list_namespace(limit=1)
                break
            except Exception:  # not serving yet
                time.sleep(0.5)
        else:
            pytest.fail("the second kube-apiserver did not serve within 120 s")
        yield second, pss_admission.load_config(config_path), names
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()
        for name in names.values():
            kube.core.delete_namespace(name)
        client.NodeV1Api(kube.api_client).delete_runtime_class(EXEMPT_RUNTIME)


def _answer(server: cluster_mod.Cluster, namespace: str, pod: dict[str, Any], user: str | None = None) -> str:
    """'' when admitted, else the text from 'violates PodSecurity' on; other refusals fail the test."""
    api = server.api_client
    if user:
        api.set_default_header("Impersonate-User", user)
        api.set_default_header("Impersonate-Group", "system:masters")
    try:
        server.core.create_namespaced_pod(namespace, pod, dry_run="All")
        return ""
    except ApiException as error:
        message = json.loads(error.body).get("message", "")
        if error.status == 403 and PREFIX in message:
            return PREFIX + message.split(PREFIX, 1)[1]
        pytest.fail(f"{pod['metadata']['name']} refused for another reason ({error.status}): {message}")
    finally:
        api.default_headers.pop("Impersonate-User", None)
        api.default_headers.pop("Impersonate-Group", None)


def test_exemptions_and_defaults_agree_with_the_api_server(exempting) -> None:
    server, config, names = exempting
    pods = corpus(seed=3, combinations=24)[::3]
    with_runtime = []
    for _, pod in pods:
        variant = copy.deepcopy(pod)
        variant["spec"]["runtimeClassName"] = EXEMPT_RUNTIME
        with_runtime.append(variant)
    cases = [(role, names[role], None, [p for _, p in pods]) for role in ("exempt", "plain", "baseline")]
    cases += [("user", names["plain"], EXEMPT_USER, [p for _, p in pods]),
              ("runtimeClass", names["plain"], None, with_runtime)]
    labels = {names["baseline"]: {pss.ENFORCE_LABEL: "baseline"}}
    disagreements, outcomes = [], {}
    for role, namespace, user, objects in cases:
        for pod in objects:
            answer = _answer(server, namespace, pod, user)
            ours = pss_admission.admit_pod(pod, namespace, labels.get(namespace, {}), config, username=user or "")
            expected = "" if ours.allowed else ours.message
            outcomes.setdefault(role, set()).add(bool(answer))
            if answer != expected:
                disagreements.append(f"[{role}] {pod['metadata']['name']}\n  server:   {answer or 'allowed'}\n"
                                     f"  kubebook: {expected or 'allowed'}")
    assert not disagreements, "\n".join(disagreements[:10])
    # exemptions admit everything; the configured default (restricted) and the baseline label deny some
    assert outcomes["exempt"] == outcomes["user"] == outcomes["runtimeClass"] == {False}
    assert outcomes["plain"] == {True, False} and True in outcomes["baseline"]
