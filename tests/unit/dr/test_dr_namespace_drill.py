"""The namespace drill's use case: a backup that is kept with a key that is kept, and a verdict first."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nbformat
import pytest
from test_dr_namespace_restore import FakeCluster  # tests/unit is on sys.path (rootdir-relative imports)

from kubebook.dr import backup, bundle, nsdrill, outcome

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBEBOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(bundle.KEY_ENV, raising=False)
    return tmp_path / "data"


def test_without_a_folder_or_key_the_backup_and_its_key_are_kept_for_later_runs(data_dir: Path) -> None:
    path = backup.output_path("", ["default"])
    assert path.parent == data_dir / "dr" / "namespace-backups" and path.parent.is_dir()
    key, source = bundle.key_for_run(None)
    again, _ = bundle.key_for_run(None)
    assert key == again, "a later run opens what this one sealed"
    key_file = bundle.default_key_file()
    assert str(key_file) in source and stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_drill_plans_without_the_api_servers_service_and_its_verdict_says_not_run(data_dir: Path) -> None:
    kube = FakeCluster()
    kube.store["Service/default/kubernetes"] = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default",
                                                            "labels": {"provider": "kubernetes"}}}
    kube.store["ConfigMap/default/app"] = {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "app", "namespace": "default"}}
    prepared = nsdrill.backup_and_plan(kube, "default", confirm_cluster=kube.server)
    assert prepared.export.path.exists() and prepared.export.path.parent == data_dir / "dr" / "namespace-backups"
    keys = [c.key for c in prepared.changes]
    assert "ConfigMap/default-restored/app" in keys and not [k for k in keys if "kubernetes" in k]
    dry = nsdrill.outcome(prepared, None, throughput_target=200)
    assert dry.result == outcome.NOT_RUN and "nothing was changed" in dry.summary
    assert [v.result for v in dry.verdicts] == [outcome.MET, outcome.NO_DATA]
    applied = nsdrill.outcome(prepared, prepared.run(), throughput_target=0)
    assert applied.result == outcome.PASSED, applied
    assert applied.counts["restored"] == 2 and "ConfigMap/default-restored/app" in kube.store
    assert "Service/default-restored/kubernetes" not in kube.store
    json.dumps(applied.as_json())


def test_a_failed_object_makes_the_drill_fail_naming_it(data_dir: Path) -> None:
    kube = FakeCluster()
    kube.store["ConfigMap/default/app"] = {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "app", "namespace": "default"}}
    prepared = nsdrill.backup_and_plan(kube, "default", confirm_cluster=kube.server, trial=False)
    original = kube.create_object

    def refuse(obj: dict, **kw: object) -> dict:
        if obj["kind"] == "ConfigMap":
            from kubebook.errors import ApiError

            raise ApiError("admission webhook denied the request", status=403)
        return original(obj, **kw)

    kube.create_object = refuse  # type: ignore[method-assign]
    verdict = nsdrill.outcome(prepared, prepared.run(), throughput_target=0)
    assert verdict.result == outcome.FAILED and "ConfigMap/default-restored/app" in verdict.lost_summary


def test_the_runbook_opens_with_its_headline() -> None:
    nb = nbformat.read(ROOT / "runbooks" / "dr-namespace-drill.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "headline_slot(" in code[1].source, "the first cell after the parameters holds the headline's place"
    assert any("headline.show(view.outcome_headline(" in c.source for c in code)
