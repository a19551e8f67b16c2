"""Run every engine over one inventory and collect findings, scores and waivers.

An engine is a module exposing ``evaluate(inv: AuditInventory) -> Iterable[Finding | FindingBatch]``
and optionally ``applies_to(inv) -> bool`` (default: every source). Adding an
engine is a one-line edit of ``ENGINES``. Unreadable inputs recorded by the
source become ERROR findings here, so a source that could not be read never
scores as clean; an engine that crashes is reported as an ERROR finding too
rather than silently missing from the results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from kubebook.audit import catalog, controlplane, images, network, pss, rbac, score, secrets_check
from kubebook.audit.model import FAILING_RESULTS, Finding, FindingBatch, Resource, severity_rank
from kubebook.audit.sources import AuditInventory
from kubebook.audit.waivers import Waiver, apply_waivers

ENGINES: tuple[ModuleType, ...] = (
    pss,
    rbac,
    network,
    secrets_check,
    images,
    controlplane,
)

COLUMNS = ["check", "title", "section", "severity", "cis", "pss_level", "scored", "kind", "namespace", "name",
           "result", "message", "remediation", "waived", "waiver"]


@dataclass
class AuditResult:
    """What an audit produced: one row per (check, resource), scores, and waivers that expired."""

    findings: pd.DataFrame
    score: dict[str, Any]
    expired_waivers: list[Waiver] = field(default_factory=list)
    source: str = ""
    location: str = ""
    generated_at: str = ""
    origins: dict[tuple[str, str | None, str], tuple[str, int]] = field(default_factory=dict)

    def failing(self, fail_on: str = "info") -> pd.DataFrame:
        """Unwaived FAIL/ERROR findings at or above severity ``fail_on``."""
        df = self.findings
        if df.empty:
            return df
        limit = severity_rank(fail_on)
        ranks = df["severity"].map(severity_rank)
        mask = df["result"].isin(FAILING_RESULTS) & ~df["waived"] & (ranks <= limit)
        return df[mask]


def run_audit(inv: AuditInventory, waivers: Iterable[Waiver] | None = None, *,
              engines: Iterable[ModuleType] | None = None, today: dt.date | None = None) -> AuditResult:
    """Evaluate every applicable engine on ``inv``, apply waivers and score the result."""
    findings: list[Finding | FindingBatch] = list(_source_findings(inv))
    engine_check = catalog.get("source.engine-failed")
    for engine in engines if engines is not None else ENGINES:
        applies = getattr(engine, "applies_to", None)
        if applies is not None and not applies(inv):
            continue
        resource = Resource("Engine", None, engine.__name__.rsplit(".", 1)[-1])
        produced: list[Finding | FindingBatch] = []
        try:
            produced.extend(engine.evaluate(inv))
        except Exception as error:  # an engine bug must show up as ERROR, never as a clean result
            findings.append(Finding(engine_check, resource, "ERROR", f"{type(error).__name__}: {error}"))
            continue
        findings.extend(produced)
        count = sum(len(f.resources) if isinstance(f, FindingBatch) else 1 for f in produced)
        findings.append(Finding(engine_check, resource, "PASS", f"{count} findings"))
    frame = findings_frame(findings)
    expired = apply_waivers(frame, list(waivers or []), inv, today=today or dt.date.today())
    return AuditResult(findings=frame, score=score.compute(frame), expired_waivers=expired, source=inv.source,
                       location=inv.location, origins=dict(inv.origins),
                       generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())


def findings_frame(findings: list[Finding | FindingBatch]) -> pd.DataFrame:
    """Findings as a DataFrame (columns ``COLUMNS``), built column-wise.

    Check attributes are looked up once per check and spread with numpy take, and
    every column keeps object dtype so None stays None (pandas 3 would turn it into
    NaN in a "str" column).
    """
    if not findings:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in COLUMNS})
    checks: dict[str, Any] = {}
    codes: list[int] = []
    resources: list[Resource] = []
    results: list[str] = []
    messages: list[str] = []
    for item in findings:
        code = checks.setdefault(item.check.id, (len(checks), item.check))[0]
        if isinstance(item, FindingBatch):
            count = len(item.resources)
            codes.extend([code] * count)
            resources.extend(item.resources)
            results.extend([item.result] * count)
            messages.extend([item.message] * count)
        else:
            codes.append(code)
            resources.append(item.resource)
            results.append(item.result)
            messages.append(item.message)
    index = np.asarray(codes, dtype=np.int64)
    ordered = [check for _, check in sorted(checks.values(), key=lambda pair: pair[0])]

    def spread(attribute: str, dtype: Any = object) -> np.ndarray:
        return np.array([getattr(c, attribute) for c in ordered], dtype=dtype)[index]

    kinds, namespaces, names = _resource_columns(resources)
    columns = {
        "check": spread("id"), "title": spread("title"), "section": spread("section"),
        "severity": spread("severity"), "cis": spread("cis"), "pss_level": spread("pss_level"),
        "scored": spread("scored", bool),
        "kind": kinds, "namespace": namespaces, "name": names,
        "result": np.array(results, dtype=object), "message": np.array(messages, dtype=object),
        "remediation": spread("remediation"),
        "waived": np.zeros(len(codes), dtype=bool), "waiver": np.full(len(codes), None, dtype=object),
    }
    frame = pd.DataFrame({name: pd.Series(values, dtype=values.dtype, copy=False)
                          for name, values in columns.items()})
    return frame[COLUMNS]


def _resource_columns(resources: list[Resource]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kind/namespace/name columns; a resource has a row per check, so each object is read once."""
    positions: dict[int, int] = {}
    index = np.fromiter((positions.setdefault(id(r), len(positions)) for r in resources), dtype=np.int64,
                        count=len(resources))
    unique = list({id(r): r for r in resources}.values())  # same first-seen order as positions
    columns = (np.array([r.kind for r in unique], dtype=object), np.array([r.namespace for r in unique], dtype=object),
               np.array([r.name for r in unique], dtype=object))
    return columns[0][index], columns[1][index], columns[2][index]


def _dtype(column: str) -> str:
    return "bool" if column in ("scored", "waived") else "object"


def _source_findings(inv: AuditInventory) -> Iterable[Finding]:
    """ERROR per unreadable kind or file; one PASS for the source when everything was read."""
    check = catalog.get("source.unreadable")
    if not inv.unreadable:
        yield Finding(check, Resource("Source", None, inv.location or inv.source), "PASS",
                      f"every {'kind' if inv.source == 'cluster' else 'input'} was read")
    for what, reason in sorted(inv.unreadable.items()):
        # a cluster source records the kind it could not list, a manifests source the file (and line)
        resource = Resource(what, None, "(list)") if inv.source == "cluster" else Resource("File", None, what)
        yield Finding(check, resource, "ERROR", reason)
