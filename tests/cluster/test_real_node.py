"""A real worker node beside the KWOK nodes: real containers, real pod network, real NetworkPolicy.

Opt-in while it matures: set ``KUBEBOOK_REAL_NODE_TESTS=1`` (root, cgroups and the kernel features
of ``kubebook.localcluster.node.hostcheck`` are needed). The module starts its own local cluster
``realnode`` with one KWOK node and one real node (or reuses it when already up), and its last
test takes it down and proves that nothing is left on the host.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.stream import stream

from kubebook import cluster as cluster_mod
from kubebook.localcluster import processes
from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.node import cleanup, network
from kubebook.localcluster.processes import ProcessRecord

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(os.environ.get("KUBEBOOK_REAL_NODE_TESTS") != "1",
                       reason="real-node tests are opt-in: KUBEBOOK_REAL_NODE_TESTS=1"),
]
TOLERATION = client.V1Toleration(key="kubebook.io/real-node", operator="Exists", effect="NoSchedule")
RESTRICTED = client.V1SecurityContext(
    allow_privilege_escalation=False, run_as_non_root=True, run_as_user=10001, run_as_group=10001,
    capabilities=client.V1Capabilities(drop=["ALL"]), seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"))


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


@pytest.fixture(scope="module")
def real_cluster(real_node_cluster: LocalCluster) -> Iterator[LocalCluster]:
    lc = real_node_cluster
    existed = lc.status().get("healthy", False)
    lc.up()
    try:
        yield lc
    finally:
        if not existed:
            lc.down(purge=True)


@pytest.fixture(scope="module")
def kube(real_cluster: LocalCluster) -> cluster_mod.Cluster:
    return cluster_mod.connect(real_cluster.kubeconfig)


@pytest.fixture(scope="module")
def busybox(real_cluster: LocalCluster) -> str:
    return str(real_cluster.load_state()["real_node"]["images"]["busybox"])


@pytest.fixture
def ns(kube: cluster_mod.Cluster) -> Iterator[str]:
    name = f"rn-{uuid.uuid4().hex[:8]}"
    kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={"pod-security.kubernetes.io/enforce": "restricted"})))
    # pods are refused until the controller-manager has made the namespace's default ServiceAccount
    wait_for(lambda: kube.core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
             30, 0.2)
    try:
        yield name
    finally:
        with contextlib.suppress(urllib3.exceptions.HTTPError):  # the last test takes the cluster down
            kube.core.delete_namespace(name, grace_period_seconds=0)


def pod(name: str, image: str, command: list[str], labels: dict[str, str] | None = None,
        context: client.V1SecurityContext | None = None, **extra: Any) -> client.V1Pod:
    container = client.V1Container(name="main", image=image, command=command,
                                   security_context=context or RESTRICTED, **extra.pop("container", {}))
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": name}),
        spec=client.V1PodSpec(containers=[container], tolerations=[TOLERATION], restart_policy="Never",
                              node_selector={"kubebook.io/node-type": "real"},
                              termination_grace_period_seconds=1, **extra))


def run_to_end(kube: cluster_mod.Cluster, ns: str, body: client.V1Pod, timeout: float = 90) -> tuple[str, str]:
    """Create a pod, wait until it ends; return (phase, logs)."""
    kube.core.create_namespaced_pod(ns, body)
    name = body.metadata.name
    phase = wait_for(lambda: (kube.core.read_namespaced_pod(name, ns).status.phase in ("Succeeded", "Failed"))
                     and kube.core.read_namespaced_pod(name, ns).status.phase, timeout)
    return phase, kube.core.read_namespaced_pod_log(name, ns)


def start(kube: cluster_mod.Cluster, ns: str, body: client.V1Pod, timeout: float = 90) -> client.V1Pod:
    kube.core.create_namespaced_pod(ns, body)
    name = body.metadata.name
    return wait_for(lambda: (p := kube.core.read_namespaced_pod(name, ns)).status.phase == "Running"
                    and p.status.pod_ip and p, timeout)


def test_busybox_pod_runs_on_the_real_node_and_its_output_is_in_the_logs(kube, ns, busybox) -> None:
    phase, logs = run_to_end(kube, ns, pod("hello", busybox, ["sh", "-c", "echo hello from $(hostname); id -u"]))
    assert phase == "Succeeded"
    assert "hello from hello" in logs and "10001" in logs
    node = kube.core.read_namespaced_pod("hello", ns).spec.node_name
    assert kube.core.read_node(node).metadata.labels["kubebook.io/node-type"] == "real"


def test_exec_runs_a_command_in_a_running_container(kube, ns, busybox) -> None:
    start(kube, ns, pod("sleeper", busybox, ["sleep", "300"]))
    output = stream(kube.core.connect_get_namespaced_pod_exec, "sleeper", ns, command=["cat", "/etc/hostname"],
                    stderr=True, stdin=False, stdout=True, tty=False)
    assert output.strip() == "sleeper"


def test_read_only_root_filesystem_refuses_a_write(kube, ns, busybox) -> None:
    # /tmp of the image is on the root filesystem and mode 1777: only read-only-ness can refuse the write
    script = "touch /tmp/probe && echo WROTE-ROOTFS; touch /scratch/probe && echo WROTE-VOLUME; true"
    readonly = client.V1SecurityContext(**{**RESTRICTED.to_dict(), "read_only_root_filesystem": True})
    volume = {"volumes": [client.V1Volume(name="scratch", empty_dir=client.V1EmptyDirVolumeSource())],
              "container": {"volume_mounts": [client.V1VolumeMount(name="scratch", mount_path="/scratch")]},
              "security_context": client.V1PodSecurityContext(fs_group=10001)}
    _, logs = run_to_end(kube, ns, pod("ro", busybox, ["sh", "-c", script], context=readonly, **volume))
    assert "WROTE-ROOTFS" not in logs and "Read-only file system" in logs
    assert "WROTE-VOLUME" in logs  # the emptyDir is writable: the refusal is the read-only root, nothing else
    _, control = run_to_end(kube, ns, pod("rw", busybox, ["sh", "-c", script], **volume))
    assert "WROTE-ROOTFS" in control  # the same pod without readOnlyRootFilesystem writes there


def test_non_root_without_net_bind_service_cannot_bind_port_80(kube, ns, busybox) -> None:
    script = ("nc -l -p 80 -w 1 2>&1 | head -1; echo exit80=$?; "
              "timeout 2 nc -l -p 8080 -w 1; echo exit8080=$?")
    _, logs = run_to_end(kube, ns, pod("bind", busybox, ["sh", "-c", script]))
    assert "Permission denied" in logs, logs
    assert "exit8080=143" in logs or "exit8080=0" in logs or "exit8080=1" in logs
    assert logs.count("Permission denied") == 1  # 8080 binds: only port 80 is refused


def test_network_policy_default_deny_drops_traffic_and_an_allow_restores_it(kube, ns, busybox) -> None:
    server = start(kube, ns, pod("server", busybox, ["sh", "-c", "mkdir -p /tmp/www && echo pong > /tmp/www/ping "
                                                     "&& httpd -f -p 8080 -h /tmp/www"], labels={"app": "server"}))
    start(kube, ns, pod("client", busybox, ["sleep", "600"], labels={"app": "client"}))
    # nc speaks the HTTP request itself (no wget: the test needs the exact exit code of a refused connection)
    request = f"printf 'GET /ping HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {server.status.pod_ip} 8080 2>&1; echo rc=$?"

    def fetch() -> str:
        return str(stream(kube.core.connect_get_namespaced_pod_exec, "client", ns, command=["sh", "-c", request],
                          stderr=True, stdin=False, stdout=True, tty=False))

    assert "pong" in wait_for(lambda: "pong" in (out := fetch()) and out, 30)
    net = kube.networking
    deny = client.V1NetworkPolicy(metadata=client.V1ObjectMeta(name="default-deny"),
                                  spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(),
                                                                  policy_types=["Ingress"]))
    net.create_namespaced_network_policy(ns, deny)
    blocked = wait_for(lambda: "pong" not in (out := fetch()) and out, 45)
    assert "rc=1" in blocked  # refused or timed out by kube-router's firewall, not a server error
    allow = client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name="allow-client"),
        spec=client.V1NetworkPolicySpec(
            pod_selector=client.V1LabelSelector(match_labels={"app": "server"}), policy_types=["Ingress"],
            ingress=[client.V1NetworkPolicyIngressRule(
                _from=[client.V1NetworkPolicyPeer(pod_selector=client.V1LabelSelector(
                    match_labels={"app": "client"}))],
                ports=[client.V1NetworkPolicyPort(port=8080, protocol="TCP")])]))
    net.create_namespaced_network_policy(ns, allow)
    assert "pong" in wait_for(lambda: "pong" in (out := fetch()) and out, 45)


def test_secret_mounted_as_a_file_is_readable_inside_and_encrypted_in_etcd(kube, ns, busybox, real_cluster) -> None:
    value = f"s3cr3t-{uuid.uuid4().hex[:6]}"
    kube.core.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name="creds"),
                                                            string_data={"password": value}))
    mount = {"volumes": [client.V1Volume(name="creds", secret=client.V1SecretVolumeSource(secret_name="creds"))],
             "container": {"volume_mounts": [client.V1VolumeMount(name="creds", mount_path="/creds",
                                                                  read_only=True)]}}
    _, logs = run_to_end(kube, ns, pod("reader", busybox, ["cat", "/creds/password"], **mount))
    assert logs.strip() == value
    from kubebook.audit import cpcollect, secrets_check
    from kubebook.audit.cprules import Component

    collection = cpcollect.collect_local(real_cluster.name)
    apiserver = next(c for c in collection["components"] if c["name"] == "kube-apiserver")
    stored = secrets_check.stored_prefixes(secrets_check.etcdctl_command(collection, Component(apiserver, collection)))
    assert stored[f"/registry/secrets/{ns}/creds"].startswith("k8s:enc:secretbox:v1:")


def test_the_inventory_shows_the_real_node_apart_from_the_simulated_ones(kube) -> None:
    from kubebook import inventory

    runtimes = {n.name: n.runtime for n in inventory.nodes(kube)}
    assert sorted(runtimes.values()) == ["real", "simulated"], runtimes


def test_cluster_images_lists_busybox_by_name(real_cluster) -> None:
    from kubebook.localcluster.node.runtime import RealNode

    rows = RealNode(real_cluster.root, "", 0).images(real_cluster.load_state())
    busybox = [row for row in rows if row["name"] == "busybox"]
    assert busybox and busybox[0]["digest"].startswith("sha256:") and busybox[0]["size"] > 500_000
    assert {"name", "ref", "digest", "size"} == set(busybox[0])


def test_node_audit_of_the_real_kubelet_passes_and_its_flag_defaults_are_the_binarys(real_cluster) -> None:
    import re
    import subprocess

    from kubebook.audit import AuditInventory, node, run_audit

    frame = run_audit(AuditInventory.from_control_plane(real_cluster.name)).findings
    rows = frame[frame["section"] == "node"]
    assert len(set(rows["check"])) == 23 and set(rows["result"]) == {"PASS"}, rows[rows["result"] != "PASS"]
    kubelet = real_cluster.load_state()["real_node"]["components"]["kubelet"]["argv"][0]
    helptext = subprocess.run([kubelet, "--help"], capture_output=True, text=True, timeout=60).stdout
    for name, setting in node.rules()["settings"].items():
        if "flag_default" not in setting:
            continue
        line = re.search(rf"^\s+{re.escape(setting['flag'])}( \S+)?\s{{2,}}(.*)$", helptext, re.MULTILINE)
        assert line, f"kubelet --help has no {setting['flag']}"
        printed = re.search(r"\(default ([^)]*)\)", line.group(2))
        expected = printed.group(1).strip('"') if printed else "false"
        assert expected == setting["flag_default"], f"{name}: kubelet says {expected}"


def test_cluster_down_leaves_no_container_mount_veth_or_process(kube, ns, busybox, real_cluster) -> None:
    start(kube, ns, pod("leftover", busybox, ["sleep", "600"]))
    state = real_cluster.load_state()
    node = state["real_node"]
    socket = real_cluster.root / "node-0" / "containerd" / "containerd.sock"
    assert cleanup.cgroup_pids() and cleanup.shim_pids(socket) and network.bridge_ports()  # the check can fail
    records = list(node["components"].values())
    assert network.owned_chains()  # kube-router's and the kubelet's chains are there before down
    real_cluster.down()
    assert not cleanup.cgroup_pids()
    assert not cleanup.shim_pids(socket)
    assert not cleanup.mounts_under(real_cluster.root)
    assert not network.bridge_exists() and not network.bridge_ports()
    assert not network.owned_chains() and not network.owned_ipsets()
    assert not cleanup.cgroup_dirs()
    assert not any(processes.is_alive(ProcessRecord(**record)) for record in records)
    with pytest.raises(urllib3.exceptions.HTTPError):  # the API server is gone too
        kube.core.list_namespace(_request_timeout=2)
