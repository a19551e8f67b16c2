"""The decisions the runbook cells used to make, made once by the use cases (and the public API stays cheap)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

import kubebook
from kubebook.capacity import forecast, schema, synthetic
from kubebook.capacity.outlook import Outlook
from kubebook.dr import backup, outcome, usecase

NOT_RUN = SimpleNamespace(result=None, message="dry run: 2 change(s) shown, nothing was changed")


def test_a_throwaway_drill_needs_no_confirmation_and_a_named_cluster_does() -> None:
    """Was `confirm=confirm or own` in a cell (own = a drill without cluster_name)."""
    assert usecase.drill_confirmation("", False) == (True, usecase.drill_confirmation("", True)[1])
    assert "throwaway" in usecase.drill_confirmation("", False)[1]
    allowed, reason = usecase.drill_confirmation("prod", False)
    assert not allowed and "confirm = True" in reason and "'prod'" in reason
    assert usecase.drill_confirmation("prod", True)[0]


def test_the_drill_plans_of_a_throwaway_cluster_are_confirmed_and_say_what_they_touch() -> None:
    etcd = usecase.etcd_drill_plan("", seed_objects=5, probe_objects=1)
    ha = usecase.ha_drill_plan("", writes=2)
    assert etcd.confirm and ha.confirm and callable(etcd.run) and callable(ha.run)
    assert [c.key for c in etcd.changes] == ["LocalCluster/(throwaway)"]
    assert "Process/(throwaway)/etcd-2" in [c.key for c in ha.changes]
    assert not usecase.ha_drill_plan("prod").confirm


def test_a_drill_that_did_not_run_reports_nothing_as_passed() -> None:
    report = usecase.etcd_drill_report(NOT_RUN, rto_target=60, rpo_target=3)
    assert report.outcome.result == outcome.NOT_RUN and not report.ran and report.status == "dry run"
    assert report.timeline == report.per_kind == report.lost == report.created_after_snapshot == []
    assert "no drill ran" in report.timeline_title and NOT_RUN.message in report.timeline_title
    assert all(v.result == outcome.NO_DATA for v in report.outcome.verdicts)
    ha = usecase.ha_drill_report(NOT_RUN, recovery_target=120)
    assert ha.outcome.result == outcome.NOT_RUN and ha.quorum_rows == [] and ha.phases == [] and ha.status == "dry run"
    assert ha.not_run == NOT_RUN.message


def test_a_drill_that_ran_reports_its_own_status_and_lists() -> None:
    result = {"status": "passed", "rto_seconds": 12.0, "rpo_objects": 3, "expected": 10, "restored": 10, "lost": [],
              "created_after_snapshot": [{"kind": "ConfigMap", "namespace": "default", "name": "p"}],
              "per_kind": [{"kind": "ConfigMap", "expected": 10}], "timeline": [{"phase": "restore", "at": 1.0,
                                                                                "what": "declared"}]}
    report = usecase.etcd_drill_report(SimpleNamespace(result=result, message="applied"), rto_target=60,
                                       rpo_target=3)
    assert report.ran and report.status == "passed" and report.outcome.result == outcome.PASSED
    assert report.timeline_title == "Drill timeline" and len(report.created_after_snapshot) == 1
    ha_result = {"status": "failed", "phases": [{"phase": "one lost", "writes": 2, "ok": 2, "failed": 0}],
                 "quorum_error": "2 of 3 members down", "reads_without_quorum": {"cached read": "ok"},
                 "first_write_after_recovery_seconds": 3.0, "problems": ["x"], "timeline": []}
    ha = usecase.ha_drill_report(SimpleNamespace(result=ha_result, message=""), recovery_target=120)
    assert ha.status == "failed" and ha.outcome.result == outcome.FAILED
    assert ha.quorum_rows == [{"what": "write", "answer": "2 of 3 members down"},
                              {"what": "cached read", "answer": "ok"}]


def test_the_namespace_drill_records_the_engines_verdict_only(tmp_path: Path) -> None:
    """The cell recorded its own hard-coded checksums_ok=True and a status of its own beside the view's."""
    export = backup.Export(tmp_path / "b.jsonl.gz", 3, {"ConfigMap": 3}, 0, {}, 0.1)
    prepared = SimpleNamespace(export=export, checks={"key": "abc (test)"}, mapping={"shop": "shop-restored"},
                               changes=[], run=lambda: None)
    dry = usecase.namespace_drill_report(prepared, NOT_RUN, throughput_target=200, dry_run=True)
    assert dry.outcome.result == outcome.NOT_RUN and dry.status == "dry run" and dry.restore is None
    assert dry.outcome.summary.startswith("dry run: a restore (shop -> shop-restored)")
    assert dry.checksums_ok and dry.backup["objects"] == 3 and dry.trial_differences == [] == dry.restore_outcomes
    waiting = usecase.namespace_drill_report(prepared, SimpleNamespace(result=None, message="waiting for Apply"),
                                             throughput_target=200, dry_run=False)
    assert waiting.outcome.summary == "waiting for Apply"


