"""Bad starts of a local cluster fail clearly and leave nothing running."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kubebook.errors import LocalClusterError
from kubebook.localcluster.manager import LocalCluster
from kubebook.localcluster.processes import cmdline

pytestmark = pytest.mark.cluster


def our_processes(root: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            argv = cmdline(int(proc.name)) or []
            if any(str(root) in part for part in argv):
                found.append(int(proc.name))
    return found


def test_port_in_use_is_reported_before_anything_starts(tmp_path: Path) -> None:
    lc = LocalCluster(name="pytest-busy", root=tmp_path / "busy")
    state = lc._new_state()
    lc._save_state(state)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", state["ports"]["apiserver"]))
        squatter.listen()
        with pytest.raises(LocalClusterError) as error:
            lc.up()
    assert f"127.0.0.1:{state['ports']['apiserver']} (kube-apiserver-0)" in str(error.value)
    assert our_processes(tmp_path / "busy") == []
    assert lc.load_state()["components"] == {}


def test_missing_binaries_are_reported_and_nothing_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEBOOK_CACHE_DIR", str(tmp_path / "empty-cache"))
    lc = LocalCluster(name="pytest-nobin", root=tmp_path / "nobin")
    with pytest.raises(LocalClusterError) as error:
        lc.up()
    assert "is not built" in str(error.value) and "kubebook cluster build" in str(error.value)
    assert our_processes(tmp_path / "nobin") == []


def test_failure_mid_start_stops_what_was_started(tmp_path: Path) -> None:
    """etcd starts, then the apiserver dies at once (its audit policy is not YAML): etcd must be stopped too."""
    lc = LocalCluster(name="pytest-broken", root=tmp_path / "broken")
    from kubebook.localcluster import configs

    original = configs.write_audit_policy
    try:
        configs.write_audit_policy = lambda config_dir: configs._write(config_dir / "audit-policy.yaml", "{not yaml")
        with pytest.raises(LocalClusterError) as error:
            lc.up()
    finally:
        configs.write_audit_policy = original
    assert "kube-apiserver-0 exited during start-up" in str(error.value)
    assert our_processes(tmp_path / "broken") == []
    assert lc.load_state()["components"] == {}
