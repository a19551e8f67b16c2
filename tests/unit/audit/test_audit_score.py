"""Score: CIS-style per check, severity weighted; ERROR/WARN never count as a pass; waived and info left out."""

from __future__ import annotations

import pandas as pd
import pytest

from kubebook.audit import score


def _frame(rows: list[tuple[str, str, str, str, bool, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["section", "check", "severity", "result", "scored", "waived"])


def test_a_check_passes_only_if_it_passes_everywhere() -> None:
    df = _frame([
        ("pss", "a", "critical", "PASS", True, False), ("pss", "a", "critical", "FAIL", True, False),  # 0 of 10
        ("pss", "b", "medium", "PASS", True, False), ("pss", "b", "medium", "PASS", True, False),     # 3 of 3
        ("rbac", "c", "high", "ERROR", True, False),                                                  # 0 of 5
        ("rbac", "d", "low", "PASS", True, False),                                                    # 1 of 1
    ])
    result = score.compute(df)
    assert result["sections"]["pss"] == {"score": pytest.approx(23.1), "passed": 1, "checks": 2}
    assert result["sections"]["rbac"] == {"score": pytest.approx(16.7), "passed": 1, "checks": 2}
    assert result["overall"] == pytest.approx(round(100 * 4 / 19, 1))


def test_warn_counts_against_and_waived_unscored_info_are_left_out() -> None:
    df = _frame([
        ("net", "w", "high", "WARN", True, False),
        ("net", "x", "high", "FAIL", True, True),        # waived: not counted
        ("net", "y", "high", "FAIL", False, False),      # manual check: not scored
        ("net", "z", "info", "FAIL", True, False),       # info severity: weight 0, not counted
        ("net", "i", "high", "INFO", True, False),       # informational result
    ])
    result = score.compute(df)
    assert result["sections"]["net"] == {"score": 0.0, "passed": 0, "checks": 1}


def test_nothing_evaluated_is_none_not_100() -> None:
    assert score.compute(_frame([]))["overall"] is None
    assert score.compute(_frame([("s", "x", "high", "FAIL", True, True)]))["overall"] is None


def test_a_missing_seccomp_profile_weighs_once() -> None:
    """images.seccomp and seccompProfile_restricted flag the same workloads; only the Pod Security check
    (the admission's own verdict) is scored, images.seccomp stays in the report as the CIS 5.6.2 view."""
    from kubebook.audit import AuditInventory, run_audit

    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
                  "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
    df = run_audit(AuditInventory.from_objects([deployment])).findings
    seccomp = df[df["check"].isin(["images.seccomp", "seccompProfile_restricted"]) & (df["result"] == "FAIL")]
    assert set(seccomp["check"]) == {"images.seccomp", "seccompProfile_restricted"}
    counted = seccomp[seccomp["scored"] & (seccomp["severity"] != "info")]
    assert list(counted["check"]) == ["seccompProfile_restricted"]
