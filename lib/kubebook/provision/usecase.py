"""provision-baseline as a typed result: the overlay built, the server's dry-run diff, and its proof.

A mutating use case: :func:`baseline` returns a :class:`Baseline` (the plan) whose
:meth:`Baseline.follow_up` applies the overlay through the locked, journaled session and then proves
it, returning the *new* result; the mutation guard draws that after Apply, so the screen never shows
the proof of the cluster before the apply. The proof's headline, which controls failed and the run's
status are decided here; :mod:`kubebook.views.provision` only draws them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubebook.results import BAD, GOOD, Headline

if TYPE_CHECKING:
    from kubebook.changes import Change
    from kubebook.provision.apply import ApplyReport
    from kubebook.provision.build import Built
    from kubebook.provision.verify import Control

APPLIED = "applied"  # the mutation guard's state after an apply (kubebook.notebook.APPLIED)


@dataclass(frozen=True)
class Proof:
    """The behavioural proof: every control, the failed and passed ones, their summary and headline, and
    what the apply itself reported (notes, conflicts, failures) when there was one."""

    controls: list[Control]
    summary: dict[str, Any]
    headline: Headline
    failed: list[Control]
    passed: list[Control]
    apply_rows: list[dict[str, str]] = field(default_factory=list)
    apply_title: str = ""

    @property
    def failed_rows(self) -> list[dict[str, Any]]:
        return control_rows(self.failed)

    @property
    def passed_rows(self) -> list[dict[str, Any]]:
        return control_rows(self.passed)


def controls_headline(summary: dict[str, Any]) -> Headline:
    """Controls passed out of the total, green only when every one passed (none proved is not green)."""
    passed = summary["total"] - summary["failed"]
    return Headline("controls proved", f"{passed} / {summary['total']}", tone=GOOD if summary["passed"] else BAD,
                    counts={k: v["failed"] for k, v in summary["by_control"].items()},
                    note="failed controls per family" if summary["failed"] else "every control holds")


def proof(controls: list[Control], report: ApplyReport | None = None) -> Proof:
    """The proof of ``controls``; after an apply that did not do all it was asked, its notes and failures."""
    from kubebook.provision.verify import summary as summarize

    controls = list(controls)
    summary = summarize(controls)
    rows: list[dict[str, str]] = []
    title = ""
    if report is not None and (report.notes or report.conflicts or report.failed):
        rows = [{"action": "note", "object": "", "message": n} for n in report.notes] + [
            {"action": e.action, "object": e.key, "message": e.message} for e in report.conflicts + report.failed]
        title = (f"the apply left {len(report.conflicts)} conflict(s) and {len(report.failed)} failure(s)"
                 if report.conflicts or report.failed else "notes from the apply")
    return Proof(controls, summary, controls_headline(summary), [c for c in controls if not c.passed],
                 [c for c in controls if c.passed], rows, title)


def control_rows(controls: list[Control]) -> list[dict[str, Any]]:
    """Pass/fail per control, with what was expected and what the API server answered."""
    return [{"result": "PASS" if c.passed else "FAIL", "control": c.control, "target": c.target, "check": c.check,
             "expected": c.expected, "observed": c.observed} for c in controls]


def status(state: str, report: ApplyReport | None) -> str:
    """The run's status record: ``incomplete`` when an apply left conflicts or failures, else the guard's state."""
    if state == APPLIED:
        return "applied" if getattr(report, "complete", True) else "incomplete"
    return str(state)


@dataclass(eq=False)
class Baseline:
    """provision-baseline's plan and, after :meth:`follow_up`, what the apply did and its proof."""

    cluster: Any = field(repr=False)
    built: Built
    changes: list[Change]
    proof: Proof | None = None  # None: not proved yet (the guard applies at once, or waits for a click)
    report: ApplyReport | None = None

    @property
    def object_rows(self) -> list[dict[str, str]]:
        return [{"kind": o["kind"], "namespace": o["metadata"].get("namespace", ""), "name": o["metadata"]["name"]}
                for o in self.built.objects]

    @property
    def objects_title(self) -> str:
        kinds = Counter(o["kind"] for o in self.built.objects)
        return (f"{len(self.built.objects)} objects in overlay {self.built.overlay}: "
                + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))

    def follow_up(self) -> Baseline:
        """Apply the overlay (locked, journaled), then prove it after the settle time: the new result."""
        from kubebook import provision
        from kubebook.provision import session
        from kubebook.provision.verify import SETTLE

        report = session.apply_overlay(self.cluster, self.built)
        return dataclasses.replace(self, report=report,
                                   proof=proof(provision.verify(self.cluster, self.built, settle=SETTLE), report))

    def records(self, state: str) -> dict[str, Any]:
        """What the runbook records once the guard decided (``state``)."""
        return {"objects": len(self.built.objects),
                "applied": self.report.as_record() if self.report is not None else None,
                "controls": self.proof.summary if self.proof is not None else None,
                "status": status(state, self.report)}


def baseline_of(cluster: Any, built: Built, changes: list[Change], *, dry_run: bool, confirm: bool) -> Baseline:
    """A baseline plan already built and diffed; proved now unless the guard will apply it at once (confirmed),
    so the proof is asked once either way."""
    from kubebook import provision

    result = Baseline(cluster, built, changes)
    if dry_run or not confirm:
        result.proof = proof(provision.verify(cluster, built, settle=0.0))
    return result


def provision_baseline(cluster: Any, *, overlay: str = "prod", namespaces: str = "", dry_run: bool = True,
             confirm: bool = False) -> Baseline:
    """provision-baseline: build ``overlay`` (only ``namespaces`` of it, if given), diff it with the server's
    dry run, and prove the cluster as it is (the guard's follow-up proves it again after an apply)."""
    from kubebook import provision

    built = provision.select(provision.build(overlay), namespaces)
    return baseline_of(cluster, built, provision.plan(cluster, built.objects), dry_run=dry_run, confirm=confirm)
