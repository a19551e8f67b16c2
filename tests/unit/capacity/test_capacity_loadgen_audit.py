"""What the load generator creates passes kubebook's own audit: `make run` loads the cluster it just scored.

``make run`` provisions the cluster, prints the audit score, then runs ``capacity load`` before the
scheduled harden-audit; a namespace or Deployment of kubebook's own that fails a scored check would make
the report disagree with the printed score (the journey test checks that on the real cluster). Here the
generated objects are audited as manifests, with the audit's own engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kubebook.capacity import loadgen
from kubebook.cli import main


def test_the_generated_namespace_and_workloads_fail_no_scored_check(tmp_path: Path, capsys) -> None:
    namespace = "capacity-load"
    workloads = loadgen.plan(4)
    objects = [*loadgen.namespace_objects(namespace), *(loadgen.manifest(w, namespace) for w in workloads),
               *(loadgen.disruption_budget(w, namespace) for w in workloads if w.replicas > 1)]
    (tmp_path / "load.yaml").write_text(yaml.safe_dump_all(objects))
    code = main(["audit", "--manifests", str(tmp_path), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    failing = sorted({f["check"] for f in report["findings"] if f["result"] == "FAIL" and not f.get("waived")
                      and f["check"] not in ("images.probes",)})  # unscored: KWOK runs no process to probe
    assert failing == [], failing
    assert code in (0, 1) and report["score"]["overall"] == 100.0, report["score"]
