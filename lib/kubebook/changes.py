"""What a mutation would do to one object, as ``kubectl diff`` shows it: created, changed or unchanged.

Engines that mutate (remediation, provisioning, DR restores, lab resets) compute a
``Change`` per object from the live object and the API server's own server-side
dry-run answer, so the diff a person confirms is the server's, not a guess. The
mutation guard in :mod:`kubebook.notebook` shows these and records the decision.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, NamedTuple

import yaml

# Fields the server sets or bumps on every write: never part of a meaningful diff.
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields",
                 "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")
ACTIONS = ("create", "change", "unchanged", "delete", "refused")


class Change(NamedTuple):
    """One object's planned change: ``action`` is one of ACTIONS; ``diff`` a unified YAML diff."""

    key: str
    action: str
    diff: str
    reason: str = ""


def object_key(obj: dict[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): how objects are named in reports."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{obj.get('kind', '?')}/{namespace + '/' if namespace else ''}{meta.get('name', '?')}"


def comparable(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The object without status and server-set metadata, for diffs and content hashes."""
    if obj is None:
        return None
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def _yaml(obj: dict[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=1000).splitlines(keepends=True)


def diff_objects(before: dict[str, Any] | None, after: dict[str, Any] | None, *, key: str | None = None,
                 reason: str = "") -> Change:
    """The Change from ``before`` (None: absent) to ``after`` (None: deleted), as a unified YAML diff."""
    old, new = comparable(before), comparable(after)
    name = key or object_key(after or before or {})
    if old == new:
        return Change(name, "unchanged", "", reason)
    action = "create" if old is None else "delete" if new is None else "change"
    text = "".join(difflib.unified_diff(_yaml(old), _yaml(new), fromfile=f"live/{name}",
                                        tofile=f"planned/{name}", n=3))
    return Change(name, action, text, reason)


def dry_run_apply(cluster: Any, objects: Iterable[dict[str, Any]], *, field_manager: str) -> list[Change]:
    """The server's own answer, per object, to a server-side apply sent with ``dryRun=All``.

    ``cluster`` is a :class:`kubebook.cluster.Cluster`; nothing is persisted. An object
    the server refuses (admission, validation, a missing namespace) becomes a
    ``refused`` Change carrying the server's message.
    """
    from kubebook.errors import ClusterError

    out = []
    for obj in objects:
        key = object_key(obj)
        meta = obj.get("metadata") or {}
        try:
            before = cluster.get_object(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            after = cluster.apply_object(obj, field_manager=field_manager, dry_run=True)
        except ClusterError as error:
            out.append(refused(key, error.message))
            continue
        out.append(diff_objects(before, after, key=key))
    return out


def refused(key: str, reason: str) -> Change:
    """A change the API server refused in its dry run (the reason is what it said)."""
    return Change(key, "refused", "", reason)


def summary(changes: Iterable[Change]) -> dict[str, int]:
    """Counts per action, every action present (0 when none), for headlines and records."""
    counts = dict.fromkeys(ACTIONS, 0)
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return counts
