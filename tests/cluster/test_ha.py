"""The ha topology survives losing an apiserver and an etcd member, and `up` repairs it."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from kubebook import cluster as cluster_mod
from kubebook.localcluster import processes
from kubebook.localcluster.manager import LocalCluster

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def ha_cluster() -> Iterator[LocalCluster]:
    os.environ.setdefault("KUBEBOOK_UNSAFE_NO_FSYNC", "1")  # test-only: etcd skips fsync
    lc = LocalCluster(name="pytest-ha", topology="ha", nodes=3)
    lc.down(purge=True)
    lc.up()
    try:
        yield lc
    finally:
        lc.down(purge=True)


def _kill(lc: LocalCluster, component: str) -> int:
    record = lc.load_state()["components"][component]
    os.kill(record["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and processes.is_alive(processes.ProcessRecord(**record)):
        time.sleep(0.05)
    return int(record["pid"])


def test_writes_survive_a_killed_apiserver_and_etcd_member_and_up_repairs(ha_cluster: LocalCluster) -> None:
    kube = cluster_mod.connect(ha_cluster.kubeconfig)
    assert ":" in kube.server and ha_cluster.load_state()["ports"]["lb"] == int(kube.server.rsplit(":", 1)[1])
    killed = {name: _kill(ha_cluster, name) for name in ("kube-apiserver-1", "etcd-2")}
    status = ha_cluster.status()
    assert not status["components"]["kube-apiserver-1"]["alive"]
    assert not status["components"]["etcd-2"]["alive"]

    for index in range(12):  # round-robin through HAProxy hits every backend several times
        name = f"ha-write-{index}-{uuid.uuid4().hex[:6]}"
        kube.core.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name), data={"i": str(index)}))
        assert kube.core.read_namespaced_config_map(name, "default").data == {"i": str(index)}

    messages: list[str] = []
    repaired = ha_cluster.up(progress=messages.append)
    assert any("starting kube-apiserver-1" in m for m in messages)
    assert any("starting etcd-2" in m for m in messages)
    assert not any("starting kube-apiserver-0" in m for m in messages), "up must not restart healthy members"
    assert repaired["healthy"], repaired
    state = ha_cluster.load_state()["components"]
    assert state["kube-apiserver-1"]["pid"] != killed["kube-apiserver-1"]
    assert state["etcd-2"]["pid"] != killed["etcd-2"]

    from kubebook.localcluster import health

    layout = ha_cluster._layout(ha_cluster.load_state())
    assert health.etcd_healthy(layout.pki, layout.etcd_client_urls()[2])
    assert health.apiserver_ready(layout.pki, layout.apiserver_url(1))
