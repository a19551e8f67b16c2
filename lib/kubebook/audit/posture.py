"""The data behind the harden-audit runbook: one combined audit, open findings, top risks, the diff to the last run.

A finding's *key* (``check|kind|namespace|name``) identifies it across runs; the
runbook records the keys of the open findings (FAIL, WARN, ERROR, not waived) so
the next run can say what is new, what was fixed and what is still open.
:mod:`kubebook.views.audit` draws all of it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from kubebook.audit import own
from kubebook.audit.engine import AuditResult, run_audit
from kubebook.audit.model import SEVERITIES
from kubebook.audit.sources import AuditInventory
from kubebook.errors import ParameterError

if TYPE_CHECKING:  # pandas is imported where a frame is built: `kubebook audit --cluster` needs none
    import pandas as pd

OPEN = ("FAIL", "WARN", "ERROR")
RUNBOOK = "harden-audit"


def local_control_plane_for(cluster: Any) -> str | None:
    """The name of the local control plane that serves ``cluster`` (same server URL), if any."""
    from kubebook.localcluster import name_serving

    return name_serving(cluster.server)


def parse_registries(text: str | list[str] | None) -> list[str] | None:
    """A registry allow-list from the runbook's comma-separated parameter, checked as the CLI checks it."""
    from kubebook.audit.images import parse_allow_list

    if not text:
        return None
    if isinstance(text, list):
        text = ",".join(text)
    return parse_allow_list(text) or None  # bad input is refused before anything is read


AUTO = "auto"  # control_plane: the local control plane serving the cluster, if any
NO_WAIVERS = "none"  # the runbook's waivers parameter: audit without any
DEFAULT_WAIVERS = "manifests/audit-waivers.yaml"


def waivers_file(text: str | os.PathLike[str] | None = DEFAULT_WAIVERS) -> Path | None:
    """The waivers file a runbook parameter names, found whatever the kernel's current folder is.

    ``none`` is no waivers; empty means the repository's ``manifests/audit-waivers.yaml``;
    an absolute path is used as given; a relative one is looked up in the current
    folder, then the repository holding it, then kubebook's own repository (a
    papermill run or a schedule starts the kernel in the notebook's folder, not the
    repository root). Not found anywhere: ParameterError naming every place tried - except
    the default, which an install without the repository lacks: then None (no waivers,
    which the headline says).
    """
    chosen = str(text if text not in (None, "") else DEFAULT_WAIVERS).strip()
    if chosen.lower() == NO_WAIVERS:
        return None
    path = Path(chosen).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        here = Path.cwd()
        roots = [here, *(p for p in (here, *here.parents) if (p / ".git").exists())][:2]
        roots.append(Path(__file__).resolve().parents[3])  # lib/kubebook/audit/posture.py -> the repository
        candidates = list(dict.fromkeys(root / path for root in roots))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    if chosen == DEFAULT_WAIVERS:  # an install without the repository (a runner image): no waivers, said on screen
        return None
    raise ParameterError(f"waivers file {chosen!r} not found (looked in {', '.join(str(c) for c in candidates)})",
                         hint=f"pass an existing waivers file, or {NO_WAIVERS!r} to audit without waivers")


def posture(cluster: Any, *, control_plane: str | None = AUTO, waivers: str | os.PathLike[str] | None = None,
            registries: str | list[str] | None = None, today: dt.date | None = None) -> AuditResult:
    """The one audit of a cluster every door asks for: the CLI, the harden-audit runbook, ``provision --audit``.

    The cluster is audited through its API and, with ``control_plane`` (a name, or
    ``"auto"`` for the local control plane serving it; None for none), the control
    plane too - its own audit without its secrets section, since the API audit
    already read etcd back - in one score. ``waivers`` (a file) applies to both.
    Bad input (waivers file, registries, an unknown control plane) is refused
    before the cluster is read.
    """
    from kubebook.audit import catalog
    from kubebook.audit.waivers import load_waivers

    accepted = load_waivers(waivers, set(catalog.load_catalog()), today=today) if waivers else []
    allowed = parse_registries(registries)
    name = local_control_plane_for(cluster) if control_plane == AUTO else control_plane or None
    plane_inventory = AuditInventory.from_control_plane(name, cluster=cluster) if name else None
    inv = AuditInventory.from_cluster(cluster)
    if allowed:
        inv.allowed_registries = allowed  # type: ignore[attr-defined]
    result = run_audit(inv, accepted, today=today)
    if plane_inventory is not None:
        plane = run_audit(plane_inventory, accepted, today=today)
        result.add_rows(plane.rows.select(lambda check: check.section != "secrets"))
        result.expired_waivers = list(dict.fromkeys([*result.expired_waivers, *plane.expired_waivers]))
    result.composition = Composition(
        control_plane=name, waivers=str(waivers) if waivers else None, waiver_count=len(accepted))
    return result


