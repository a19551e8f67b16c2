"""harden-audit and harden-remediate on screen: headline, charts, top-risk cards, run diff, finding tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from kubebook.audit import posture, remediate
from kubebook.audit.model import SEVERITIES
from kubebook.views import SEVERITY_COLOURS, Html, Message, cards, headline, table

FINDING_COLUMNS = ["severity", "check", "kind", "namespace", "name", "result", "message"]


def _tone(score: float | None, worst: str | None) -> str:
    """Red for any open critical/high finding or a score under 70; amber for medium or under 90; else green."""
    if score is None or worst in ("critical", "high") or score < 70:
        return "bad"
    if worst == "medium" or score < 90:
        return "warn"
    return "good"


def audit_headline(result: Any, previous: posture.PreviousRun, *, archive: Any = "",
                   run_id: str | None = None) -> Html:
    """The score in large type, toned by the score *and* the worst open severity, and what the number is made of.

    ``run_id`` is the id this run is archived under (None: an interactive run, which archives nothing).
    """
    score = result.score["overall"]
    findings = result.findings
    counts = posture.counts(findings)
    opened = sum(counts.values())
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
    return headline("posture score", shown, unit="/ 100", change=change, tone=_tone(score, worst), counts=counts,
                    note=explain(result, opened, worst))


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


def sections(result: Any) -> Html | Message:
    """Score per section: score, checks passed of scored, and the findings waivers left out of it."""
    frame = result.findings
    waived = (frame[frame["waived"].astype(bool)].groupby("section").size().to_dict() if len(frame) else {})
    rows = [{"section": name, "score": s.get("score"), "passed": s.get("passed"), "checks": s.get("checks"),
             "waived findings": int(waived.get(name, 0))}
            for name, s in sorted(result.score["sections"].items())]
    return table(rows, ["section", "score", "passed", "checks", "waived findings"],
                 empty="no scored check was evaluated")


def chart(findings: pd.DataFrame, column: str, title: str) -> Any:
    """Open findings counted by ``column``, stacked by severity (a message when nothing is open)."""
    from kubebook.views import ensure_plotly

    ensure_plotly()
    import plotly.express as px

    data = posture.by(findings, column)
    if data.empty:
        return Message("_No open findings._")
    return px.bar(data, x=column, y="findings", color="severity", title=title,
                  category_orders={"severity": list(SEVERITIES)}, color_discrete_map=SEVERITY_COLOURS)


def _snippet(row: Mapping[str, Any]) -> str:
    body = remediate.snippet(str(row["check"]), row.get("example_namespace") or row.get("example_name"))
    if body is not None:
        import yaml

        return "kubectl apply --server-side -f - <<'EOF'\n" + yaml.safe_dump(body, sort_keys=False) + "EOF"
    return ""


def risk_cards(risks: pd.DataFrame) -> Html | Message:
    """The top risks as cards: what is wrong, where, and what to do - in full, with a snippet where one exists."""
    items = []
    for row in risks.to_dict(orient="records"):
        where = "/".join(str(p) for p in (row.get("example_kind"), row.get("example_namespace"),
                                          row.get("example_name")) if p and not pd.isna(p))
        items.append({"severity": row["severity"], "title": row["title"],
                      "subtitle": f"{row['check']} · {row['resources']} resource(s), e.g. {where}",
                      "body": f"{row['example']}\n\nWhat to do: {row['remediation']}", "snippet": _snippet(row)})
    return cards(items, empty="No open findings: nothing to remediate.")


def run_diff(changes: pd.DataFrame, previous: posture.PreviousRun) -> Html | Message:
    """New, fixed and still-open findings against the previous run, cluster-scoped ones with an empty namespace."""
    if previous.run_id is None:
        title = "No previous archived run: every open finding is new."
    else:
        counts = changes["status"].value_counts().to_dict()
        title = (f"Compared with run {previous.run_id}: {counts.get('new', 0)} new, {counts.get('fixed', 0)} fixed, "
                 f"{counts.get('still open', 0)} still open.")
    shown = table(changes, ["status", "check", "kind", "namespace", "name"], empty="nothing open, nothing fixed")
    return Html(f"<p><b>{title}</b></p>" + (shown.html if isinstance(shown, Html) else f"<p>{shown}</p>"),
                f"{title}\n{shown}")


def open_findings(findings: pd.DataFrame) -> Html | Message:
    """Every open finding with its full message, most severe first."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    frame = posture.open_findings(findings).sort_values(
        ["severity", "check"], key=lambda s: s.map(order) if s.name == "severity" else s)
    return table(frame, FINDING_COLUMNS, code=("check",), empty="No open findings.")


def plan_table(plan: remediate.Plan) -> Html | Message:
    return table(plan.rows(), ["fix", "check", "reason"], code=("fix",), empty="Nothing to fix.")


def skipped_table(plan: remediate.Plan) -> Html | Message:
    return table(plan.skipped, ["namespace", "reason"], empty="Nothing was skipped.")


