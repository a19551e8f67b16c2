"""cluster-info never passes vacuously: with no reachable API server it fails with a clear message."""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest
import yaml

from kubebook.localcluster.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_info_fails_clearly_when_no_api_server_answers(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    kubeconfig = tmp_path / "unreachable.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                   "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "c", "context": {"cluster": "gone", "user": "u"}}],
        "current-context": "c",
    }))
    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(str(ROOT / "runbooks" / "cluster-info.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"kubeconfig": str(kubeconfig)}, progress_bar=False,
                                   kernel_name="python3")
    assert error.value.ename == "ClusterUnreachableError"
    assert f"127.0.0.1:{port}" in error.value.evalue
    assert "kubebook cluster up" in error.value.evalue
