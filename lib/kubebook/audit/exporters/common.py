"""Helpers shared by the exporters: which rows to show and how to name a resource."""

from __future__ import annotations

from typing import Any

import pandas as pd

from kubebook.audit.engine import AuditResult
from kubebook.audit.model import SEVERITIES, severity_rank

RESULT_ORDER = {"ERROR": 0, "FAIL": 1, "WARN": 2, "INFO": 3, "PASS": 4}


def shown(result: AuditResult, include_passed: bool) -> pd.DataFrame:
    """Rows to export, worst first: result, then severity, then check and resource."""
    df = result.findings if include_passed else result.findings[result.findings["result"] != "PASS"]
    if df.empty:
        return df
    keys = df.assign(_r=df["result"].map(RESULT_ORDER), _s=df["severity"].map(severity_rank))
    return keys.sort_values(["waived", "_r", "_s", "check", "kind", "namespace", "name"],
                            na_position="first", kind="stable").drop(columns=["_r", "_s"])


def resource_name(row: Any) -> str:
    if row["namespace"]:
        return f"{row['kind']}/{row['namespace']}/{row['name']}"
    return f"{row['kind']}/{row['name']}"


def counts(result: AuditResult) -> dict[str, int]:
    """Findings per result, plus waived FAIL/WARN counted apart."""
    df = result.findings
    out = {r: int(((df["result"] == r) & ~df["waived"]).sum()) for r in ("PASS", "FAIL", "WARN", "ERROR", "INFO")}
    out["waived"] = int(df["waived"].sum())
    return out


def severity_counts(result: AuditResult) -> dict[str, int]:
    failing = result.failing("info")
    return {s: int((failing["severity"] == s).sum()) for s in SEVERITIES}


def nullable(value: Any) -> Any:
    """None for pandas' missing values, the value otherwise."""
    if value is None:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value
