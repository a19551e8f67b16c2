"""Restore a namespace backup: in dependency order, mapped, resumable, with a reason per failure.

Order (Velero's users' first complaint is restores in the wrong order): CRDs, waited
for until Established; Namespaces; quotas, limits, service accounts and RBAC;
Secrets and ConfigMaps; PVCs; Services; Ingresses; workloads; the rest (custom
resources, policies); last, objects with owner references, whose owner uids are
re-linked to the restored owners. Objects within one step go in parallel.

Before anything changes, the backup is confined (:mod:`kubebook.dr.scope`): only
namespaced objects in the namespaces it declares, after mapping, none in a system
namespace unless named, CRDs only when asked. Every finished object is appended to
a journal beside the backup (:mod:`kubebook.dr.nsjournal`: intent first, a lock,
trusted only when it matches the backup and the cluster), so a restore killed midway
and run again picks up where it stopped. An existing object is skipped or updated
(server-side apply) as the policy says; a CRD is never updated; a failure keeps the
API server's reason and the restore goes on. Plans and trial diffs show a Secret's
keys with keyed hashes of its values, never the values.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from kubebook.changes import Change, diff_objects, object_key
from kubebook.dr import bundle, nsjournal, scope
from kubebook.dr.backup import CRD, strip
from kubebook.dr.secretview import shown
from kubebook.errors import ApiError, ClusterError, ParameterError

POLICIES = ("skip", "update")
FIELD_MANAGER = "kubebook-dr-restore"
STEPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("crds", frozenset({"CustomResourceDefinition"})),
    ("namespaces", frozenset({"Namespace"})),
    ("accounts", frozenset({"ResourceQuota", "LimitRange", "ServiceAccount", "Role", "RoleBinding"})),
    ("config", frozenset({"Secret", "ConfigMap"})),
    ("storage", frozenset({"PersistentVolumeClaim"})),
    ("services", frozenset({"Service"})),
    ("ingresses", frozenset({"Ingress"})),
    ("workloads", frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"})),
)


class Outcome(NamedTuple):
    """One object's result: created, updated, skipped, failed, left out, or resumed (done by an earlier run)."""

    key: str
    action: str
    reason: str = ""
    uid: str = ""


class RestoreResult(NamedTuple):
    outcomes: list[Outcome]
    seconds: float
    journal: Path
    journal_note: str = ""  # what was found in an existing journal (resumed, or set aside and why)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(o.action for o in self.outcomes))

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "failed"]

    @property
    def objects_per_second(self) -> float:
        return round(len(self.outcomes) / self.seconds, 1) if self.seconds else 0.0


def parse_mapping(pairs: list[str] | dict[str, str] | None) -> dict[str, str]:
    """``["src=dst", ...]`` (or a dict) into a namespace mapping; bad pairs are one ParameterError."""
    if isinstance(pairs, dict):
        return dict(pairs)
    mapping, bad = {}, []
    for pair in pairs or []:
        src, sep, dst = pair.partition("=")
        if not sep or not src.strip() or not dst.strip():
            bad.append(f"{pair!r} is not SOURCE=TARGET")
        else:
            mapping[src.strip()] = dst.strip()
    if bad:
        raise ParameterError("invalid namespace mapping", problems=bad, hint="e.g. --map shop=shop-restored")
    return mapping


def step_of(obj: dict[str, Any]) -> int:
    """Index of the restore step an object belongs to (owned objects after everything else)."""
    if (obj.get("metadata") or {}).get("ownerReferences"):
        return len(STEPS) + 1
    for index, (_, kinds) in enumerate(STEPS):
        if obj.get("kind") in kinds:
            return index
    return len(STEPS)


