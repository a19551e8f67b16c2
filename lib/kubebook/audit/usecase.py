"""The audit's two use cases as typed results: harden-audit's posture report and harden-remediate's plan.

Everything a screen or a record says is decided here - the headline's tone and words, what the score is
made of, the run diff, the cards' snippets, the re-audit verdict - so :mod:`kubebook.views.audit` only
draws a :class:`PostureReport` or a :class:`Remediation`, and a runbook cell calls one function here
and one view. The remediation is a mutating use case: its :meth:`Remediation.follow_up` applies the
fixes, re-audits, and returns the *new* result, which the mutation guard draws after Apply.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubebook.audit import posture, remediate
from kubebook.audit.model import SEVERITIES
from kubebook.errors import KubebookError
from kubebook.results import BAD, GOOD, WARN, Headline

if TYPE_CHECKING:
    import pandas as pd

    from kubebook.audit.engine import AuditResult
    from kubebook.changes import Change

CHART_COLUMNS = ("section", "severity", "namespace")


# --- harden-audit ---------------------------------------------------------------------------------------------

def tone(score: float | None, worst: str | None) -> str:
    """Red for any open critical/high finding or a score under 70; amber for medium or under 90; else green.

    No score (nothing audited) is red: unknown never reads as healthy.
    """
    if score is None or worst in ("critical", "high") or score < 70:
        return BAD
    if worst == "medium" or score < 90:
        return WARN
    return GOOD


def explain(result: Any, opened: int | None = None, worst: str | None = None) -> str:
    """One paragraph saying what the score is made of: checks, weights, sections, waivers, control plane."""
    findings = result.findings
    opened = sum(posture.counts(findings).values()) if opened is None else opened
    worst = posture.worst_open(findings) if worst is None else worst
    score = result.score
    parts = [f"{opened} open finding(s)" + (f", the worst {worst}" if worst else "")]
    if score.get("checks"):
        parts.append(f"{score.get('passed')} of {score['checks']} scored checks pass everywhere "
                     "(score = weight of passing checks / weight of all scored checks; critical 10, high 5, "
                     "medium 3, low 1; INFO and unscored checks do not count)")
    counted = [name for name, s in sorted(score.get("sections", {}).items()) if s.get("score") is not None]
    if counted:
        parts.append(f"sections: {', '.join(counted)}")
    composition = getattr(result, "composition", None)
    waived = posture.waived_count(findings)
    if composition is not None and composition.waivers:
        parts.append(f"{waived} finding(s) waived by {composition.waiver_count} waiver(s) in {composition.waivers} "
                     "(left out of the score)")
    elif waived:
        parts.append(f"{waived} finding(s) waived (left out of the score)")
    else:
        parts.append("no waivers applied")
    if result.expired_waivers:
        parts.append(f"{len(result.expired_waivers)} expired waiver(s) not applied")
    if composition is not None:
        parts.append(f"local control plane {composition.control_plane!r} included" if composition.control_plane
                     else "API only (no local control plane)")
    if score.get("status") == "no_data":
        parts.append("nothing was audited: " + (getattr(result, "no_data", None) or "no scored check ran"))
    return "; ".join(parts) + "."


def headline(result: Any, previous: posture.PreviousRun, *, archive: Any = "", run_id: str | None = None) -> Headline:
    """The score, toned by the score *and* the worst open severity, its change since the last archived run,
    and what the number is made of. ``run_id``: the id this run is archived under (None: interactive)."""
    score = result.score["overall"]
    findings = result.findings
    counts = posture.counts(findings)
    worst = posture.worst_open(findings)
    if previous.run_id is None:
        change = (f"first archived run in {archive}" if run_id else
                  f"no earlier archived run in {archive}; this interactive run is not archived" if archive else
                  "no earlier archived run; this interactive run is not archived")
    elif score is not None and previous.score is not None:
        change = f"{score - previous.score:+.1f} since run {previous.run_id}"
    else:
        change = f"compared with run {previous.run_id}"
    shown = "no data" if result.score.get("status") == "no_data" else "n/a" if score is None else f"{score:.1f}"
    return Headline("posture score", shown, unit="/ 100", change=change, tone=tone(score, worst), counts=counts,
                    note=explain(result, sum(counts.values()), worst))


def section_rows(result: Any) -> list[dict[str, Any]]:
    """Score per section: score, checks passed of scored, and the findings waivers left out of it."""
    frame = result.findings
    waived = frame[frame["waived"].astype(bool)].groupby("section").size().to_dict() if len(frame) else {}
    return [{"section": name, "score": s.get("score"), "passed": s.get("passed"), "checks": s.get("checks"),
             "waived findings": int(waived.get(name, 0))} for name, s in sorted(result.score["sections"].items())]


def snippet_text(check: str, namespace: Any) -> str:
    """The fix of ``check`` as a ready-to-paste ``kubectl apply`` (empty when the check has none)."""
    body = remediate.snippet(check, namespace)
    if body is None:
        return ""
    import yaml

    return "kubectl apply --server-side -f - <<'EOF'\n" + yaml.safe_dump(body, sort_keys=False) + "EOF"


def risk_cards(risks: pd.DataFrame) -> list[dict[str, Any]]:
    """The top risks as card items: what is wrong, where, what to do in full, and a snippet where one exists."""
    import pandas as pd

    items = []
    for row in risks.to_dict(orient="records"):
        where = "/".join(str(p) for p in (row.get("example_kind"), row.get("example_namespace"),
                                          row.get("example_name")) if p and not pd.isna(p))
        items.append({"severity": row["severity"], "title": row["title"],
                      "subtitle": f"{row['check']} · {row['resources']} resource(s), e.g. {where}",
                      "body": f"{row['example']}\n\nWhat to do: {row['remediation']}",
                      "snippet": snippet_text(str(row["check"]), row.get("example_namespace")
                                              or row.get("example_name"))})
    return items


def diff_title(changes: pd.DataFrame, previous: posture.PreviousRun) -> str:
    if previous.run_id is None:
        return "No previous archived run: every open finding is new."
    counts = changes["status"].value_counts().to_dict()
    return (f"Compared with run {previous.run_id}: {counts.get('new', 0)} new, {counts.get('fixed', 0)} fixed, "
            f"{counts.get('still open', 0)} still open.")


def sorted_open(findings: pd.DataFrame) -> pd.DataFrame:
    """Every open finding, most severe first."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return posture.open_findings(findings).sort_values(
        ["severity", "check"], key=lambda s: s.map(order) if s.name == "severity" else s)


