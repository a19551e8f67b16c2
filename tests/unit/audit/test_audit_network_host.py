"""network.cni-enforces-policy on a kubebook local cluster whose real node runs kube-router as a host process.

No kube-system pod names the CNI there: kube-router runs beside the kubelet, recorded in the
local cluster's state.json. The check reads that record, the live process behind it (its
flags) and the Node object, so the `default` cluster with a real node is not a HIGH finding,
and a stopped kube-router is a FAIL, not a pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from kubebook.audit import AuditInventory, network

SERVER = "https://127.0.0.1:59999"
KWOK = {"kind": "Node", "metadata": {"name": "kwok-0", "annotations": {"kwok.x-k8s.io/node": "fake"}}}
REAL = {"kind": "Node", "metadata": {"name": "host-1", "labels": {"kubebook.io/node-type": "real"}}}


@pytest.fixture
def router() -> Iterator[subprocess.Popen[bytes]]:
    """A stand-in process whose command line carries kube-router's firewall flag."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--run-firewall=true"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _local_cluster(data: Path, monkeypatch: pytest.MonkeyPatch, real_node: dict | None) -> None:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(data))
    folder = data / "clusters" / "default"
    folder.mkdir(parents=True)
    (folder / "kubeconfig").write_text(f"clusters:\n- cluster:\n    server: {SERVER}\n  name: default\n")
    (folder / "state.json").write_text(json.dumps({"real_node": real_node} if real_node else {}))


def _finding(nodes: list[dict]) -> tuple[str, str]:
    inv = AuditInventory(source="cluster", cluster=SimpleNamespace(server=SERVER),
                         by_kind={"Node": nodes, "Namespace": [{"kind": "Namespace", "metadata": {"name": "a"}}]})
    found = [f for f in network.evaluate(inv) if f.check.id == "network.cni-enforces-policy"]
    assert len(found) == 1
    return found[0].result, found[0].message


def _record(proc: subprocess.Popen[bytes]) -> dict:
    return {"component": "kube-router", "pid": proc.pid, "argv": [sys.executable], "log": "/dev/null"}


def test_a_running_host_kube_router_enforces_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    router: subprocess.Popen[bytes]) -> None:
    _local_cluster(tmp_path, monkeypatch, {"name": "host-1", "components": {"kube-router": _record(router)}})
    result, message = _finding([KWOK, REAL])
    assert result == "PASS", message
    assert "kube-router enforces NetworkPolicy on real node host-1" in message and "1 KWOK node" in message


def test_a_stopped_host_kube_router_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = {"component": "kube-router", "pid": dead.pid, "argv": [sys.executable, "--run-firewall=true"],
              "log": "/dev/null"}
    _local_cluster(tmp_path, monkeypatch, {"name": "host-1", "components": {"kube-router": record}})
    result, message = _finding([KWOK, REAL])
    assert result == "FAIL" and "is not running" in message, message


def test_a_real_node_that_is_not_registered_does_not_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          router: subprocess.Popen[bytes]) -> None:
    _local_cluster(tmp_path, monkeypatch, {"name": "host-1", "components": {"kube-router": _record(router)}})
    result, message = _finding([KWOK])
    assert result == "FAIL" and "not a registered Node" in message, message


def test_kwok_only_stays_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _local_cluster(tmp_path, monkeypatch, None)
    result, message = _finding([KWOK])
    assert result == "WARN" and "KWOK nodes enforce none" in message