def reaudit_view(rows: Sequence[Mapping[str, Any]]) -> Html | Message:
    """The re-audit of the planned checks: still failing in the headline, then every row."""
    failing = sum(1 for r in rows if r["result"] != "PASS")
    shown = table(list(rows), ["check", "kind", "namespace", "name", "result", "message"],
                  empty="No planned check to re-audit.")
    head = headline("re-audit of the planned checks", f"{failing} still failing",
                    tone="good" if not failing else "warn", change=f"{len(rows)} finding(s) checked")
    return Html(head.html + (shown.html if isinstance(shown, Html) else ""), f"{head.plain}\n{shown}")


class _Live(Html):
    """An Html view shown under a display id, so a later step (the Apply click) can redraw it in place."""

    def __init__(self, html_text: str, plain: str) -> None:
        super().__init__(html_text, plain)
        import uuid

        self.display_id = f"kubebook-{uuid.uuid4().hex}"

    def bundle(self) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.plain}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.bundle(), raw=True, display_id=self.display_id)


_HEADLINES: dict[int, _Live] = {}  # id(plan) -> its headline on screen, redrawn by remediation_guard's Apply


def remediate_headline(plan: remediate.Plan, changes: Sequence[Any], dry_run: bool, confirm: bool, *,
                       applied: bool = False) -> Html:
    """What this run will do (and, redrawn after Apply, did): fixes planned, objects changed, the mode."""
    pending = sum(1 for c in changes if c.action in ("create", "change", "delete"))
    refused = sum(1 for c in changes if c.action == "refused")
    if dry_run:
        mode = "dry run (nothing changes)"
    elif confirm:
        mode = "applied (confirmed by parameter)" if applied else "apply (confirmed by parameter)"
    else:
        mode = "applied with the Apply button" if applied else "waiting for the Apply button below"
    value = f"{pending} change(s)" + (" applied" if applied else "")
    head = headline("remediation plan", value, tone="good" if applied or not pending else "warn",
                    change=f"{len(plan.fixes)} fix(es) planned, {len(plan.skipped)} skipped; mode: {mode}",
                    note=f"{refused} refused by the API server" if refused else "")
    live = _Live(head.html, head.plain)
    if not applied:
        _HEADLINES[id(plan)] = live
    return live


def _redraw_headline(plan: remediate.Plan, changes: Sequence[Any], dry_run: bool, confirm: bool) -> None:
    shown = _HEADLINES.get(id(plan))
    if shown is None:
        return
    from IPython.display import update_display

    now = remediate_headline(plan, changes, dry_run, confirm, applied=True)
    update_display(now.bundle(), raw=True, display_id=shown.display_id)


class _Recorded(Html):
    """An Html view that also records one named value (so a redrawn view updates the record too)."""

    def __init__(self, html_text: str, plain: str, name: str, value: Any) -> None:
        super().__init__(html_text, plain)
        self.name, self.value = name, value

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from kubebook.notebook import RECORD_MIME

        return {"text/html": self.html, "text/plain": self.plain,
                RECORD_MIME: {"name": self.name, "value": self.value}}


def remediation_guard(cluster: Any, plan: remediate.Plan, changes: Sequence[Any], *, dry_run: bool,
                      confirm: bool, interactive: bool | None = None) -> Any:
    """harden-remediate's Apply step: the mutation guard over the server's dry-run diff, re-audit below it.

    The outcome is recorded as ``outcome`` and the re-audit's failure count as
    ``still_failing``; after an Apply click both are redrawn (and re-recorded) in place.
    """
    from kubebook.notebook import guard

    def follow_up() -> _Recorded:
        rows = remediate.reaudit(cluster, plan.fixes)
        shown = reaudit_view(rows)
        failing = sum(1 for r in rows if r["result"] != "PASS")
        view = _Recorded(shown.html if isinstance(shown, Html) else str(shown), str(shown), "still_failing", failing)
        view.rows = rows  # type: ignore[attr-defined]
        return view

    def apply() -> Any:
        done = remediate.apply(cluster, plan.fixes, confirm=True)
        _redraw_headline(plan, changes, dry_run, confirm)  # the headline above says what happened, not what waits
        return done

    return guard(changes, apply, dry_run=dry_run, confirm=confirm, name="outcome", follow_up=follow_up,
                 interactive=interactive)


def remediation_status(decision: Any) -> str:
    """``ok``, or an error when a confirmed apply left a planned check failing (the fix did not take effect)."""
    from kubebook.errors import KubebookError

    rows = getattr(decision.shown, "rows", [])
    failing = [f"{r['check']} on {r['namespace'] or r['name']}" for r in rows if r["result"] != "PASS"]
    if decision.applied and failing:
        raise KubebookError(f"applied, but {len(failing)} planned check(s) still fail: {', '.join(failing[:5])}",
                            hint="read the re-audit above; an admission webhook or another manager may revert it")
    return "ok"
