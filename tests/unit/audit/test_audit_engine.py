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
    # beside a readable file: a source with nothing readable at all is no_data (issue 23)
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
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


def test_shared_workload_list_never_outlives_one_audit() -> None:
    from kubebook.audit.workloads import shared_workloads, top_level_workloads

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "one", "namespace": "n"},
           "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    inv = AuditInventory.from_objects([pod])
    with shared_workloads(inv):
        assert top_level_workloads(inv) is top_level_workloads(inv)  # computed once, shared by the engines
    assert top_level_workloads(inv) is not top_level_workloads(inv)  # outside an audit: always fresh
    assert {n for n in run_audit(inv).findings.query("check == 'images.latest-tag'")["name"]} == {"one"}
    # replace the object at the same count (the case a count-keyed cache got wrong): every engine sees "two"
    inv.by_kind["Pod"][0] = {**pod, "metadata": {"name": "two", "namespace": "n"},
                             "spec": {**pod["spec"], "hostNetwork": True}}
    frame = run_audit(inv).findings
    workload_rows = frame[frame["kind"] == "Pod"]
    assert set(workload_rows["name"]) == {"two"}
    assert set(frame.query("check == 'network.pod-unselected'")["result"]) == {"INFO"}  # hostNetwork seen


def test_an_empty_batch_counts_for_nothing_in_the_score() -> None:
    from kubebook.audit.model import FindingBatch

    engine = types.ModuleType("empty_batches")
    engine.evaluate = lambda inv: [FindingBatch(catalog.get("images.seccomp"), [], "FAIL", "x"),  # type: ignore
                                   FindingBatch(catalog.get("privileged"), [], "PASS", "y")]
    result = run_audit(AuditInventory.from_objects([]), engines=[engine])
    assert "images" not in result.score["sections"] and "pss" not in result.score["sections"]


def test_waived_rows_inside_a_failing_batch_are_waived_one_by_one() -> None:
    import datetime as dt

    from kubebook.audit.model import FindingBatch
    from kubebook.audit.waivers import Waiver

    check = catalog.get("privileged")
    batch = FindingBatch(check, [Resource("Pod", "n", "a"), Resource("Pod", "n", "b")], "FAIL", "privileged")
    engine = types.ModuleType("batch_engine")
    engine.evaluate = lambda inv: [batch]  # type: ignore[attr-defined]
    waiver = Waiver(check="privileged", reason="accepted for a", expires=dt.date(2999, 1, 1), name="a")
    result = run_audit(AuditInventory.from_objects([]), [waiver], engines=[engine])
    rows = result.findings[result.findings["check"] == "privileged"].set_index("name")
    assert bool(rows.loc["a", "waived"]) and not bool(rows.loc["b", "waived"])
    assert result.failing_count("info") == 1 == len(result.failing("info"))
