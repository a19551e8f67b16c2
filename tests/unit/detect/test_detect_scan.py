"""The streaming scan and `kubebook detect scan`: corrupt lines counted, .gz read, exit codes, JSON shape."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kubebook.cli import main
from kubebook.detect import catalog, policy, scan

ROOT = Path(__file__).resolve().parents[3]


def _event(**over) -> dict:
    event = dict(catalog.BASE_EVENT)
    event.update(over)
    return event


EXEC = _event(auditID="a1", verb="create", objectRef={"resource": "pods", "subresource": "exec",
                                                      "namespace": "default", "name": "web"})
BIND = _event(auditID="a2", verb="create", objectRef={"resource": "clusterrolebindings", "name": "pwn"},
              requestObject={"roleRef": {"name": "cluster-admin"}}, stageTimestamp="2026-03-01T00:00:00.000000Z")
QUIET = _event(auditID="a3", verb="get", objectRef={"resource": "pods", "namespace": "default", "name": "web"})


def _write(path: Path, events: list, extra: list[bytes] = ()) -> Path:
    data = b"".join(json.dumps(e).encode() + b"\n" for e in events) + b"".join(extra)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def test_json_shape_and_findings(tmp_path: Path, capsys) -> None:
    log = _write(tmp_path / "audit.log", [EXEC, QUIET, BIND])
    assert main(["detect", "scan", "--audit-log", str(log), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"scanned", "corrupt", "findings"} and out["scanned"] == 3 and out["corrupt"] == 0
    assert [f["rule"] for f in out["findings"]] == ["pod-exec", "cluster-admin-binding"]
    assert set(out["findings"][0]) == {"rule", "severity", "title", "techniques", "time", "user", "source_ips",
                                       "verb", "object", "message", "audit_id"}
    assert out["findings"][0]["object"] == "pods/exec default/web" and out["findings"][0]["audit_id"] == "a1"


def test_corrupt_non_utf8_and_over_long_lines_are_counted_not_fatal(tmp_path: Path, capsys) -> None:
    long_line = b'{"a": "' + b"x" * (scan.MAX_LINE_BYTES + 10) + b'"}\n'
    log = _write(tmp_path / "audit.log", [EXEC], [b"{not json\n", b'{"user": "\xff\xfe"}\n', long_line, b"[1]\n",
                                                  json.dumps(BIND).encode() + b"\n"])
    assert main(["detect", "scan", "--audit-log", str(log), "--format", "json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["corrupt"] == 4 and out["scanned"] == 2
    assert [f["rule"] for f in out["findings"]] == ["pod-exec", "cluster-admin-binding"]
    assert "audit.log:2" in captured.err and "longer than" in captured.err


def test_gzip_rotations_and_a_truncated_gzip(tmp_path: Path) -> None:
    rotated = _write(tmp_path / "audit-2026-01-01T00-00-00.000.log.gz", [EXEC])
    current = _write(tmp_path / "audit.log", [BIND])
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(gzip.compress(json.dumps(EXEC).encode() * 50 + b"\n")[:40])
    result = scan.scan([rotated, current, broken], catalog.catalogue())
    assert [f.rule for f in result.findings][:2] == ["pod-exec", "cluster-admin-binding"]
    assert result.corrupt == 1 and "cannot be read further" in result.corrupt_examples[0]


def test_fail_on_and_since(tmp_path: Path, capsys) -> None:
    log = _write(tmp_path / "audit.log", [EXEC, BIND])
    assert main(["detect", "scan", "--audit-log", str(log), "--fail-on", "critical"]) == 1
    assert main(["detect", "scan", "--audit-log", str(log), "--fail-on", "HIGH", "--since",
                 "2026-02-01T00:00:00Z", "--format", "json"]) == 1
    capsys.readouterr()
    assert main(["detect", "scan", "--audit-log", str(log), "--since", "2026-04-01T00:00:00Z",
                 "--format", "json", "--fail-on", "low"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_started_and_complete_stages_report_once(tmp_path: Path) -> None:
    started = dict(EXEC, stage="ResponseStarted")
    received = dict(EXEC, stage="RequestReceived")
    result = scan.scan([_write(tmp_path / "a.log", [received, started, EXEC])], catalog.catalogue())
    assert [f.rule for f in result.findings] == ["pod-exec"]


@pytest.mark.parametrize("argv, words", [
    (["--audit-log", "/no/such/audit.log"], "no such file"),
    (["--audit-log", "{log}", "--since", "yesterday"], "--since 'yesterday' is not a time"),
    (["--audit-log", "{log}", "--fail-on", "urgent"], "severity 'urgent'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, argv: list, words: str) -> None:
    log = _write(tmp_path / "audit.log", [EXEC])
    argv = [a.replace("{log}", str(log)) for a in argv]
    assert main(["detect", "scan", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_sarif_output(tmp_path: Path, capsys) -> None:
    log = _write(tmp_path / "audit.log", [EXEC])
    assert main(["detect", "scan", "--audit-log", str(log), "--format", "sarif"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "2.1.0"
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "pod-exec" and result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_rules_json_lists_every_rule(capsys) -> None:
    assert main(["detect", "rules", "--json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == {r.id for r in catalog.catalogue()}


def test_the_local_control_planes_policy_blinds_two_rules(capsys) -> None:
    """kubebook's own policy logs Events at None and ConfigMaps at Metadata (manifests/control-plane)."""
    source = ROOT / "manifests" / "control-plane" / "audit-policy.yaml"
    assert main(["detect", "rules", "--audit-policy", str(source), "--json"]) == 0
    rows = {r["rule"]: r for r in json.loads(capsys.readouterr().out)["rules"]}
    blind = {rule for rule, row in rows.items() if row["status"] != "fires"}
    assert blind == {"events-deleted", "configmap-credentials"}
    assert rows["privileged-pod"]["levels"]["create pods"] == "Request"


def test_a_metadata_only_policy_blinds_every_body_rule(tmp_path: Path) -> None:
    doc = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}
    rows = policy.coverage(doc, catalog.catalogue())
    blind = {r["rule"] for r in rows if r["status"] == "cannot_fire"}
    assert blind == {r.id for r in catalog.catalogue() if r.level != "Metadata"}
    first_match = {"kind": "Policy", "rules": [
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["*/exec"]}]},
        {"level": "None", "resources": [{"group": "", "resources": ["pods"]}]}, {"level": "Metadata"}]}
    row = next(r for r in policy.coverage(first_match, catalog.catalogue()) if r["rule"] == "privileged-pod")
    assert row["status"] == "cannot_fire" and row["levels"]["create pods"] == "None"
    row = next(r for r in policy.coverage(first_match, catalog.catalogue()) if r["rule"] == "pod-exec")
    assert row["status"] == "fires"


def test_a_file_that_is_no_policy_is_refused(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("kind: ConfigMap\n")
    assert main(["detect", "rules", "--audit-policy", str(bad)]) == 2
    assert "not an audit Policy" in capsys.readouterr().err


@pytest.mark.parametrize("rule", catalog.catalogue(), ids=[r.id for r in catalog.catalogue()])
def test_the_scanners_rule_gate_keeps_every_firing_fixture(rule) -> None:
    """The scanner tries an event only against rules whose pinned resource/subresource/verb it has:
    that gate must never drop what the rule itself matches."""
    for event in catalog.fixture_events(rule, "fires"):
        assert rule.id in [f.rule for f in scan.Scanner(catalog.catalogue()).event(event)]
