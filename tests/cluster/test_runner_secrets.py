"""A canary in a real Kubernetes Secret never reaches the archive; a deliberate leak is quarantined.

The runbook reads the Secret through kubebook.secrets.read_secret in the kernel,
prints it, records it and shows its base64; the runner learns the value through
the private sink and must redact it from every artifact.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from kubernetes import client

from kubebook.archive import Archive
from kubebook.cluster import Cluster
from kubebook.runner import EXIT_LEAKED, run_notebook
from kubebook.runner.redact import REDACTED

NOTEBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks" / "read_secret.ipynb"


def make_secret(kube: Cluster, namespace: str) -> str:
    canary = f"canary-{secrets.token_hex(16)}"
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="db-credentials"), string_data={"token": canary, "user": "app-user"}))
    return canary


def every_byte(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_canary_secret_value_is_absent_from_every_archived_byte(kube: Cluster, namespace: str,
                                                                 local_cluster: Path, tmp_path: Path) -> None:
    canary = make_secret(kube, namespace)
    outcome = run_notebook(NOTEBOOK, {"namespace": namespace, "secret_name": "db-credentials"},
                           archive=tmp_path, kubeconfig=str(local_cluster))
    assert outcome.status == "succeeded", outcome.error
    archived = every_byte(tmp_path)
    raw = canary.encode()
    for form in (raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()):
        assert form not in archived, f"{form!r} reached the archive"
    found = json.loads((outcome.run_dir / "results.json").read_text())
    assert found["records"]["token"] == REDACTED
    assert found["cluster_fingerprint"] == kube.fingerprint()
    assert found["cluster_fingerprint_source"] == "recorded"
    assert REDACTED in (outcome.run_dir / "report.html").read_text()
    assert Archive(tmp_path).verify() == []


def test_secret_leaked_in_an_unknown_encoding_fails_the_run_and_is_quarantined(
        kube: Cluster, namespace: str, local_cluster: Path, tmp_path: Path) -> None:
    """The notebook also prints base64(b'x' + value), which redaction does not rewrite; the scan must."""
    canary = make_secret(kube, namespace)
    outcome = run_notebook(NOTEBOOK, {"namespace": namespace, "secret_name": "db-credentials", "leak": True},
                           archive=tmp_path, kubeconfig=str(local_cluster))
    assert (outcome.status, outcome.exit_code) == ("leaked", EXIT_LEAKED)
    assert outcome.run_dir == tmp_path / ".quarantine" / outcome.run_id
    assert outcome.run_dir.stat().st_mode & 0o777 == 0o700
    assert not list(tmp_path.glob("read_secret/*/*/*")) and Archive(tmp_path).list_runs() == []
    quarantined = (outcome.run_dir / "notebook.ipynb").read_bytes()
    assert canary.encode() not in quarantined, "the raw value is redacted even in quarantine"
    leaks = json.loads((outcome.run_dir / "quarantine.json").read_text())["leaks"]
    assert any("base64 at offset 1" in hit for hit in leaks["notebook.ipynb"])
