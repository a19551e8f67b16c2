"""Posture helpers behind the harden-audit runbook: keys, counts, grouping, top risks and the run diff."""

from __future__ import annotations

from kubebook.audit import AuditInventory, run_audit
from kubebook.audit.posture import by, counts, diff, keys, top_risks


def _findings():
    objects = [{"kind": "Namespace", "metadata": {"name": "app"}},
               {"kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}]
    return run_audit(AuditInventory.from_objects(objects)).findings


def test_keys_are_stable_identities_of_open_findings_only() -> None:
    findings = _findings()
    found = keys(findings)
    assert "images.latest-tag|Deployment|app|web" in found
    assert all(k.split("|")[0] != "images.default-namespace" for k in found), "PASS findings are not open"
    assert found == sorted(found) == keys(findings)


def test_counts_and_grouping_cover_every_severity() -> None:
    findings = _findings()
    total = counts(findings)
    assert set(total) == {"critical", "high", "medium", "low", "info"} and sum(total.values()) == len(keys(findings))
    assert by(findings, "severity")["findings"].sum() == sum(total.values())
    # the Namespace object's own findings chart under "app", not "(cluster-scoped)" (item 4 of the audit issues)
    assert set(by(findings, "namespace")["namespace"]) == {"app"}


def test_top_risks_put_the_most_severe_first() -> None:
    risks = top_risks(_findings(), limit=3)
    order = ["critical", "high", "medium", "low", "info"]
    ranks = [order.index(s) for s in risks["severity"]]
    assert len(risks) == 3 and ranks == sorted(ranks)


def test_diff_against_a_previous_run() -> None:
    changes = diff(["a|Pod|ns|x", "b|Pod|ns|y"], ["b|Pod|ns|y", "c|Pod||z"])
    assert dict(zip(changes["key"], changes["status"], strict=True)) == {
        "c|Pod||z": "new", "a|Pod|ns|x": "fixed", "b|Pod|ns|y": "still open"}
    assert list(changes.loc[changes["key"] == "c|Pod||z", "check"]) == ["c"]
    assert set(diff(None, ["c|Pod||z"])["status"]) == {"new"}
    assert diff(None, []).empty
