"""The DR runbooks open with their outcome, decided by kubebook.dr.outcome and only drawn by the views."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from kubebook.dr import outcome
from kubebook.views import dr as view

ROOT = Path(__file__).resolve().parents[3]
DRILL = {"cluster": "c", "topology": "single", "status": "passed", "expected": 10, "restored": 10, "lost": [],
         "created_after_snapshot": [{"kind": "ConfigMap", "namespace": "default", "name": "p"}],
         "rpo_objects": 1, "rto_seconds": 12.5, "per_kind": [], "timeline": []}


def test_a_drill_within_its_targets_passes_and_says_nothing_was_lost() -> None:
    result = outcome.etcd_drill(DRILL, rto_target=60, rpo_target=3)
    assert result.result == "passed" and result.lost_summary == "nothing lost"
    assert [v.result for v in result.verdicts] == ["met", "met", "met"]
    assert "RTO 12.5 (target 60, met)" in result.summary


@pytest.mark.parametrize(("change", "missed"), [({"rto_seconds": 61.0}, "RTO (seconds)"),
                                                ({"rpo_objects": 4}, "RPO (objects created after the snapshot)")])
def test_a_missed_target_fails_the_drill(change: dict[str, float], missed: str) -> None:
    result = outcome.etcd_drill(DRILL | change, rto_target=60, rpo_target=3)
    assert result.result == "failed"
    assert [v.measure for v in result.verdicts if v.result == "missed"] == [missed]


def test_lost_objects_fail_the_drill_and_the_headline_names_them() -> None:
    lost = [{"kind": "Secret", "namespace": "a", "name": f"s{i}", "reason": "missing"} for i in range(5)]
    result = outcome.etcd_drill(DRILL | {"status": "failed", "lost": lost}, rto_target=60, rpo_target=3)
    assert result.result == "failed" and result.counts["lost"] == 5
    assert result.lost_summary == "5 object(s) lost: Secret/a/s0, Secret/a/s1, Secret/a/s2 and 2 more"
    drawn = view.outcome_headline(result)
    assert "Secret/a/s0" in str(drawn) and "#cf222e" in drawn._repr_html_()


def test_unknown_is_never_a_pass() -> None:
    not_run = outcome.etcd_drill(None, rto_target=60, rpo_target=3, not_run="dry run: nothing was changed")
    assert not_run.result == "not run" and {v.result for v in not_run.verdicts} == {"no_data"}
    assert "#1a7f37" not in view.outcome_headline(not_run)._repr_html_()
    no_rto = outcome.etcd_drill(DRILL | {"rto_seconds": None}, rto_target=60, rpo_target=3)
    assert no_rto.result == "failed"


def test_ha_drill_and_backup_verdicts() -> None:
    ha = {"cluster": "h", "status": "passed", "problems": [], "first_write_after_recovery_seconds": 30.0,
          "phases": [{"phase": "baseline", "writes": 5, "ok": 5, "failed": 0, "errors": []},
                     {"phase": "quorum lost", "writes": 1, "ok": 0, "failed": 1, "errors": ["lost quorum"]}]}
    assert outcome.ha_drill(ha, recovery_target=120).result == "passed"
    assert outcome.ha_drill(ha, recovery_target=120).counts["writes failed"] == 0, "the quorum write must fail"
    slow = outcome.ha_drill(ha, recovery_target=10)
    assert slow.result == "failed" and slow.verdicts[0].result == "missed"
    broken = outcome.ha_drill(ha | {"status": "failed", "problems": ["a write succeeded without quorum"]},
                              recovery_target=120)
    assert broken.result == "failed" and "without quorum" in broken.lost_summary
    backup = {"snapshot": {"run_id": "r", "verified": False, "revision": 5, "size": 10, "cluster": "c"},
              "retention": {"remove": []}, "snapshots": []}
    assert outcome.etcd_backup(backup).result == "failed"


def test_long_lists_sit_behind_their_count() -> None:
    rows = [{"kind": "ConfigMap", "namespace": "n", "name": f"c{i}"} for i in range(40)]
    drawn = view.objects_table(rows, empty="nothing")
    assert drawn._repr_html_().startswith("<details") and "<b>objects (40)</b>" in drawn._repr_html_()
    assert " open" not in drawn._repr_html_().split(">")[0]
    assert "open" in view.objects_table(rows[:2], empty="nothing")._repr_html_().split(">")[0]


@pytest.mark.parametrize("name", ["dr-etcd-drill", "dr-ha-drill"])
def test_the_runbook_opens_with_its_headline_decided_by_the_engine(name: str) -> None:
    nb = nbformat.read(ROOT / "runbooks" / f"{name}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    first = next(c.source for c in nb.cells[params + 1:] if c.cell_type == "code")
    assert "view.headline_slot(" in first, "the first thing the runbook shows must be its headline"
    assert any("outcome.etcd_drill(" in s or "outcome.ha_drill(" in s  # the cells call the use cases now,
               or "etcd_drill_report(" in s or "ha_drill_report(" in s for s in code), "the engine decides"
    assert any("headline.show(view.outcome_headline(" in s for s in code)
    assert not any("rto_seconds\"] <=" in s or "<= rto_target" in s for s in code), "no verdict in a cell"


def test_the_control_planes_own_late_writes_are_listed_but_not_counted_against_the_rpo() -> None:
    """make run's drill listed 3 probes and 2 controller ServiceAccounts created after the snapshot: the RPO
    target (3) read as missed while nothing was lost and the run's status said passed."""
    from kubebook.dr import drill, fingerprint

    after = [{"kind": "ConfigMap", "namespace": "default", "name": f"kubebook-dr-probe-{i}"} for i in range(3)]
    after += [{"kind": "ServiceAccount", "namespace": "kube-system", "name": "daemon-set-controller"},
              {"kind": "ClusterTrustBundle", "namespace": "", "name": "kubernetes.io:kube-apiserver-serving:01d1"}]
    user_sa = {"kind": "ServiceAccount", "namespace": "kube-system", "name": "my-operator"}
    comparison = fingerprint.Comparison(expected=10, restored=10, lost=[], created_after_snapshot=[*after, user_sa],
                                        changed_after_restore=[], per_kind=[])
    result = drill.DrillResult("c", "single", {}, comparison, 5.0, drill.Timeline()).as_json()
    assert result["rpo_objects"] == 4  # the probes and the operator's account; not the controller's writes
    assert [o["name"] for o in result["control_plane_after_snapshot"]] == ["daemon-set-controller",
                                                                         "kubernetes.io:kube-apiserver-serving:01d1"]
    verdict = outcome.etcd_drill({**result, "rpo_objects": 3}, rto_target=60, rpo_target=3)
    assert verdict.result == "passed"
