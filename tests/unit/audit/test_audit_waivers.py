"""Waivers: validated file, selector matching (globs and labels), expiry reported and not applied."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kubebook.audit import AuditInventory, run_audit
from kubebook.audit.waivers import load_waivers
from kubebook.errors import ParameterError

TODAY = dt.date(2026, 6, 1)


def _pod(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


def test_waivers_match_by_glob_and_labels_and_expire(tmp_path: Path) -> None:
    path = _write(tmp_path, """waivers:
  - check: privileged
    resource: {kind: Pod, namespace: "kube-*", name: "proxy-*"}
    reason: node networking agent
    expires: 2026-12-31
  - check: "*"
    resource: {labels: {team: legacy}}
    reason: being rewritten
    expires: "2026-06-01"
  - check: privileged
    resource: {namespace: apps}
    reason: old exception
    expires: 2026-01-01
""")
    waivers = load_waivers(path, known_checks={"privileged", "runAsNonRoot"})
    inv = AuditInventory.from_objects([_pod("proxy-1", "kube-system"), _pod("web", "apps"),
                                       _pod("old", "apps", {"team": "legacy"}), _pod("proxy-2", "default")])
    result = run_audit(inv, waivers, today=TODAY)
    df = result.findings
    privileged = df[df["check"] == "privileged"].set_index("name")
    assert privileged.loc["proxy-1", "waived"] and privileged.loc["proxy-1", "waiver"].startswith("node networking")
    assert not privileged.loc["web", "waived"]  # its waiver expired
    assert not privileged.loc["proxy-2", "waived"]  # namespace does not match
    assert df[(df["name"] == "old") & (df["result"] == "FAIL")]["waived"].all()  # label waiver covers every check
    assert df[(df["result"] == "PASS")]["waived"].sum() == 0  # only FAIL/WARN can be waived
    assert [w.reason for w in result.expired_waivers] == ["old exception"]
    assert set(result.failing("critical")["name"]) == {"web", "proxy-2"}


@pytest.mark.parametrize(("text", "problem"), [
    ("waivers:\n  - check: x\n    reason: because\n", "'expires' is a required property"),
    ("waivers:\n  - check: privileged\n    reason: because\n    expires: next week\n", "is not a 'date'"),
    ("waivers:\n  - check: privileged\n    reason: because\n    expires: 2026-01-01\n    scope: all\n",
     "Additional properties"),
    ("waivers:\n  - check: nosuch.check\n    reason: because\n    expires: 2026-01-01\n", "matches no known check"),
    ("waivers: [\n", "not valid YAML"),
    ("- a list\n", "is not of type 'object'"),
])
def test_invalid_waivers_file_is_a_clear_parameter_error(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ParameterError) as info:
        load_waivers(_write(tmp_path, text), known_checks={"privileged"})
    assert problem in str(info.value) and info.value.exit_code == 2


def test_missing_waivers_file(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="cannot be read"):
        load_waivers(tmp_path / "absent.yaml")
