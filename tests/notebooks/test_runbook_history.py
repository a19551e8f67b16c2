"""Runbooks as a scheduler runs them (`kubebook run --archive DIR`, fresh processes, headless kernels).

harden-audit compares with the previous run in the same archive; the archived report
shows a failing check's whole remediation text; harden-remediate asked to apply
without confirmation fails and changes nothing.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from kubebook.audit import catalog

ROOT = Path(__file__).resolve().parents[2]
# What a browser would fetch: a src attribute, a CSS @import or url() pointing at another host.
FETCH = re.compile(r"""(?:\bsrc\s*=\s*["']?|@import\s+["']?|url\(\s*["']?)(https?://[^"')\s>]+)""", re.IGNORECASE)


def kubebook_run(notebook: str, archive: Path, kubeconfig: Path, *parameters: tuple[str, str],
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`kubebook run` as a user types it, from ``cwd`` (the archive path may be relative to it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBEBOOK_ARCHIVE", "KUBEBOOK_HEADLESS")}
    flags = [f for name, value in parameters for f in ("-p", name, value)]
    return subprocess.run([sys.executable, "-m", "kubebook.cli", "run", str(ROOT / notebook), "--archive",
                           str(archive), "--cluster", str(kubeconfig), "--no-progress", *flags],
                          capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=600, check=False)


def newest_run(archive: Path, runbook: str) -> Path:
    runs = sorted((archive / runbook).glob("*/*/*/results.json"))
    assert runs, f"no archived {runbook} run under {archive}"
    return runs[-1].parent


def test_two_runs_into_one_archive_compare_with_each_other(local_cluster: Path, tmp_path: Path) -> None:
    archive = tmp_path / "evidence"
    first = kubebook_run("runbooks/harden-audit.ipynb", archive, local_cluster)
    assert first.returncode == 0, first.stderr[-3000:]
    first_dir = newest_run(archive, "harden-audit")
    first_records = json.loads((first_dir / "results.json").read_text())["records"]
    assert first_records["previous_run"] is None

    second = kubebook_run("runbooks/harden-audit.ipynb", archive, local_cluster)
    assert second.returncode == 0, second.stderr[-3000:]
    second_dir = newest_run(archive, "harden-audit")
    records = json.loads((second_dir / "results.json").read_text())["records"]
    first_id = json.loads((first_dir / "results.json").read_text())["run_id"]
    assert records["previous_run"] == first_id, "the second run found the first in the same archive"
    assert records["changes"].get("still open", 0) > 0 and records["changes"].get("new", 0) < len(
        records["open_findings"]), records["changes"]

    # The archived report: the runbook's title, nothing fetched from a third party (plotly.js is inside).
    raw = (second_dir / "report.html").read_text()
    assert re.findall(r"<title>(.*?)</title>", raw) == ["Harden: audit"]
    assert FETCH.findall(raw) == [], FETCH.findall(raw)[:5]
    assert "In&nbsp;[" not in raw
    # It shows a failing check's remediation in full, not cut at 50 characters.
    page = html.unescape(re.sub(r"<[^>]+>", "", raw))
    check = catalog.load_catalog()[records["top_risks"][0]]
    assert check.remediation in page
    assert "recorded score" not in page, "record() is silent"


def test_headless_apply_without_confirm_fails_and_changes_nothing(local_cluster: Path, kube, namespace: str,
                                                                   tmp_path: Path) -> None:
    done = kubebook_run("runbooks/harden-remediate.ipynb", tmp_path / "evidence", local_cluster,
                        ("namespaces", namespace), ("dry_run", "false"))
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    records = json.loads((newest_run(tmp_path / "evidence", "harden-remediate") / "results.json").read_text())
    assert records["status"] == "failed"
    assert "not confirmed" in json.dumps(records), records.get("error")
    labels = kube.core.read_namespace(namespace).metadata.labels or {}
    assert "pod-security.kubernetes.io/enforce" not in labels
    assert kube.networking.list_namespaced_network_policy(namespace).items == []