def remap(obj: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """The object moved to its target namespace (and RoleBinding subjects that named the source)."""
    out = json.loads(json.dumps(obj))
    meta = out.setdefault("metadata", {})
    if out.get("kind") == "Namespace":
        meta["name"] = mapping.get(meta["name"], meta["name"])
    elif meta.get("namespace"):
        meta["namespace"] = mapping.get(meta["namespace"], meta["namespace"])
    for subject in out.get("subjects") or []:
        if subject.get("namespace") in mapping:
            subject["namespace"] = mapping[subject["namespace"]]
    return out


def journal_path(backup: Path, server: str, mapping: dict[str, str]) -> Path:
    tag = hashlib.sha256(json.dumps([server, sorted(mapping.items())]).encode()).hexdigest()[:10]
    return backup.with_name(f"{backup.name}.restore-{tag}.journal")


def _relink(cluster: Any, obj: dict[str, Any], uids: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Owner references pointed at the restored owners' uids; a missing owner's reference is dropped."""
    meta = obj["metadata"]
    kept, note = [], ""
    for ref in meta.get("ownerReferences") or []:
        key = f"{ref['kind']}/{meta.get('namespace')}/{ref['name']}"
        if key not in uids:
            owner = cluster.get_object(ref["apiVersion"], ref["kind"], ref["name"], meta.get("namespace"))
            if owner is not None:
                uids[key] = owner["metadata"]["uid"]
        if key in uids:
            kept.append({**ref, "uid": uids[key]})
        else:
            note = f"owner {key} not found; restored without that owner reference"
    if kept:
        meta["ownerReferences"] = kept
    else:
        meta.pop("ownerReferences", None)
    return obj, note


def _one(cluster: Any, obj: dict[str, Any], policy: str, uids: dict[str, str]) -> Outcome:
    key = object_key(obj)
    note = ""
    try:
        if obj["metadata"].get("ownerReferences"):
            obj, note = _relink(cluster, obj, uids)
        try:
            created = cluster.create_object(obj)
            action = "created"
        except ApiError as error:
            if error.status != 409:
                raise
            if obj.get("kind") == CRD[1]:
                return Outcome(key, "skipped", "exists; a restore never changes a CRD (the whole cluster shares it)")
            if policy == "skip":
                return Outcome(key, "skipped", "exists (policy skip)")
            created = cluster.apply_object(obj, field_manager=FIELD_MANAGER)
            action = "updated"
        uids[key] = (created.get("metadata") or {}).get("uid", "")
        return Outcome(key, action, note, uids[key])
    except (ClusterError, ParameterError) as error:
        return Outcome(key, "failed", error.message)


def _wait_established(cluster: Any, names: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending and time.monotonic() < deadline:
        pending = [n for n in pending if not _established(cluster.get_object(*CRD, n))]
        if pending:
            time.sleep(0.2)
    cluster.forget_resources()


def _established(crd: dict[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


class Prepared(NamedTuple):
    """A backup checked, confined and mapped: what a restore, plan or trial sends, and what it leaves out."""

    data: bundle.Bundle
    mapping: dict[str, str]  # as given (names the journal)
    targets: dict[str, str]  # every declared namespace -> where it goes
    objects: list[dict[str, Any]]
    left_out: list[tuple[str, str]]


def prepare(cluster: Any, backup: Path | str, *, key: bytes | None, mapping: list[str] | dict[str, str] | None,
            policy: str = "skip", include_crds: bool = False, allow_system: Iterable[str] = (),
            max_bytes: int = bundle.MAX_OBJECTS_BYTES) -> Prepared:
    """Every check a restore makes before it changes anything; ParameterError (exit 2) on the first that fails."""
    if policy not in POLICIES:
        raise ParameterError(f"policy {policy!r} is not one of {list(POLICIES)}")
    names = parse_mapping(mapping)
    data = bundle.read(backup, max_bytes=max_bytes)
    declared = list(data.manifest["namespaces"])
    targets = scope.check_mapping(declared, names, allow_system)
    confined = scope.confine(cluster, data.opened(key), declared, include_crds=include_crds, name=data.path.name)
    return Prepared(data, names, targets, [remap(o, targets) for o in confined.objects], confined.left_out)


def restore(cluster: Any, backup: Path | str, *, key: bytes | None = None,
            mapping: list[str] | dict[str, str] | None = None, policy: str = "skip", workers: int = 8,
            journal: Path | None = None, on_outcome: Callable[[Outcome], None] | None = None,
            include_crds: bool = False, allow_system: Iterable[str] = (),
            max_bytes: int = bundle.MAX_OBJECTS_BYTES) -> RestoreResult:
    """Restore a backup into ``cluster``; every check (checksums, key, policy, mapping, scope) runs first."""
    prep = prepare(cluster, backup, key=key, mapping=mapping, policy=policy, include_crds=include_crds,
                   allow_system=allow_system, max_bytes=max_bytes)
    # More threads than the client keeps connections makes urllib3 drop and re-handshake (mTLS) connections.
    pool_size = max(1, min(workers, int(getattr(cluster.api_client.configuration, "connection_pool_maxsize", 0)
                                        or workers)))
    started = time.monotonic()
    intent = {"backup": prep.data.path.name, "backup_sha256": prep.data.sha256, "cluster": _identity(cluster),
              "server": cluster.server, "mapping": prep.targets, "policy": policy, "objects": len(prep.objects),
              "crds": include_crds}
    log = nsjournal.Journal(journal or journal_path(prep.data.path, cluster.server, prep.mapping), intent)
    outcomes = [Outcome(k, "left out", why) for k, why in prep.left_out]
    uids: dict[str, str] = {}
    try:
        done = _still_there(cluster, prep.objects, log.done)
        by_step: dict[int, list[dict[str, Any]]] = {}
        for obj in prep.objects:
            by_step.setdefault(step_of(obj), []).append(obj)
        for step in sorted(by_step):
            batch = by_step[step]
            todo = [o for o in batch if object_key(o) not in done]
            for o in batch:
                if object_key(o) in done:
                    entry = done[object_key(o)]
                    uids[object_key(o)] = entry["uid"]
                    outcomes.append(Outcome(object_key(o), "resumed", f"{entry['action']} by an earlier run "
                                            "(checked: still there)", entry["uid"]))
            if step == len(STEPS) + 1:  # owned objects: shallow owners first, one at a time per depth
                todo.sort(key=lambda o: len(o["metadata"].get("ownerReferences") or []))
            with ThreadPoolExecutor(max_workers=pool_size) as pool:
                for outcome in pool.map(lambda o: _one(cluster, o, policy, uids), todo):
                    outcomes.append(outcome)
                    if outcome.action != "failed":
                        log.add(outcome.key, outcome.action, outcome.uid)
                    if on_outcome is not None:
                        on_outcome(outcome)
            if step == 0:
                _wait_established(cluster, [o["metadata"]["name"] for o in batch])
    finally:
        log.close()
    return RestoreResult(outcomes, round(time.monotonic() - started, 3), log.path, log.note)


def _identity(cluster: Any) -> str:
    """The cluster's fingerprint (server + kube-system uid); the server alone for an account that may not read it."""
    try:
        return str(cluster.fingerprint())
    except ClusterError:
        return f"server {cluster.server}"


def _still_there(cluster: Any, objects: list[dict[str, Any]],
                 journaled: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The journaled entries whose object the cluster still holds (same uid when one was journaled).

    One list per kind and namespace: a journal left from a restore whose namespace was deleted since,
    or written by hand, resumes nothing.
    """
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for obj in objects:
        if object_key(obj) in journaled:
            meta = obj["metadata"]
            groups.setdefault((obj["apiVersion"], obj["kind"], meta.get("namespace") or ""), []).append(obj)
    trusted: dict[str, dict[str, str]] = {}
    for (api_version, kind, namespace), batch in groups.items():
        try:
            live = {o["metadata"]["name"]: o["metadata"].get("uid", "")
                    for o in cluster.list_objects(api_version, kind, namespace or None)}
        except (ClusterError, ParameterError):  # the kind is not served (yet): nothing of it is done
            continue
        for obj in batch:
            entry = journaled[object_key(obj)]
            uid = live.get(obj["metadata"]["name"])
            if uid is not None and (not entry["uid"] or entry["uid"] == uid):
                trusted[object_key(obj)] = entry
    return trusted


def plan(cluster: Any, backup: Path | str, *, key: bytes | None = None,
         mapping: list[str] | dict[str, str] | None = None, policy: str = "skip", include_crds: bool = False,
         allow_system: Iterable[str] = (), max_bytes: int = bundle.MAX_OBJECTS_BYTES) -> list[Change]:
    """What a restore would do, object by object, without changing anything (for the mutation guard).

    The same checks as :func:`restore` run first, so a dry run refuses what the restore would refuse.
    A Secret's values appear as keyed hashes (:func:`shown`), never in clear or base64.
    """
    prep = prepare(cluster, backup, key=key, mapping=mapping, policy=policy, include_crds=include_crds,
                   allow_system=allow_system, max_bytes=max_bytes)
    out = [Change(k, "unchanged", "", f"left out: {why}") for k, why in prep.left_out]
    for obj in sorted(prep.objects, key=step_of):
        meta = obj["metadata"]
        try:
            live = cluster.get_object(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        except ParameterError:  # the CRD is not installed yet: the restore creates it first
            live = None
        if live is None:
            out.append(diff_objects(None, shown(obj), key=object_key(obj)))
        elif obj["kind"] == CRD[1]:
            out.append(Change(object_key(obj), "unchanged", "", "exists; a restore never changes a CRD"))
        elif policy == "skip":
            out.append(Change(object_key(obj), "unchanged", "", "exists; policy skip leaves it"))
        else:
            out.append(diff_objects(shown(strip(live)), shown(obj), key=object_key(obj)))
    return out


def trial(cluster: Any, backup: Path | str, *, key: bytes | None = None, suffix: str = "trial",
          keep: bool = False, max_bytes: int = bundle.MAX_OBJECTS_BYTES) -> tuple[RestoreResult, list[Change]]:
    """Restore into scratch namespaces (``<ns>-<suffix>``), diff each object against the backup, clean up.

    The trial touches nothing but its scratch namespaces: every object must belong to a declared
    namespace (all of which are mapped to scratch ones), CRDs are never created by a trial, and a
    scratch namespace that already exists is refused rather than reused.
    """
    data = bundle.read(backup, max_bytes=max_bytes)
    names = {ns: f"{ns}-{suffix}"[:63] for ns in data.manifest["namespaces"]}
    prep = prepare(cluster, data.path, key=key, mapping=names, allow_system=names.values(), max_bytes=max_bytes)
    existing = [dst for dst in names.values() if cluster.get_object("v1", "Namespace", dst) is not None]
    if existing:
        raise ParameterError(f"scratch namespace(s) already exist: {', '.join(existing)}",
                             hint="delete them or choose another suffix")
    journal = data.path.with_name(f"{data.path.name}.trial-{suffix}.journal")
    journal.unlink(missing_ok=True)
    try:
        result = restore(cluster, data.path, key=key, mapping=names, policy="skip", journal=journal,
                         allow_system=names.values(), max_bytes=max_bytes)
        diffs = []
        for obj in prep.objects:
            meta = obj["metadata"]
            live = cluster.get_object(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            diffs.append(diff_objects(shown(_normalise(obj)), shown(_normalise(strip(live))) if live else None,
                                      key=object_key(obj)))
    finally:
        journal.unlink(missing_ok=True)
        journal.with_name(journal.name + ".lock").unlink(missing_ok=True)
        if not keep:
            for dst in names.values():
                cluster.delete_object("v1", "Namespace", dst)
    return result, diffs


def _normalise(obj: dict[str, Any]) -> dict[str, Any]:
    """Owner uids differ by design after a restore: compare owners by kind and name only."""
    out = json.loads(json.dumps(obj))
    for ref in (out.get("metadata") or {}).get("ownerReferences") or []:
        ref.pop("uid", None)
    return out


def action(cluster: Any, backup: Path | str, *, key: bytes | None, mapping: dict[str, str], policy: str = "skip",
           confirm_cluster: str | None = None, trial_run: bool = True, include_crds: bool = False,
           allow_system: Iterable[str] = ()) -> Callable[[], dict[str, Any]]:
    """What the mutation guard calls: refuse a foreign cluster, optionally trial-restore, then restore."""
    from kubebook.dr import safety

    def run() -> dict[str, Any]:
        target = safety.require_local_or_confirmed(cluster, confirm_cluster, "restore")
        out: dict[str, Any] = {"target": target}
        if trial_run:
            trial_result, diffs = trial(cluster, backup, key=key)
            out["trial"] = {"counts": trial_result.counts, "differences": [d for d in diffs if d.action != "unchanged"]}
        out["restore"] = restore(cluster, backup, key=key, mapping=mapping, policy=policy, include_crds=include_crds,
                                 allow_system=allow_system)
        return out

    return run


def suffix_mapping(namespaces: list[str], suffix: str) -> dict[str, str]:
    """Each namespace to ``<namespace><suffix>`` (empty suffix: restore in place)."""
    return {ns: f"{ns}{suffix}"[:63] for ns in namespaces} if suffix else {}