@dataclass
class PostureReport:
    """harden-audit's whole answer: the audit, its headline, the diff to the last archived run, the tables."""

    result: AuditResult
    previous: posture.PreviousRun
    archive: Path | str
    run_id: str | None
    headline: Headline
    open_keys: list[str]
    run_diff: pd.DataFrame
    diff_title: str
    sections: list[dict[str, Any]]
    risks: pd.DataFrame
    risk_cards: list[dict[str, Any]]
    by: dict[str, pd.DataFrame]
    open_findings: pd.DataFrame

    @property
    def findings(self) -> pd.DataFrame:
        return self.result.findings

    @property
    def score(self) -> float | None:
        return self.result.score["overall"]

    def records(self) -> dict[str, Any]:
        """What the runbook records (the names the archive's trends and the next run's diff read)."""
        findings = self.result.findings
        return {"score": self.score,
                "section_scores": {name: s["score"] for name, s in self.result.score["sections"].items()},
                "counts": posture.counts(findings), "waived": posture.waived_count(findings),
                "waivers": getattr(getattr(self.result, "composition", None), "waivers", None),
                "top_risks": list(self.risks["check"]), "open_findings": self.open_keys,
                "previous_run": self.previous.run_id,
                "changes": self.run_diff["status"].value_counts().to_dict()}

    def status(self) -> str:
        """``ok``, or an error when no scored check was evaluated (an audit that read nothing is not a pass)."""
        if self.score is None:
            raise KubebookError("no scored check was evaluated: the audit read nothing",
                                hint="check the kubeconfig and the RBAC the runbook needs")
        return "ok"


def report(result: Any, previous: posture.PreviousRun, *, archive: Any = "", run_id: str | None = None,
           top: int = 10) -> PostureReport:
    """The posture report of an audit already made (no cluster, no archive read: the tests build one)."""
    findings = result.findings
    current = posture.keys(findings)
    changes = posture.diff(previous.keys, current)
    risks = posture.top_risks(findings, top)
    return PostureReport(result=result, previous=previous, archive=archive, run_id=run_id,
                         headline=headline(result, previous, archive=archive, run_id=run_id), open_keys=current,
                         run_diff=changes, diff_title=diff_title(changes, previous), sections=section_rows(result),
                         risks=risks, risk_cards=risk_cards(risks),
                         by={column: posture.by(findings, column) for column in CHART_COLUMNS},
                         open_findings=sorted_open(findings))


def harden_audit(cluster: Any, *, control_plane: str = "", waivers: str | os.PathLike[str] | None =
                 posture.DEFAULT_WAIVERS, registries: str | list[str] | None = "", archive: str = "",
                 top: int = 10) -> PostureReport:
    """harden-audit: the one audit (:func:`kubebook.audit.posture.posture`) with its waivers, compared with the
    newest archived harden-audit run of ``archive`` (empty: ``$KUBEBOOK_ARCHIVE``, then ``<repo>/reports``)."""
    from kubebook.archive.location import default_root

    root = default_root(archive or None)
    result = posture.posture(cluster, control_plane=control_plane or posture.AUTO,
                             waivers=posture.waivers_file(waivers), registries=registries)
    return report(result, posture.previous_run(root), archive=root, run_id=posture.archived_run_id(), top=top)


