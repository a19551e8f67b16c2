"""What the provision-baseline runbook shows: the outcome first, long tables and diffs behind a count.

Why ``<details>``: it folds in JupyterLab and in the archived HTML alike (no widget, no script),
so a 70-object overlay opens as one line per section, with the count in the summary, and
the failing controls (the part someone has to act on) shown open.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import Any

from kubebook.changes import Change, summary
from kubebook.provision.verify import SETTLE
from kubebook.views import FONT, Html, Message, headline, table
from kubebook.views.changes import changes_view


def folded(title: str, part: Html | Message, *, open_: bool = False) -> Html | Message:
    """``part`` behind a summary line (``title``), folded unless ``open_``; a Message stays as it is."""
    if not isinstance(part, Html):
        return part
    return Html(f'<details{" open" if open_ else ""} style="{FONT};margin:4px 0 10px 0"><summary><b>'
                f"{html.escape(title)}</b></summary>{part.html}</details>", f"{title}\n{part.plain}")


def objects_table(built: Any) -> Html | Message:
    """One row per object the overlay declares, in kustomize's order, folded behind the count per kind."""
    rows = [{"kind": o["kind"], "namespace": o["metadata"].get("namespace", ""), "name": o["metadata"]["name"]}
            for o in built.objects]
    kinds = Counter(r["kind"] for r in rows)
    title = f"{len(rows)} objects in overlay {built.overlay}: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    return folded(title, table(rows, code=["name"], empty="the overlay declares no objects"))


def changes_folded(changes: Sequence[Change]) -> Html:
    """The server's dry-run diffs behind one line of counts (refusals and conflicts shown open)."""
    counts = summary(changes)
    head = ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "no objects"
    diffs = changes_view([c for c in changes if c.action != "refused"], open_diffs=False)
    parts = [folded(f"planned changes ({len(changes)} objects): {head}", diffs).html]
    refused = [c for c in changes if c.action == "refused"]
    if refused:
        parts.append(folded(f"{len(refused)} refused by the API server (conflicts keep the other owner's value)",
                            changes_view(refused), open_=True).html)
    plain = f"planned changes: {head}" + "".join(f"\nrefused {c.key}: {c.reason}" for c in refused)
    return Html("".join(parts), plain)


def guarded_apply(cluster: Any, built: Any, changes: list[Change], *, dry_run: bool, confirm: bool) -> Any:
    """The mutation guard around the locked, journaled apply; the proof is its follow-up, shown once.

    The follow-up's view carries its controls (``decision.shown.controls``), so the proof cell
    records them instead of asking the API server a second time.
    """
    from kubebook.notebook import guard
    from kubebook.provision import session, verify

    applied: list[Any] = []

    def prove() -> Proof:
        return proof_view(verify(cluster, built, settle=SETTLE if applied else 0.0), applied[-1] if applied else None)

    def run() -> Any:
        applied.append(session.apply_overlay(cluster, built))
        return applied[-1]

    return guard(changes, run, dry_run=dry_run, confirm=confirm, follow_up=prove, view=changes_folded)


def proof(cluster: Any, built: Any, decision: Any) -> list[Any]:
    """The controls the guard's follow-up proved (asked now when it has not run: waiting for a click)."""
    from kubebook import provision

    if isinstance(decision.shown, Proof):
        return list(decision.shown.controls)
    return provision.verify(cluster, built, settle=SETTLE if decision.applied else 0.0)


class Proof(Html):
    """The proof as drawn, holding the controls it drew."""

    def __init__(self, html_text: str, plain: str, controls: Sequence[Any]) -> None:
        super().__init__(html_text, plain)
        self.controls = list(controls)


def proof_view(controls: Sequence[Any], report: Any = None) -> Proof:
    """The proof's headline, the failed controls open, the passed ones behind their count.

    After an apply, its notes (an interrupted remove finished or rolled back, a lock taken over),
    conflicts and failures come first, open: the apply did not do all it was asked.
    """
    from kubebook.provision import summary as summarize

    result = summarize(list(controls))
    failed = [c for c in controls if not c.passed]
    passed = [c for c in controls if c.passed]
    parts: list[Html | Message] = []
    if report is not None and (report.notes or report.conflicts or report.failed):
        rows = [{"action": "note", "object": "", "message": n} for n in report.notes] + [
            {"action": e.action, "object": e.key, "message": e.message} for e in report.conflicts + report.failed]
        title = (f"the apply left {len(report.conflicts)} conflict(s) and {len(report.failed)} failure(s)"
                 if report.conflicts or report.failed else "notes from the apply")
        parts.append(folded(title, table(rows, code=["object"]), open_=True))
    parts.append(controls_headline(result))
    if failed:
        parts.append(folded(f"{len(failed)} control(s) failed", controls_table(failed), open_=True))
    parts.append(folded(f"{len(passed)} control(s) passed", controls_table(passed)))
    return Proof("".join(p.html if isinstance(p, Html) else f"<p>{html.escape(str(p))}</p>" for p in parts),
                 "\n".join(str(p) for p in parts), controls)


def status(decision: Any) -> str:
    """The run's status record: ``incomplete`` when an apply left conflicts or failures, else the guard's state."""
    if decision.applied:
        return "applied" if getattr(decision.result, "complete", True) else "incomplete"
    return str(decision.state)


def controls_table(controls: list[Any]) -> Html | Message:
    """Pass/fail per control, with what was expected and what the API server answered."""
    rows = [{"result": "PASS" if c.passed else "FAIL", "control": c.control, "target": c.target, "check": c.check,
             "expected": c.expected, "observed": c.observed} for c in controls]
    return table(rows, code=["observed"], empty="nothing to verify")


def controls_headline(summary: dict[str, Any]) -> Html:
    """Controls passed out of the total, green only when every one passed."""
    passed = summary["total"] - summary["failed"]
    return headline("controls proved", f"{passed} / {summary['total']}", tone="good" if summary["passed"] else "bad",
                    counts={k: v["failed"] for k, v in summary["by_control"].items()},
                    note="failed controls per family" if summary["failed"] else "every control holds")
