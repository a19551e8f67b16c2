"""The namespace drill, one use case: back up, check the file, plan the restore, and decide the verdict.

``runbooks/dr-namespace-drill.ipynb`` calls these and nothing else composes the engine for it:
:func:`backup_and_plan` writes the backup where it is kept (:func:`kubebook.dr.backup.output_path`,
with the key of :func:`kubebook.dr.bundle.key_for_run`, so the archived run names a file that still
exists and can be opened), checks it, and returns the restore's plan (Secret values as keyed hashes)
and the action the mutation guard runs. :func:`outcome` turns what happened into the headline's
:class:`~kubebook.dr.outcome.Outcome`: ``not run`` for a dry run (the backup's checks are still a
verdict), else passed only when no object failed, the trial showed no difference and the throughput
met its target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from kubebook.changes import Change, summary
from kubebook.dr import backup, bundle, restore
from kubebook.dr.outcome import FAILED, MET, MISSED, NO_DATA, NOT_RUN, PASSED, Outcome, Verdict, verdict

TITLE = "Namespace backup and restore drill"


class Prepared(NamedTuple):
    """A drill's backup, its checks, and the restore it would run."""

    export: backup.Export
    checks: dict[str, Any]
    mapping: dict[str, str]
    changes: list[Change]
    run: Callable[[], dict[str, Any]]


def backup_and_plan(cluster: Any, namespaces: str, *, selector: str = "", include_kinds: str = "",
                    exclude_kinds: str = "", backup_dir: str = "", key_file: str = "", target_suffix: str = "-restored",
                    policy: str = "skip", confirm_cluster: str = "", trial: bool = True,
                    with_crds: bool = False) -> Prepared:
    """Back up ``namespaces`` (comma-separated), check the file, and plan its restore into ``<ns><suffix>``."""
    chosen = backup.split(namespaces)
    key, key_source = bundle.key_for_run(key_file or None)
    export = backup.backup(cluster, chosen, backup.output_path(backup_dir, chosen), key=key,
                           label_selector=selector or None, include_kinds=backup.split(include_kinds),
                           exclude_kinds=backup.split(exclude_kinds))
    checked = bundle.read(export.path)
    checks = {"file": str(export.path), "objects": checked.manifest["objects"],
              "objects_sha256": checked.manifest["objects_sha256"], "sealed_secrets": checked.sealed_count,
              "key": f"{bundle.key_id(key)} ({key_source})", "partial": export.partial}
    mapping = restore.suffix_mapping(chosen, target_suffix)
    changes = restore.plan(cluster, export.path, key=key, mapping=mapping, policy=policy, include_crds=with_crds)
    run = restore.action(cluster, export.path, key=key, mapping=mapping, policy=policy,
                         confirm_cluster=confirm_cluster or None, trial_run=trial, include_crds=with_crds)
    return Prepared(export, checks, mapping, changes, run)


def outcome(prepared: Prepared, result: dict[str, Any] | None, *, throughput_target: float,
            not_run: str = "") -> Outcome:
    """The headline's verdict; ``result`` is what the guard's action returned (None: nothing was restored)."""
    export = prepared.export
    where = ", ".join(f"{src} -> {dst}" for src, dst in prepared.mapping.items()) or "in place"
    note = f"backup {export.path} ({export.objects} object(s), {export.sealed_secrets} Secret(s) sealed, " \
           f"key {prepared.checks['key']})"
    checks = Verdict("backup checks", 1, 1, MET, "both SHA-256s match; every line passed its checks")
    if export.partial:
        checks = Verdict("backup checks", 0, 1, MISSED, f"partial backup: {len(export.unreadable)} kind(s) unreadable")
    if result is None or "restore" not in result:
        counts = summary(prepared.changes)
        planned = {k: counts[k] for k in ("create", "change", "unchanged") if counts.get(k)}
        text = not_run or (f"dry run: a restore ({where}) would " + ", ".join(f"{k} {n}" for k, n in planned.items())
                           + "; nothing was changed")
        nothing = Verdict("objects failed", None, 0, NO_DATA, "nothing was restored: " + (not_run or "a dry run"))
        return Outcome(TITLE, NOT_RUN, text, [checks, nothing], planned, note=note)
    restored = result["restore"]
    counts = restored.counts
    differences = len((result.get("trial") or {}).get("differences") or [])
    rate = restored.objects_per_second
    verdicts = [checks, verdict("objects failed", len(restored.failed), 0, "object(s)"),
                verdict("trial differences", differences if "trial" in result else None,
                        0 if "trial" in result else None, "difference(s)"),
                Verdict("objects per second", rate, throughput_target, MET if rate >= throughput_target else MISSED,
                        f"{rate:g}/s {'meets' if rate >= throughput_target else 'is below'} the target of "
                        f"{throughput_target:g}/s")]
    failed = any(v.result == MISSED for v in verdicts) or any(v.result == NO_DATA and v.target is not None
                                                              for v in verdicts)
    lost = [{"kind": o.key.split("/")[0], "namespace": o.key.split("/")[1] if o.key.count("/") == 2 else "",
             "name": o.key.rsplit("/", 1)[-1], "reason": o.reason} for o in restored.failed]
    done = counts.get("created", 0) + counts.get("updated", 0) + counts.get("resumed", 0)
    text = (f"restored {done} object(s) ({where}); {len(restored.failed)} failed, {counts.get('skipped', 0)} "
            f"skipped, {counts.get('left out', 0)} left out; {rate:g}/s")
    shown = {"restored": done, "failed": len(restored.failed), "skipped": counts.get("skipped", 0),
             "left out": counts.get("left out", 0), "trial differences": differences}
    lost_summary = (f"{len(lost)} object(s) failed: " + ", ".join(o.key for o in restored.failed[:3])
                    if lost else "nothing failed")
    return Outcome(TITLE, FAILED if failed else PASSED, text, verdicts, shown, lost, lost_summary, note)
