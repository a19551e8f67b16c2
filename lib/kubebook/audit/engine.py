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
from operator import attrgetter
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from kubebook.audit import catalog, controlplane, images, network, pss, rbac, score, secrets_check
from kubebook.audit.model import FAILING_RESULTS, Finding, FindingBatch, Resource, severity_rank
from kubebook.audit.sources import AuditInventory, gc_paused
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
    with gc_paused():  # millions of acyclic objects: automatic full collections would rescan them all
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
            batches = [f for f in produced if type(f) is FindingBatch]
            count = len(produced) - len(batches) + sum(len(b.resources) for b in batches)
            findings.append(Finding(engine_check, resource, "PASS", f"{count} findings"))
        frame = findings_frame(findings)
        expired = apply_waivers(frame, list(waivers or []), inv, today=today or dt.date.today())
        scores = score.compute(frame)
    return AuditResult(findings=frame, score=scores, expired_waivers=expired, source=inv.source,
                       location=inv.location, origins=dict(inv.origins),
                       generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())


def findings_frame(findings: list[Finding | FindingBatch]) -> pd.DataFrame:
    """Findings as a DataFrame (columns ``COLUMNS``), built column-wise at C speed where possible.

    Fields are pulled out with attrgetter/zip (no per-row Python code), check attributes
    are looked up once per check and spread with numpy take, and every column keeps
    object dtype so None stays None (pandas 3 would turn it into NaN in a "str" column).
    """
    if not findings:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in COLUMNS})
    singles = [f for f in findings if type(f) is not FindingBatch]
    check_objects: list[Any] = []
    resources: list[Resource] = []
    results: list[str] = []
    messages: list[str] = []
    if singles:  # one C-level pass per field (zip(*rows) would pass a million arguments)
        check_objects, resources, results, messages = (
            list(map(attrgetter(name), singles)) for name in ("check", "resource", "result", "message"))
    for batch in findings:
        if type(batch) is FindingBatch:
            count = len(batch.resources)
            check_objects.extend([batch.check] * count)
            resources.extend(batch.resources)
            results.extend([batch.result] * count)
            messages.extend([batch.message] * count)
    check_ids = _objects(list(map(attrgetter("id"), check_objects)))
    index, unique_ids = pd.factorize(check_ids)
    by_id = dict(zip(check_ids, check_objects, strict=True))
    ordered = [by_id[i] for i in unique_ids]

    def spread(attribute: str, dtype: Any = object) -> np.ndarray:
        values = np.empty(len(ordered), dtype=dtype)
        values[:] = [getattr(c, attribute) for c in ordered]
        return values[index]

    kinds, namespaces, names = (list(map(attrgetter(name), resources)) for name in ("kind", "namespace", "name"))
    columns = {
        "check": spread("id"), "title": spread("title"), "section": spread("section"),
        "severity": spread("severity"), "cis": spread("cis"), "pss_level": spread("pss_level"),
        "scored": spread("scored", bool),
        "kind": _objects(kinds), "namespace": _objects(namespaces), "name": _objects(names),
        "result": _objects(results), "message": _objects(messages),
        "remediation": spread("remediation"),
        "waived": np.zeros(len(index), dtype=bool), "waiver": np.full(len(index), None, dtype=object),
    }
    frame = pd.DataFrame({name: pd.Series(values, dtype=values.dtype, copy=False)
                          for name, values in columns.items()})
    return frame[COLUMNS]


def _objects(values: Any) -> np.ndarray:
    """A 1-d object array (np.array would try to build 2-d arrays from tuples)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


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
