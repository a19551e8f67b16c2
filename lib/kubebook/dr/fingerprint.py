"""Fingerprint every object a cluster stores, and compare two fingerprints.

A fingerprint maps ``Kind/namespace/name`` to (uid, resourceVersion, content hash),
over every kind discovery lists. The content hash covers the object without status
and server-set metadata (:func:`kubebook.changes.comparable`), so a controller
updating status is not a difference. Events and Leases churn by design (every
heartbeat) and are left out. The comparison is what a drill reports: what existed
at snapshot time and is missing or changed afterwards, and what was created after.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from kubebook.changes import comparable
from kubebook.errors import ApiError

VOLATILE_KINDS = frozenset({"Event", "Lease", "ComponentStatus"})


class Entry(NamedTuple):
    """One object as fingerprinted."""

    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: int
    content: str

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"

    def ref(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


Fingerprint = dict[str, Entry]


def content_hash(obj: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(comparable(obj), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _entry(obj: dict[str, Any]) -> Entry:
    meta = obj.get("metadata") or {}
    try:
        version = int(meta.get("resourceVersion") or 0)
    except ValueError:
        version = 0
    return Entry(str(obj.get("kind")), meta.get("namespace") or "", meta.get("name") or "", meta.get("uid") or "",
                 version, content_hash(obj))


def listable_kinds(cluster: Any) -> list[tuple[str, str]]:
    """(apiVersion, kind) of every stored kind, once per group and kind (v1 where served)."""
    resources = cluster.resources()
    seen: dict[tuple[str, str], str] = {}
    for (api_version, kind), res in sorted(resources.items()):
        group = api_version.rpartition("/")[0]
        if kind in VOLATILE_KINDS or "list" not in res.verbs:
            continue
        preferred = f"{group}/v1" if group else "v1"
        if (group, kind) not in seen or api_version == preferred:
            seen[(group, kind)] = api_version
    return sorted((v, k) for (_, k), v in seen.items())


def take(cluster: Any, workers: int = 8) -> Fingerprint:
    """Fingerprint every object of every stored kind (kinds listed in parallel)."""

    def one(kind: tuple[str, str]) -> list[Entry]:
        try:
            return [_entry(obj) for obj in cluster.list_objects(*kind)]
        except ApiError as error:
            if error.status in (404, 405):  # served in discovery but not listable (a subresource-only kind)
                return []
            raise

    with ThreadPoolExecutor(max_workers=workers) as pool:
        batches = list(pool.map(one, listable_kinds(cluster)))
    return {entry.key: entry for batch in batches for entry in batch}


def per_kind(fingerprint: Fingerprint) -> dict[str, int]:
    return dict(sorted(Counter(entry.kind for entry in fingerprint.values()).items()))


class Comparison(NamedTuple):
    """Snapshot-time fingerprint against the restored one."""

    expected: int
    restored: int
    lost: list[dict[str, str]]
    created_after_snapshot: list[dict[str, str]]
    changed_after_restore: list[dict[str, str]]
    per_kind: list[dict[str, Any]]


def at_snapshot(before_snapshot: Fingerprint, before_disaster: Fingerprint,
                snapshot_revision: int) -> tuple[Fingerprint, set[str]]:
    """What the snapshot holds, as far as the API shows it, and which of those keys have known content.

    An object whose resourceVersion is at most the snapshot's revision has not been written since:
    the snapshot holds exactly this content. One written later but already there (same uid) before
    the snapshot existed at snapshot time with content we cannot see; only its presence is checked.
    """
    held: Fingerprint = {}
    known: set[str] = set()
    for key, entry in before_disaster.items():
        if entry.resource_version <= snapshot_revision:
            held[key] = entry
            known.add(key)
        elif key in before_snapshot and before_snapshot[key].uid == entry.uid:
            held[key] = entry
    return held, known


def compare(before_snapshot: Fingerprint, before_disaster: Fingerprint, restored: Fingerprint,
            snapshot_revision: int) -> Comparison:
    """What the restore lost, and the RPO: objects created after the snapshot.

    * lost: existed at snapshot time and is missing afterwards, has a different uid, or has
      different content while still carrying a snapshot-time resourceVersion (so the restore
      itself returned it changed);
    * changed after restore: content differs but something wrote the object after the restore
      (its resourceVersion is past the snapshot's): reported, not lost;
    * created after snapshot: present just before the disaster, not held by the snapshot and
      not brought back by the restore.
    """
    held, known = at_snapshot(before_snapshot, before_disaster, snapshot_revision)
    lost, changed = [], []
    for key, entry in held.items():
        now = restored.get(key)
        if now is None or now.uid != entry.uid:
            lost.append({**entry.ref(), "reason": "missing" if now is None else "different uid"})
        elif key in known and now.content != entry.content:
            if now.resource_version <= snapshot_revision:
                lost.append({**entry.ref(), "reason": "content differs"})
            else:
                changed.append(entry.ref())
    created = [entry.ref() for key, entry in sorted(before_disaster.items())
               if key not in held and (key not in restored or restored[key].uid != entry.uid)]
    lost_by_kind = Counter(item["kind"] for item in lost)
    created_by_kind = Counter(item["kind"] for item in created)
    expected_by_kind = Counter(e.kind for e in held.values())
    kinds = sorted(set(expected_by_kind) | set(created_by_kind))
    table = [{"kind": kind, "expected": expected_by_kind[kind], "restored": expected_by_kind[kind] - lost_by_kind[kind],
              "lost": lost_by_kind[kind], "created_after_snapshot": created_by_kind[kind]} for kind in kinds]
    return Comparison(len(held), len(held) - len(lost), sorted(lost, key=_order), sorted(created, key=_order),
                      sorted(changed, key=_order), table)


def _order(ref: dict[str, str]) -> tuple[str, str, str]:
    return ref["kind"], ref["namespace"], ref["name"]
