"""The engine runs applicable engines, turns crashes and unreadable input into ERROR, and builds the frame."""

from __future__ import annotations

import types
from pathlib import Path

from kubebook.audit import AuditInventory, Finding, Resource, catalog, pss, run_audit
from kubebook.audit.engine import COLUMNS, ENGINES


def _engine(name: str, evaluate, applies=None) -> types.ModuleType:  # type: ignore[no-untyped-def]
    module = types.ModuleType(name)
    module.evaluate = evaluate  # type: ignore[attr-defined]
    if applies is not None:
        module.applies_to = applies  # type: ignore[attr-defined]
    return module


def test_a_crashing_engine_is_an_error_finding_not_a_clean_result() -> None:
    """A real crash of an engine module (not a mock of the API): evaluate raises halfway through."""
    def evaluate(inv):  # type: ignore[no-untyped-def]
        yield Finding(catalog.get("privileged"), Resource("Pod", "x", "p"), "PASS", "fine")
        raise KeyError("spec")

    result = run_audit(AuditInventory.from_objects([]), engines=[_engine("demo.broken", evaluate)])
    rows = result.findings[result.findings["check"] == "source.engine-failed"]
    assert rows[["kind", "name", "result"]].values.tolist() == [["Engine", "broken", "ERROR"]]
    assert "KeyError" in rows.iloc[0]["message"]
    assert "privileged" not in set(result.findings["check"])  # partial output of a crashed engine is dropped
    assert len(result.failing("high")) == 1


def test_engines_that_do_not_apply_are_skipped() -> None:
    calls: list[str] = []
    engine = _engine("demo.cp", lambda inv: calls.append("ran") or [], applies=lambda inv: inv.source == "cluster")
    run_audit(AuditInventory.from_objects([]), engines=[engine])
    assert calls == []


def test_unreadable_manifests_become_errors(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("a: [\n")
    result = run_audit(AuditInventory.from_manifests(tmp_path))
    rows = result.findings[result.findings["check"] == "source.unreadable"]
    assert rows["result"].tolist() == ["ERROR"] and rows.iloc[0]["kind"] == "File"
    # source.unreadable fails (weight 5), source.engine-failed passes (weight 5)
    assert result.score["sections"]["source"]["score"] == 50.0


def test_frame_columns_and_controller_owned_objects_are_judged_once() -> None:
    deployment = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "a", "uid": "d1"},
                  "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}
    rs = {"kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "a", "uid": "r1",
                                             "ownerReferences": [{"uid": "d1", "controller": True}]},
          "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}
    pod = {"kind": "Pod", "metadata": {"name": "web-1-x", "namespace": "a", "uid": "p1",
                                       "ownerReferences": [{"uid": "r1", "controller": True}]},
           "spec": {"containers": [{"name": "c"}]}}
    orphan = {"kind": "Pod", "metadata": {"name": "lone", "namespace": "a", "uid": "p2",
                                          "ownerReferences": [{"uid": "gone", "controller": True}]},
              "spec": {"containers": [{"name": "c"}]}}
    result = run_audit(AuditInventory.from_objects([deployment, rs, pod, orphan], source="cluster"), engines=[pss])
    df = result.findings
    assert list(df.columns) == COLUMNS
    judged = set(df[df["section"] == "pss"][["kind", "name"]].itertuples(index=False, name=None))
    assert judged == {("Deployment", "web"), ("Pod", "lone")}
    assert df["namespace"].map(lambda v: v is None or isinstance(v, str)).all()
    assert len(ENGINES) >= 1