# --- harden-remediate -----------------------------------------------------------------------------------------

@dataclass(eq=False)
class Remediation:
    """harden-remediate's plan, and after :meth:`follow_up` what was applied and what the re-audit found.

    ``reaudit`` is None until the planned checks were audited (a plan waiting for its Apply button).
    """

    cluster: Any = field(repr=False)
    plan: remediate.Plan
    changes: list[Change]
    dry_run: bool
    confirm: bool
    applied: list[Change] | None = None
    reaudit: list[dict[str, Any]] | None = None

    @property
    def pending(self) -> int:
        return sum(1 for c in self.changes if c.action in ("create", "change", "delete"))

    @property
    def still_failing(self) -> int | None:
        return None if self.reaudit is None else sum(1 for r in self.reaudit if r["result"] != "PASS")

    @property
    def headline(self) -> Headline:
        """What this run will do (before Apply) or did (after): fixes planned, objects changed, the mode,
        and once re-audited how many planned checks still fail."""
        done = self.applied is not None
        refused = sum(1 for c in self.changes if c.action == "refused")
        if self.dry_run:
            mode = "dry run (nothing changes)"
        elif self.confirm:
            mode = "applied (confirmed by parameter)" if done else "apply (confirmed by parameter)"
        else:
            mode = "applied with the Apply button" if done else "waiting for the Apply button below"
        failing = self.still_failing
        notes = [f"{refused} refused by the API server" if refused else "",
                 f"re-audit: {failing} planned check(s) still failing" if done and failing is not None else ""]
        return Headline("remediation plan", f"{self.pending} change(s)" + (" applied" if done else ""),
                        change=f"{len(self.plan.fixes)} fix(es) planned, {len(self.plan.skipped)} skipped; "
                               f"mode: {mode}",
                        tone=(BAD if done and failing else GOOD if done or not self.pending else WARN),
                        note="; ".join(n for n in notes if n))

    @property
    def reaudit_headline(self) -> Headline:
        rows = self.reaudit or []
        failing = self.still_failing or 0
        return Headline("re-audit of the planned checks", f"{failing} still failing",
                        tone=GOOD if not failing else WARN, change=f"{len(rows)} finding(s) checked")

    def follow_up(self) -> Remediation:
        """Apply the fixes (the guard was confirmed), then re-audit the planned checks: the new result."""
        done = remediate.apply(self.cluster, self.plan.fixes, confirm=True)
        return dataclasses.replace(self, applied=done, reaudit=remediate.reaudit(self.cluster, self.plan.fixes))

    def records(self) -> dict[str, Any]:
        return {"planned": len(self.plan.fixes),
                "changes_previewed": sum(c.action != "unchanged" for c in self.changes)}

    def status(self) -> str:
        """``ok``, or an error when an apply left a planned check failing (the fix did not take effect)."""
        failing = [f"{r['check']} on {r['namespace'] or r['name']}" for r in self.reaudit or []
                   if r["result"] != "PASS"]
        if self.applied is not None and failing:
            raise KubebookError(f"applied, but {len(failing)} planned check(s) still fail: {', '.join(failing[:5])}",
                                hint="read the re-audit above; an admission webhook or another manager may "
                                     "revert it")
        return "ok"


def remediation_of(cluster: Any, plan: remediate.Plan, changes: list[Change], *, dry_run: bool,
                   confirm: bool) -> Remediation:
    """A remediation from a plan already previewed; the planned checks are re-audited now unless the guard
    will apply at once (confirmed) or waits for a click (its follow-up re-audits after it)."""
    result = Remediation(cluster, plan, changes, dry_run, confirm)
    if dry_run or not result.pending:
        result.reaudit = remediate.reaudit(cluster, plan.fixes)
    return result


def harden_remediate(cluster: Any, *, namespaces: str = "", level: str = "baseline",
                fixes: str = ",".join(remediate.FIX_KINDS), dry_run: bool = True, confirm: bool = False) -> Remediation:
    """harden-remediate: plan the fixes over the cluster's inventory and preview them with the server's dry run."""
    from kubebook.audit.sources import AuditInventory

    plan = remediate.plan(AuditInventory.from_cluster(cluster), namespaces=namespaces, level=level, kinds=fixes)
    return remediation_of(cluster, plan, remediate.preview(cluster, plan.fixes), dry_run=dry_run, confirm=confirm)
