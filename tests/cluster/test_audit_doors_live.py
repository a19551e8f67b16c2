"""One cluster, one score: the harden-audit runbook and `kubebook audit` compose the same audit.

The runbook runs headless from a folder outside the repository (as a schedule may start
it) with its default waivers parameter, which must still find the repository's
``manifests/audit-waivers.yaml``; its recorded score must equal the CLI's with the same
waivers and the cluster's own control plane (``--control-plane auto``), which is also
what ``provision apply --audit`` prints (both call ``kubebook.audit.posture.posture``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kubebook.audit import posture

ROOT = Path(__file__).resolve().parents[2]
WAIVERS = ROOT / "manifests" / "audit-waivers.yaml"


def _cli_score(kubeconfig: Path) -> tuple[float | None, int]:
    done = subprocess.run([sys.executable, "-m", "kubebook.cli", "audit", "--cluster", str(kubeconfig),
                           "--control-plane", "auto", "--waivers", str(WAIVERS), "--format", "json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    document = json.loads(done.stdout)
    return document["score"]["overall"], sum(1 for f in document["findings"] if f["waived"])


def _runbook(kubeconfig: Path, archive: Path, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBEBOOK_ARCHIVE", "KUBEBOOK_HEADLESS")}
    done = subprocess.run([sys.executable, "-m", "kubebook.cli", "run", str(ROOT / "runbooks/harden-audit.ipynb"),
                           "--archive", str(archive), "--cluster", str(kubeconfig), "--no-progress"],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = sorted((archive / "harden-audit").glob("*/*/*/results.json"))
    assert results, f"no archived run under {archive}"
    return json.loads(results[-1].read_text())["records"]


def test_the_runbooks_recorded_score_equals_the_clis_with_the_same_waivers(local_cluster: Path,
                                                                          tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"  # not the repository: the default waivers must still be found
    elsewhere.mkdir()
    records = _runbook(local_cluster, tmp_path / "archive", elsewhere)
    assert records["waivers"] == str(WAIVERS.resolve()), records["waivers"]
    score, waived = _cli_score(local_cluster)
    if (score, waived) != (records["score"], records["waived"]):  # the cluster moved between the two audits
        records = _runbook(local_cluster, tmp_path / "archive", elsewhere)
        score, waived = _cli_score(local_cluster)
    assert records["score"] is not None and records["score"] == score, (records["score"], score)
    assert records["waived"] == waived and waived > 0, (records["waived"], waived)

    from kubebook import cluster

    target = cluster.connect(local_cluster)
    same = posture.posture(target, waivers=WAIVERS)  # what provision apply --audit calls
    assert same.score["overall"] == score
    assert same.composition.control_plane and same.composition.control_plane == posture.local_control_plane_for(target)
