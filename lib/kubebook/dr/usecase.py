"""The DR use cases as the runbooks call them: one function per step, every decision made here.

A runbook cell used to decide things itself: whether a drill may run without a confirmation
(``confirm=confirm or own``), what to show when no drill ran (``result["lost"] if result else []``),
which status to record. Those decisions now live here, where pytest tests them and the CLI can share
them; the cells only pass their parameters in, hand the plan to the mutation guard, draw the report
with :mod:`kubebook.views.dr` and record its fields.

* :func:`etcd_backup` - the scheduled etcd backup (a checked snapshot, then retention);
* :func:`etcd_drill_plan` / :func:`etcd_drill_report` - the full-cluster restore drill;
* :func:`ha_drill_plan` / :func:`ha_drill_report` - the HA member-loss drill;
* :func:`namespace_drill_plan` / :func:`namespace_drill_report` - namespace backup and restore.

A report of a drill that did not run (a dry run, a run waiting for its Apply button) has empty lists
and the outcome ``not run``: nothing unknown reads as passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubebook.changes import Change
from kubebook.dr import outcome as decide
from kubebook.dr.outcome import Outcome

DRY_RUN_STATUS = "dry run"
NO_DRILL = "no drill ran"


class GuardDecision(Protocol):
    """What the mutation guard (:func:`kubebook.notebook.guard`) returns, as far as a report reads it."""

    result: Any
    message: str


@dataclass(frozen=True)
class DrillPlan:
    """What the mutation guard needs for a drill: the changes it shows, the action, and whether it is confirmed.

    ``confirm`` is decided by :func:`drill_confirmation`, ``reason`` says why in words.
    """

    changes: list[Change]
    run: Callable[[], Any]
    confirm: bool
    reason: str


def drill_confirmation(cluster_name: str, confirm: bool) -> tuple[bool, str]:
    """Whether a drill may run once ``dry_run`` is off, and why.

    A drill of a throwaway cluster (no ``cluster_name``) touches nothing anyone relies on: the run starts
    the cluster, drills it and removes it, so it needs no confirmation. A named cluster needs
    ``confirm = True`` headless (or the Apply button interactively).
    """
    if not cluster_name:
        return True, "a throwaway cluster this run starts and removes: nothing anyone relies on is touched"
    if confirm:
        return True, f"local cluster {cluster_name!r} named and confirmed (confirm = True)"
    return False, (f"local cluster {cluster_name!r} named: needs confirm = True headless, "
                   "or the Apply button interactively")


def etcd_drill_plan(cluster_name: str, *, archive: str = "", seed_objects: int = 200, probe_objects: int = 3,
                    confirm: bool = False) -> DrillPlan:
    """The full-cluster restore drill of ``cluster_name`` (empty: a throwaway cluster), ready for the guard."""
    from kubebook.dr import drill, throwaway

    allowed, reason = drill_confirmation(cluster_name, confirm)
    return DrillPlan(drill.planned_changes(cluster_name or None),
                     throwaway.full_drill_action(cluster_name, archive=archive, seed_objects=seed_objects,
                                                 probe_objects=probe_objects), allowed, reason)


def ha_drill_plan(cluster_name: str, *, writes: int = 20, confirm: bool = False) -> DrillPlan:
    """The HA member-loss drill of ``cluster_name`` (empty: a throwaway ha cluster), ready for the guard."""
    from kubebook.dr import hadrill, throwaway

    allowed, reason = drill_confirmation(cluster_name, confirm)
    return DrillPlan(hadrill.planned_changes(cluster_name or "(throwaway)"),
                     throwaway.member_loss_action(cluster_name, writes=writes), allowed, reason)


@dataclass(frozen=True)
class DrillReport:
    """Everything a drill runbook shows and records, whether or not the drill ran.

    ``result`` is the drill's JSON (None: it did not run); the lists are empty then and ``not_run``
    says why; ``status`` is what the run records (the drill's own status, or ``dry run``).
    """

    outcome: Outcome
    result: dict[str, Any] | None
    status: str
    not_run: str
    timeline_title: str
    timeline: list[dict[str, Any]] = field(default_factory=list)
    per_kind: list[dict[str, Any]] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)
    created_after_snapshot: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    quorum_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return self.result is not None


def _listed(result: Mapping[str, Any] | None, key: str) -> list[dict[str, Any]]:
    return list((result or {}).get(key) or [])


def _not_run(decision: GuardDecision) -> str:
    return decision.message or NO_DRILL


def _title(result: Mapping[str, Any] | None, title: str, not_run: str) -> str:
    return title if result else f"{title}: {NO_DRILL} ({not_run})"


def etcd_drill_report(decision: GuardDecision, *, rto_target: float, rpo_target: int) -> DrillReport:
    """The full-cluster drill's report: its verdict (:func:`kubebook.dr.outcome.etcd_drill`) and what it lists."""
    result = decision.result or None
    not_run = _not_run(decision)
    verdict = decide.etcd_drill(result, rto_target=rto_target, rpo_target=rpo_target, not_run=not_run)
    return DrillReport(verdict, result, (result or {}).get("status", DRY_RUN_STATUS), not_run,
                       _title(result, "Drill timeline", not_run), timeline=_listed(result, "timeline"),
                       per_kind=_listed(result, "per_kind"), lost=_listed(result, "lost"),
                       created_after_snapshot=_listed(result, "created_after_snapshot"))


def quorum_rows(result: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """What a write and each read answered while quorum was lost, as rows (none when no drill ran)."""
    if not result:
        return []
    rows = [{"what": "write", "answer": result.get("quorum_error")}]
    return rows + [{"what": k, "answer": v} for k, v in (result.get("reads_without_quorum") or {}).items()]


def ha_drill_report(decision: GuardDecision, *, recovery_target: float) -> DrillReport:
    """The member-loss drill's report: its verdict (:func:`kubebook.dr.outcome.ha_drill`) and what it lists."""
    result = decision.result or None
    not_run = _not_run(decision)
    verdict = decide.ha_drill(result, recovery_target=recovery_target, not_run=not_run)
    return DrillReport(verdict, result, (result or {}).get("status", DRY_RUN_STATUS), not_run,
                       _title(result, "Member-loss drill", not_run), timeline=_listed(result, "timeline"),
                       phases=_listed(result, "phases"), quorum_rows=quorum_rows(result))


@dataclass(frozen=True)
class BackupReport:
    """The scheduled etcd backup: the engine's dict (None: not taken), its verdict, the snapshot and the ones kept."""

    backup: dict[str, Any] | None
    outcome: Outcome
    snapshot: dict[str, Any]
    snapshots: list[dict[str, Any]]
    status: str = "backup"
    not_run: str = ""

    @property
    def ran(self) -> bool:
        return self.backup is not None


def etcd_backup_plan(cluster_name: str = "default", *, archive: str = "", keep_last: int = 7, keep_daily: int = 7,
                     keep_weekly: int = 4, keep_monthly: int = 6) -> DrillPlan:
    """The scheduled etcd backup of local cluster ``cluster_name``, ready for the guard.

    It needs no confirmation beyond ``dry_run = False``: a snapshot only reads etcd (with the client
    certificates) and writes to the report archive; retention removes only snapshots the policy does
    not keep, never the newest verified one. Nothing in the cluster changes.
    """
    name = cluster_name or "default"
    where = archive or "$KUBEBOOK_ARCHIVE"
    changes = [Change(f"EtcdSnapshot/{name}", "create", "",
                      f"a checked snapshot sealed in the archive {where}; then retention (keep {keep_last} last, "
                      f"{keep_daily} daily, {keep_weekly} weekly, {keep_monthly} monthly, always the newest verified)")]
    return DrillPlan(changes, lambda: etcd_backup(name, archive=archive, keep_last=keep_last, keep_daily=keep_daily,
                                                  keep_weekly=keep_weekly, keep_monthly=keep_monthly),
                     True, "a snapshot reads etcd and writes only to the report archive: nothing in the cluster "
                           "changes")


def etcd_backup_report(decision: GuardDecision) -> BackupReport:
    """The backup's report: what :func:`etcd_backup` returned once the guard ran it, else ``not run``."""
    if isinstance(decision.result, BackupReport):
        return decision.result
    not_run = decision.message or "no backup taken"
    verdict = Outcome("Scheduled etcd backup", decide.NOT_RUN, not_run,
                      [decide.Verdict("snapshot checks", None, 1, decide.NO_DATA, f"no snapshot taken: {not_run}")])
    return BackupReport(None, verdict, {}, [], DRY_RUN_STATUS, not_run)


def etcd_backup(cluster_name: str = "default", *, archive: str = "", keep_last: int = 7, keep_daily: int = 7,
                keep_weekly: int = 4, keep_monthly: int = 6) -> BackupReport:
    """A checked snapshot of local cluster ``cluster_name`` (empty: ``default``) sealed in ``archive``
    (empty: ``$KUBEBOOK_ARCHIVE``), then retention; the verdict is :func:`kubebook.dr.outcome.etcd_backup`."""
    from kubebook.archive import Archive
    from kubebook.dr import snapshots

    backup = snapshots.backup_and_prune(cluster_name or "default", archive=Archive(archive or None),
                                        keep_last=keep_last, keep_daily=keep_daily, keep_weekly=keep_weekly,
                                        keep_monthly=keep_monthly)
    return BackupReport(backup, decide.etcd_backup(backup), dict(backup.get("snapshot") or {}),
                        list(backup.get("snapshots") or []))


def namespace_drill_plan(cluster: Any, namespaces: str, **options: Any) -> Any:
    """Back up ``namespaces``, check the file and plan the restore: :func:`kubebook.dr.nsdrill.backup_and_plan`."""
    from kubebook.dr import nsdrill

    return nsdrill.backup_and_plan(cluster, namespaces, **options)


@dataclass(frozen=True)
class NamespaceDrillReport:
    """Everything the namespace drill shows and records: the engine's verdict only, and what it lists."""

    outcome: Outcome
    backup: dict[str, Any]
    checksums_ok: bool
    restore: Any
    trial_differences: list[dict[str, Any]]
    restore_outcomes: Sequence[Any]
    status: str


def namespace_drill_report(prepared: Any, decision: GuardDecision, *, throughput_target: float,
                           dry_run: bool) -> NamespaceDrillReport:
    """The verdict of :func:`kubebook.dr.nsdrill.outcome` and the rows the runbook draws and records.

    A dry run's headline says what a restore would do; a run that was asked to apply but did not
    (waiting for its button) says the guard's message instead. ``checksums_ok`` is true because the
    backup was read back through :func:`kubebook.dr.bundle.read`, which raises on any checksum mismatch
    before a plan exists.
    """
    from kubebook.dr import nsdrill

    happened = decision.result or None
    verdict = nsdrill.outcome(prepared, happened, throughput_target=throughput_target,
                              not_run="" if dry_run else decision.message)
    export = prepared.export
    backup = {"file": str(export.path), "objects": export.objects, "per_kind": export.per_kind,
              "sealed_secrets": export.sealed_secrets, "seconds": export.seconds, "partial": export.partial}
    restored = (happened or {}).get("restore")
    differences = [d._asdict() for d in ((happened or {}).get("trial") or {}).get("differences") or []]
    return NamespaceDrillReport(verdict, backup, True, restored, differences,
                                list(restored.outcomes) if restored else [],
                                "restored" if restored else DRY_RUN_STATUS)
