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

from kubebook.audit import (
    catalog,
    controlplane,
    exposure,
    images,
    network,
    node,
    own,
    pss,
    rbac,
    score,
    secrets_check,
    workload_policy,
)
from kubebook.audit.model import FAILING_RESULTS, Finding, FindingBatch, Resource, severity_rank
from kubebook.audit.rows import COLUMNS, FindingRows
from kubebook.audit.sources import AuditInventory, gc_paused
from kubebook.audit.waivers import Waiver, apply_waivers
from kubebook.audit.workloads import shared_workloads

ENGINES: tuple[ModuleType, ...] = (
    pss,
    rbac,
    network,
    secrets_check,
    images,
    workload_policy,
    exposure,
    controlplane,
    node,
)

__all__ = ["COLUMNS", "ENGINES", "AuditResult", "findings_frame", "run_audit"]


@dataclass
class AuditResult:
    """What an audit produced: one row per (check, resource), scores, and waivers that expired.

    ``rows`` is the pandas-free form every exporter and the CLI use; ``findings``
    is the same table as a DataFrame, built on first access (importing pandas is
    most of a small audit's time, so the CLI never pays it).
    """

    rows: FindingRows
    score: dict[str, Any]
    expired_waivers: list[Waiver] = field(default_factory=list)
    source: str = ""
    location: str = ""
    generated_at: str = ""
    origins: dict[tuple[str, str | None, str], tuple[str, int]] = field(default_factory=dict)
    no_data: str | None = None  # why nothing was audited (empty or wholly unreadable source), else None
    composition: Any = None  # posture.Composition: the control plane and waivers file a posture audit used
    _frame: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def findings(self) -> Any:
        """The findings as a pandas DataFrame with ``COLUMNS`` (built once, on first access)."""
        if self._frame is None:
            self._frame = self.rows.frame()
        return self._frame

    def add_rows(self, rows: FindingRows) -> None:
        """Append findings of another audit of the same target and score the union."""
        self.rows.extend(rows)
        self._frame = None
        self.score = score.compute(self.rows) if self.no_data is None else score.no_data(self.rows)

    def failing(self, fail_on: str = "info") -> Any:
        """Unwaived FAIL/ERROR findings at or above severity ``fail_on`` (a DataFrame)."""
        df = self.findings
        if df.empty:
            return df
        limit = severity_rank(fail_on)
        ranks = df["severity"].map(severity_rank)
        mask = df["result"].isin(FAILING_RESULTS) & ~df["waived"] & (ranks <= limit)
        return df[mask]

    def failing_count(self, fail_on: str = "info") -> int:
        """How many rows ``failing(fail_on)`` has, without pandas."""
        return self.rows.count_failing(fail_on)


def run_audit(inv: AuditInventory, waivers: Iterable[Waiver] | None = None, *,
              engines: Iterable[ModuleType] | None = None, today: dt.date | None = None) -> AuditResult:
    """Evaluate every applicable engine on ``inv``, apply waivers and score the result."""
    with gc_paused():  # millions of acyclic objects: automatic full collections would rescan them all
        findings: list[Finding | FindingBatch] = list(_source_findings(inv))
        engine_check = catalog.get("source.engine-failed")
        with shared_workloads(inv):  # the engines share one list of top-level workloads
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
                count = sum(len(f.resources) if type(f) is FindingBatch else 1 for f in produced)
                findings.append(Finding(engine_check, resource, "PASS", f"{count} findings"))
        rows = FindingRows(findings)
        del findings
        own.annotate(rows, inv)  # kubebook's own RBAC objects say why they exist and what to do instead
        expired = apply_waivers(rows, list(waivers or []), inv, today=today or dt.date.today())
        empty = nothing_audited(inv)
        scores = score.compute(rows) if empty is None else score.no_data(rows)
    return AuditResult(rows=rows, score=scores, expired_waivers=expired, source=inv.source,
                       location=inv.location, origins=dict(inv.origins), no_data=empty,
                       generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())


def nothing_audited(inv: AuditInventory) -> str | None:
    """Why an API or manifests source gave the engines nothing to judge (None when it gave them something).

    An empty folder, YAML holding only comments or a cluster that refused every list would
    otherwise score 100: every check passes over nothing. The result is ``no_data`` instead.
    """
    if inv.source not in ("cluster", "manifests") or any(inv.by_kind.values()):
        return None
    where = inv.location or inv.source
    if inv.unreadable:
        problems = "; ".join(f"{what}: {why}" for what, why in sorted(inv.unreadable.items())[:3])
        more = f" (and {len(inv.unreadable) - 3} more)" if len(inv.unreadable) > 3 else ""
        return f"nothing could be read from {where}: {problems}{more}"
    return f"{where} holds no Kubernetes object (only comments, empty documents or no manifest files)"


def findings_frame(findings: list[Finding | FindingBatch]) -> Any:
    """Engine output as a DataFrame with ``COLUMNS`` (one row per finding, batches expanded)."""
    return FindingRows(findings).frame()


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
