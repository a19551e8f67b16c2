"""`--context` reaches the API server, in the CLI and in the kernels `kubebook run` starts.

The kubeconfig holds two contexts, its current one pointing nowhere: a command that ignored
`--context` would fail to connect.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubebook.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_contexts(local_cluster: Path, tmp_path: Path) -> Path:
    config = yaml.safe_load(local_cluster.read_text())
    context = config["contexts"][0]["context"]
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.9:1"}})
    config["contexts"] = [{"name": "real", "context": context},
                          {"name": "bogus", "context": {"cluster": "nowhere", "user": context["user"]}}]
    config["current-context"] = "bogus"
    path = tmp_path / "kubeconfig"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config))
    return path


def test_audit_connects_with_the_named_context(two_contexts: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--kubeconfig", str(two_contexts), "--format", "json",
                 "--output", str(tmp_path / "a.json")]) == 2
    assert "127.0.0.9" in capsys.readouterr().err
    assert main(["audit", "--kubeconfig", str(two_contexts), "--context", "real", "--format", "json",
                 "--output", str(tmp_path / "a.json")]) in (0, 1)
    assert json.loads((tmp_path / "a.json").read_text())["score"]["overall"] is not None
    assert main(["audit", "--cluster", str(two_contexts), "--context", "real", "--format", "json",
                 "--output", str(tmp_path / "b.json")]) in (0, 1)  # the old spelling, the same audit


def test_run_hands_the_context_to_the_kernel(two_contexts: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    done = subprocess.run([sys.executable, "-m", "kubebook.cli", "run", str(ROOT / "runbooks" / "cluster-info.ipynb"),
                           "--kubeconfig", str(two_contexts), "--context", "real", "--archive", str(archive),
                           "--no-progress"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(next(archive.rglob("results.json")).read_text())
    assert results["cluster"]["name"] == "real"
    assert results["cluster_fingerprint"]
