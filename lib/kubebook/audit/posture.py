"""The data behind the harden-audit runbook: one combined audit, open findings, top risks, the diff to the last run.

A finding's *key* (``check|kind|namespace|name``) identifies it across runs; the
runbook records the keys of the open findings (FAIL, WARN, ERROR, not waived) so
the next run can say what is new, what was fixed and what is still open.
:mod:`kubebook.views.audit` draws all of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from kubebook.audit.engine import AuditResult, run_audit
from kubebook.audit.model import SEVERITIES
from kubebook.audit.sources import AuditInventory

OPEN = ("FAIL", "WARN", "ERROR")
RUNBOOK = "harden-audit"


def local_control_plane_for(cluster: Any) -> str | None:
    """The name of the local control plane that serves ``cluster`` (same server URL), if any."""
    from kubebook.localcluster import name_serving

    return name_serving(cluster.server)


def registries(text: str | list[str] | None) -> list[str] | None:
    """A registry allow-list from the runbook's comma-separated parameter, checked as the CLI checks it."""
    from kubebook.audit.images import parse_allow_list

    if not text:
        return None
    if isinstance(text, list):
        text = ",".join(text)
    return parse_allow_list(text) or None  # bad input is refused before anything is read


def audit(cluster: Any, *, control_plane: str | None = None,
          allowed_registries: str | list[str] | None = None) -> AuditResult:
    """Audit the cluster through its API and, when given (or local), its control plane; one score over both.

    ``allowed_registries`` is a list or the comma-separated text a runbook parameter holds.
    """
    allowed_registries = registries(allowed_registries)  # refused before anything is read
    inv = AuditInventory.from_cluster(cluster)
    if allowed_registries:
        inv.allowed_registries = allowed_registries  # type: ignore[attr-defined]
    result = run_audit(inv)
    name = control_plane or local_control_plane_for(cluster)
    if name:
        plane = run_audit(AuditInventory.from_control_plane(name, cluster=cluster))
        # the API audit already read etcd back: leave out the plane's own secrets section
        result.add_rows(plane.rows.select(lambda check: check.section != "secrets"))
    return result


def open_findings(findings: pd.DataFrame) -> pd.DataFrame:
    return findings[findings["result"].isin(OPEN) & ~findings["waived"].astype(bool)]


def keys(findings: pd.DataFrame) -> list[str]:
    """Stable identities of the open findings, sorted."""
    frame = open_findings(findings)
    return sorted({f"{c}|{k}|{n or ''}|{m}" for c, k, n, m in
                   zip(frame["check"], frame["kind"], frame["namespace"], frame["name"], strict=True)})


def counts(findings: pd.DataFrame) -> dict[str, int]:
    """Open findings per severity (every severity present, zeros included)."""
    frame = open_findings(findings)
    return {severity: int((frame["severity"] == severity).sum()) for severity in SEVERITIES}


def by(findings: pd.DataFrame, column: str) -> pd.DataFrame:
    """Open findings counted by ``column`` and severity, for a stacked bar chart."""
    frame = open_findings(findings).assign(**{column: lambda f: f[column].fillna("(cluster-scoped)")})
    groups = [column] if column == "severity" else [column, "severity"]
    table = frame.groupby(groups).size().reset_index(name="findings")
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return table.sort_values(groups, key=lambda s: s.map(order) if s.name == "severity" else s).reset_index(drop=True)


def top_risks(findings: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The most severe open checks, with how many resources each hits and what to do."""
    frame = open_findings(findings)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    grouped = (frame.groupby(["check", "title", "severity", "remediation"], dropna=False)
               .agg(resources=("name", "count"), example=("message", "first"),
                    example_kind=("kind", "first"), example_namespace=("namespace", "first"),
                    example_name=("name", "first")).reset_index())
    grouped = grouped.sort_values(["severity", "resources"], key=lambda s: s.map(order) if s.name == "severity"
                                  else -s)
    return grouped.head(limit).reset_index(drop=True)


class PreviousRun(NamedTuple):
    """The newest archived run that recorded its open findings: id, those keys, its score."""

    run_id: str | None
    keys: list[str] | None
    score: float | None = None


def previous_run(archive: str | Path, runbook: str = RUNBOOK) -> PreviousRun:
    """The newest archived ``runbook`` run that recorded ``open_findings`` (all None without one)."""
    from kubebook.archive import Archive
    from kubebook.errors import ArchiveError

    store = Archive(archive)
    if not store.ledger_path.exists():
        return PreviousRun(None, None)
    for run in store.list_runs(runbook=runbook):
        try:
            records = store.results(run.run_id).get("records") or {}
        except ArchiveError:
            continue
        if isinstance(records.get("open_findings"), list):
            score = records.get("score")
            return PreviousRun(run.run_id, [str(k) for k in records["open_findings"]],
                               float(score) if isinstance(score, int | float) else None)
    return PreviousRun(None, None)


def previous_keys(archive: str | Path, runbook: str = RUNBOOK) -> tuple[str | None, list[str] | None]:
    """(run id, recorded open-finding keys) of the newest archived run that recorded them."""
    found = previous_run(archive, runbook)
    return found.run_id, found.keys


def diff(previous: list[str] | None, current: list[str]) -> pd.DataFrame:
    """Each key with its status: new, fixed or still open (everything is new without a previous run)."""
    before, now = set(previous or []), set(current)
    rows = [{"status": "new", "key": k} for k in sorted(now - before)]
    rows += [{"status": "fixed", "key": k} for k in sorted(before - now)]
    rows += [{"status": "still open", "key": k} for k in sorted(now & before)]
    frame = pd.DataFrame(rows, columns=["status", "key"])
    parts = frame["key"].str.split("|", expand=True) if len(frame) else pd.DataFrame(columns=range(4))
    for index, column in enumerate(("check", "kind", "namespace", "name")):
        frame[column] = parts[index] if len(frame) else pd.Series(dtype=object)
    return frame
