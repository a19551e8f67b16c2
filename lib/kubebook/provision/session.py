"""The two mutating use cases, as the CLI and the runbook call them: apply an overlay, remove it.

Why a layer over :func:`~kubebook.provision.apply.apply` and
:func:`~kubebook.provision.remove.remove`: both hold the cluster's provisioning lock for
their whole run, and both first deal with an interrupted remove that its journal
recorded, saying so: ``remove`` finishes it; ``apply`` of the same overlay rolls it back
(the apply re-creates what was deleted, then the journal is dropped); ``apply`` of another
overlay finishes it first, since its objects are not the ones that were half-removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubebook.provision import journal
from kubebook.provision.apply import Applied, ApplyReport, apply
from kubebook.provision.remove import remove

Say = Callable[[str], None]


def apply_overlay(cluster: Any, built: Any, *, progress: Callable[[Applied], None] | None = None,
                  say: Say | None = None, force: bool = False) -> ApplyReport:
    """Apply ``built`` under the lock; an interrupted remove of it is rolled back by this very apply."""
    notes: list[str] = []
    tell = _teller(notes, say)
    with journal.locked(cluster, "apply") as taken:
        for note in taken:
            tell(note)
        interrupted = journal.pending(cluster)
        rolls_back = interrupted is not None and interrupted.operation == "remove" \
            and interrupted.overlay == built.overlay
        if interrupted is not None and not rolls_back:
            _finish(cluster, interrupted, progress, tell)
        elif interrupted is not None:
            tell(f"{interrupted.describe()} is rolled back: this apply re-creates what it deleted")
        report = apply(cluster, built.objects, progress=progress, force=force)
        if rolls_back and report.complete:
            journal.finish(cluster)
            tell("rolled back: the interrupted remove's journal is closed")
    report.notes[:0] = notes
    return report


def remove_overlay(cluster: Any, built: Any, *, progress: Callable[[Applied], None] | None = None,
                   say: Say | None = None) -> ApplyReport:
    """Remove ``built`` under the lock, journaled; an earlier interrupted remove is finished first."""
    notes: list[str] = []
    tell = _teller(notes, say)
    with journal.locked(cluster, "remove") as taken:
        for note in taken:
            tell(note)
        interrupted = journal.pending(cluster)
        if interrupted is not None:
            _finish(cluster, interrupted, progress, tell)
        journal.begin(cluster, "remove", built.overlay, built.objects)
        report = remove(cluster, built.objects, progress=progress)
        if not report.failed:
            journal.finish(cluster)
    report.notes[:0] = notes
    return report


def pending_note(cluster: Any) -> str | None:
    """For the read-only commands: what is pending and which command settles it, or None."""
    interrupted = journal.pending(cluster)
    if interrupted is None:
        return None
    return (f"{interrupted.describe()} is pending: 'kubebook provision {interrupted.operation} --overlay "
            f"{interrupted.overlay}' finishes it, 'kubebook provision apply --overlay {interrupted.overlay}' "
            "rolls it back")


def _finish(cluster: Any, interrupted: journal.Journal, progress: Callable[[Applied], None] | None,
            tell: Say) -> None:
    tell(f"{interrupted.describe()}: finishing it first")
    report = remove(cluster, interrupted.objects, progress=progress)
    journal.finish(cluster)  # closed either way: a journal that cannot finish must not block every later run
    counts = ", ".join(f"{n} {a}" for a, n in report.counts().items() if n)
    tell(f"finished the interrupted remove: {counts}" + "".join(
        f"; {e.key} failed: {e.message}" for e in report.failed))


def _teller(notes: list[str], say: Say | None) -> Say:
    def tell(text: str) -> None:
        notes.append(text)
        if say is not None:
            say(text)

    return tell
