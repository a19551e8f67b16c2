"""`kubebook audit`: sources, formats, --output, --waivers, --fail-on and the documented exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kubebook.cli import main

PRIVILEGED = """apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a}
spec:
  containers: [{name: c, image: x, securityContext: {privileged: true}}]
"""
MEDIUM_ONLY = """apiVersion: v1
kind: Pod
metadata: {name: q, namespace: a}
spec:
  securityContext: {runAsNonRoot: true}
  containers: [{name: c, image: x, securityContext: {allowPrivilegeEscalation: false}}]
"""


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "pod.yaml").write_text(PRIVILEGED)
    return tmp_path / "m"


def test_failing_findings_exit_1_and_json_is_one_object(manifests: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--manifests", str(manifests), "--format", "json"]) == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert {f["check"] for f in doc["findings"]} >= {"privileged", "runAsNonRoot"}
    assert "unwaived failing finding" in err


def test_fail_on_threshold_decides_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "q.yaml").write_text(MEDIUM_ONLY)  # its Pod Security failures are all medium
    main(["audit", "--manifests", str(tmp_path), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {f["severity"] for f in findings if f["section"] == "pss" and f["result"] == "FAIL"} == {"medium"}
    ranks = {s: i for i, s in enumerate(("critical", "high", "medium", "low", "info"))}
    for level in ranks:
        expected = int(any(f["result"] in ("FAIL", "ERROR") and not f["waived"]
                           and ranks[f["severity"]] <= ranks[level] for f in findings))
        assert main(["audit", "--manifests", str(tmp_path), "--fail-on", level]) == expected, level
    capsys.readouterr()
    assert main(["audit", "--manifests", str(tmp_path), "--fail-on", "medium"]) == 1


def test_waivers_can_clear_the_exit_code(manifests: Path, tmp_path: Path) -> None:
    waivers = tmp_path / "w.yaml"
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()  # waivers expire within a year (issue 23)
    waivers.write_text(f"waivers:\n- check: '*'\n  broad: true\n  reason: lab cluster\n  expires: {soon}\n")
    assert main(["audit", "--manifests", str(manifests), "--waivers", str(waivers), "--fail-on", "info"]) == 0


def test_output_file_and_formats(manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, marker in (("sarif", '"version":"2.1.0"'), ("junit", "<testsuites"), ("html", "<!DOCTYPE html>"),
                        ("table", "RESULT")):
        target = tmp_path / f"report.{fmt}"
        main(["audit", "--manifests", str(manifests), "--format", fmt, "--output", str(target)])
        assert marker in target.read_text()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv", [
    ["audit", "--manifests", "/nonexistent/dir"],
    ["audit", "--cluster", "/nonexistent/kubeconfig"],
    ["audit", "--control-plane", "no-such-cluster"],
])
def test_bad_input_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("kubebook: ")


def test_invalid_waivers_exit_2_before_auditing(manifests: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "w.yaml"
    bad.write_text("waivers:\n- check: privileged\n  reason: x\n")
    assert main(["audit", "--manifests", str(manifests), "--waivers", str(bad)]) == 2
    captured = capsys.readouterr()
    assert "waivers file" in captured.err and captured.out == ""


def test_usage_errors_exit_2(manifests: Path) -> None:
    for argv in (["audit", "--format", "pdf"], ["audit", "--manifests", str(manifests), "--cluster"],
                 ["audit", "--fail-on", "severe"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


@pytest.mark.process
def test_a_manifest_audit_never_imports_pandas_or_the_kubernetes_client(manifests: Path, tmp_path: Path) -> None:
    """The short CLI path stays free of the heavy imports (0.3-0.6 s, more than the audit of 1,000 objects).

    Runs a real `kubebook audit` in a fresh interpreter, in every format, and lists what it imported.
    """
    import subprocess
    import sys

    probe = ("import sys, runpy\n"
             "sys.argv = ['kubebook'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('kubebook.cli', run_name='__main__')\n"
             "except SystemExit as stop:\n    code = stop.code\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules}\n"
             "               & {'pandas', 'numpy', 'kubernetes', 'jsonschema'})\n"
             "sys.stderr.write('HEAVY=' + ','.join(heavy) + ' CODE=' + str(code) + '\\n')\n")
    for fmt in ("table", "json", "sarif", "junit", "html"):
        done = subprocess.run([sys.executable, "-c", probe, "audit", "--manifests", str(manifests), "--format", fmt,
                               "--output", str(tmp_path / f"out.{fmt}")], capture_output=True, text=True, check=False)
        assert "HEAVY= CODE=1" in done.stderr, done.stderr  # 1: the privileged pod fails at the default --fail-on
        assert (tmp_path / f"out.{fmt}").stat().st_size > 0


def test_registries_flag_sets_the_allow_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "pods.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: inside, namespace: a}\n"
        "spec: {containers: [{name: c, image: 'ghcr.io/acme/app:1.0'}]}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: outside, namespace: a}\n"
        "spec: {containers: [{name: c, image: 'docker.io/library/nginx:1.27'}]}\n")
    main(["audit", "--manifests", str(tmp_path / "m"), "--format", "json", "--show-passed",
          "--registries", "ghcr.io/acme, registry.k8s.io"])
    doc = json.loads(capsys.readouterr().out)
    verdicts = {f["resource"]["name"]: f["result"] for f in doc["findings"]
                if f["check"] == "images.registry-allowlist"}
    assert verdicts == {"inside": "PASS", "outside": "FAIL"}


@pytest.mark.parametrize(("value", "expected"), [
    ("https://ghcr.io", "drop the scheme (write 'ghcr.io')"),
    (" , ", "the list is empty"),
    ("ghcr.io/a b", "an entry has no spaces"),
])
def test_bad_registries_exit_2_and_say_what_would_be_right(manifests: Path, value: str, expected: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--manifests", str(manifests), "--registries", value]) == 2
    err = capsys.readouterr().err
    assert expected in err and "registry.k8s.io,ghcr.io/acme" in err
