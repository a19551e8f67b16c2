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
