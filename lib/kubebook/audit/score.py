"""Posture score per section and overall, CIS style: a check passes only if it passes everywhere.

Formula (documented in the README's ``## Audit``):

* Only ``scored`` checks whose severity is not ``info`` count, and only findings that
  are not waived; INFO results are informational and never count.
* Each counted check gets one outcome over all its findings: PASS only if every
  finding is PASS; any FAIL, ERROR or WARN makes it not pass (unknown or unreadable
  never counts as a pass).
* weight(severity): critical 10, high 5, medium 3, low 1.
* score(section) = 100 * sum(weight of passing checks) / sum(weight of counted checks);
  ``overall`` uses every counted check of every section. A section with no counted
  check has score None ("nothing evaluated"), never 100.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

WEIGHTS = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}


def compute(findings: pd.DataFrame) -> dict[str, Any]:
    """``{"overall": float|None, "sections": {name: {"score", "passed", "checks"}}, "weights": WEIGHTS}``."""
    counted = findings[findings["scored"].astype(bool) & ~findings["waived"].astype(bool)
                       & (findings["result"] != "INFO") & (findings["severity"] != "info")]
    if counted.empty:
        return {"overall": None, "sections": {}, "weights": dict(WEIGHTS)}
    per_check = (counted.assign(ok=counted["result"].eq("PASS"))
                 .groupby(["section", "check", "severity"], sort=True)["ok"].all().reset_index())
    per_check["weight"] = per_check["severity"].map(WEIGHTS)
    sections: dict[str, Any] = {}
    for section, group in per_check.groupby("section", sort=True):
        sections[str(section)] = _summary(group)
    overall = _summary(per_check)
    return {"overall": overall["score"], "sections": sections, "weights": dict(WEIGHTS),
            "passed": overall["passed"], "checks": overall["checks"]}


def _summary(group: pd.DataFrame) -> dict[str, Any]:
    total = float(group["weight"].sum())
    passed = float(group.loc[group["ok"], "weight"].sum())
    score = round(100.0 * passed / total, 1) if total else None
    return {"score": score, "passed": int(group["ok"].sum()), "checks": len(group)}