def _entries(days_fast: float = 3) -> list[forecast.ForecastEntry]:
    fast = synthetic.series_frame(synthetic.Profile(40, days_fast, 4, 0, 1), 100, days=6, pool="a")
    slow = synthetic.series_frame(synthetic.Profile(40, 1, 4, 0, 1), 100, days=6, pool="b", resource="memory")
    cluster = synthetic.series_frame(synthetic.Profile(40, 1, 4, 0, 1), 400, days=6, pool="*")
    return forecast.forecast(schema.validate_series(pd.concat([fast, slow, cluster])),
                             forecast.Settings(as_of=fast["timestamp"].max()))


def test_the_cone_draws_the_soonest_exhaustion_decided_by_the_outlook() -> None:
    """capacity-forecast asked views.capacity.soonest (a third copy of the soonest-exhaustion rule)."""
    entries = _entries()
    result = Outlook("ok", entries, forecast.Settings(), 6.0, "test")
    assert result.cone is result.first and (result.cone.pool, result.cone.resource) == ("a", "cpu")
    for entry in entries:  # nothing runs out within the horizon: the cluster-wide CPU usage forecast is drawn
        entry.days_to_exhaustion = None
    assert result.first is None and result.cone is not None and result.cone.status == "ok"
    wanted = [e for e in entries if (e.pool, e.resource, e.basis) == ("*", "cpu", "usage") and e.status == "ok"]
    assert wanted and result.cone is wanted[0]
    assert Outlook("no_data", [], forecast.Settings(), 0.0, "test").cone is None


def test_import_kubebook_imports_no_use_case_until_one_is_used() -> None:
    code = ("import sys, kubebook\n"
            "heavy = {'pandas', 'kubernetes', 'kubebook.dr.usecase', 'kubebook.capacity.usecase'}\n"
            "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
            "kubebook.etcd_drill_plan\n"
            "assert 'kubebook.dr.usecase' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert kubebook.etcd_drill_plan is usecase.etcd_drill_plan
    assert set(kubebook.__all__) >= {"etcd_backup", "etcd_drill_plan", "capacity_forecast", "record", "guard"}


def test_the_backup_is_a_dry_run_until_asked_and_then_reports_what_etcd_backup_returned() -> None:
    """dr-etcd-backup's default must not snapshot (nbval runs every runbook with its defaults)."""
    plan = usecase.etcd_backup_plan("default", archive="/tmp/a", keep_last=2)
    assert plan.confirm and "nothing in the cluster changes" in plan.reason
    assert [(c.key, c.action) for c in plan.changes] == [("EtcdSnapshot/default", "create")]
    dry = usecase.etcd_backup_report(NOT_RUN)
    assert not dry.ran and dry.status == "dry run" and dry.snapshots == [] and dry.snapshot == {}
    assert dry.outcome.result == outcome.NOT_RUN and dry.outcome.verdicts[0].result == outcome.NO_DATA
    taken = usecase.BackupReport({"snapshot": {}}, dry.outcome, {"verified": True}, [])
    assert usecase.etcd_backup_report(SimpleNamespace(result=taken, message="applied")) is taken