class Composition(NamedTuple):
    """What an audit was made of, for the screen that explains its number."""

    control_plane: str | None
    waivers: str | None
    waiver_count: int


def audit(cluster: Any, *, control_plane: str | None = None,
          allowed_registries: str | list[str] | None = None,
          waivers: str | os.PathLike[str] | None = None) -> AuditResult:
    """:func:`posture` with the runbook's spelling: an empty ``control_plane`` means the local one, if any."""
    return posture(cluster, control_plane=control_plane or AUTO, waivers=waivers, registries=allowed_registries)


registries = parse_registries  # the name the runbook's first version used


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
    """Open findings counted by ``column`` and severity, for a stacked bar chart.

    By namespace, a finding about a Namespace object counts under that namespace
    (its own ``namespace`` column is empty: a Namespace is cluster-scoped).
    """
    frame = open_findings(findings)
    if column == "namespace":
        frame = frame.assign(namespace=frame["namespace"].where(frame["kind"] != "Namespace", frame["name"]))
    frame = frame.assign(**{column: lambda f: f[column].fillna("(cluster-scoped)")})
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
    mine = (frame.assign(own=frame["message"].str.contains(own.MARK, regex=False))
            .groupby("check")["own"].agg(["all", "any"]))
    grouped["remediation"] = [_own_remediation(check, text, mine) for check, text
                              in zip(grouped["check"], grouped["remediation"], strict=True)]
    return grouped.head(limit).reset_index(drop=True)


def _own_remediation(check: str, text: str, mine: pd.DataFrame) -> str:
    """Never advise removing what kubebook needs: say so where the check's findings are kubebook's own objects."""
    if check not in mine.index or not mine.loc[check, "any"]:
        return text
    instead = f"do what their message says instead (their reasons are in {own.WAIVERS})"
    if mine.loc[check, "all"]:
        return f"These are {own.MARK} objects, which it needs: keep them and {instead}."
    return f"{text} Except the findings marked \"{own.MARK}\": kubebook needs those objects; keep them and {instead}."


def worst_open(findings: pd.DataFrame) -> str | None:
    """The most severe severity among the open findings (None when nothing is open)."""
    present = set(open_findings(findings)["severity"])
    return next((severity for severity in SEVERITIES if severity in present), None)


def waived_count(findings: pd.DataFrame) -> int:
    """Findings a waiver covers (left out of the score, kept in every report)."""
    return int(findings["waived"].astype(bool).sum()) if len(findings) else 0


def archived_run_id() -> str | None:
    """The id under which this run is being archived: ``kubebook run`` and schedules export it; None interactively."""
    return os.environ.get("KUBEBOOK_RUN_ID") or None


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
    import pandas as pd

    before, now = set(previous or []), set(current)
    rows = [{"status": "new", "key": k} for k in sorted(now - before)]
    rows += [{"status": "fixed", "key": k} for k in sorted(before - now)]
    rows += [{"status": "still open", "key": k} for k in sorted(now & before)]
    frame = pd.DataFrame(rows, columns=["status", "key"])
    parts = frame["key"].str.split("|", expand=True) if len(frame) else pd.DataFrame(columns=range(4))
    for index, column in enumerate(("check", "kind", "namespace", "name")):
        frame[column] = parts[index] if len(frame) else pd.Series(dtype=object)
    return frame
