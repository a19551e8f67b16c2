"""What the provision-baseline runbook shows: the overlay's objects, the guarded apply, the proof per control."""

from __future__ import annotations

from typing import Any

from kubebook.changes import Change
from kubebook.provision.verify import SETTLE
from kubebook.views import Html, Message, headline, table


def objects_table(built: Any) -> Html | Message:
    """One row per object the overlay declares, in kustomize's order."""
    rows = [{"kind": o["kind"], "namespace": o["metadata"].get("namespace", ""), "name": o["metadata"]["name"]}
            for o in built.objects]
    return table(rows, code=["name"], empty="the overlay declares no objects")


def guarded_apply(cluster: Any, built: Any, changes: list[Change], *, dry_run: bool, confirm: bool) -> Any:
    """The mutation guard around :func:`kubebook.provision.apply`, with the proof table as its follow-up."""
    from kubebook import provision
    from kubebook.notebook import guard

    return guard(changes, lambda: provision.apply(cluster, built.objects), dry_run=dry_run, confirm=confirm,
                 follow_up=lambda: controls_table(provision.verify(cluster, built, settle=SETTLE)))


def proof(cluster: Any, built: Any, decision: Any) -> list[Any]:
    """The controls as the API server answers now; right after an apply, new policies get time to load."""
    from kubebook import provision

    return provision.verify(cluster, built, settle=SETTLE if decision.applied else 0.0)


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
