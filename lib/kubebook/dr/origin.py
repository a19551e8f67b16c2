"""Which cluster a snapshot was taken from, and the rule that it restores only into that one.

Restoring cluster A's snapshot into cluster B replaces every object of B with A's, and B's API server
cannot decrypt A's Secrets (each local cluster seals Secrets with its own key). So a snapshot records
its cluster's name and identity (fingerprints of the cluster CA and of the Secrets key, never the key)
when it is taken, and a restore into any other cluster - another name, or a cluster re-created under
the same name - is refused before anything changes, unless ``--replace-with-snapshot-of NAME`` names
the cluster the snapshot came from. The refusal and the override both say what will be lost.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from kubebook import yamlload
from kubebook.archive import Archive
from kubebook.errors import ParameterError

OVERRIDE = "--replace-with-snapshot-of"


def identity(root: Path) -> dict[str, str]:
    """Fingerprints that tell two local clusters apart even when they share a name (empty when unreadable)."""
    out: dict[str, str] = {}
    ca = root / "pki" / "ca.crt"
    if ca.is_file():
        out["ca_sha256"] = hashlib.sha256(ca.read_bytes()).hexdigest()[:16]
    keys = _secret_keys(root / "config" / "encryption.yaml")
    if keys:
        out["secrets_key_sha256"] = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return out


def _secret_keys(path: Path) -> list[str]:
    try:
        config = yamlload.load_file(path, f"encryption config {path}") or {}
    except ParameterError:  # unreadable, not YAML or beyond a bound: no key fingerprint
        return []
    keys = []
    for resource in config.get("resources") or []:
        for provider in resource.get("providers") or []:
            for settings in (provider or {}).values():
                keys += [str(k.get("secret", "")) for k in (settings or {}).get("keys") or [] if isinstance(k, dict)]
    return keys


def recorded(snapshot: Any, archive: Archive) -> tuple[str, dict[str, str]]:
    """The cluster a snapshot says it came from, and its identity; a loose file is looked up by SHA-256."""
    if snapshot.run_id:
        return snapshot.cluster, dict(getattr(snapshot, "origin", {}) or {})
    from kubebook.dr import etcd, snapshots

    digest = etcd.sha256_file(snapshot.path)
    for known in snapshots.list_snapshots(archive):
        if known.sha256 == digest:
            return known.cluster, dict(known.origin or {})
    return "", {}


def check(snapshot: Any, name: str, root: Path, *, replace_with_snapshot_of: str | None,
          archive: Archive) -> dict[str, Any] | None:
    """None when ``snapshot`` belongs to cluster ``name`` (folder ``root``); the crossing, when the override
    names the snapshot's cluster; otherwise a ParameterError saying what a restore would lose."""
    source, recorded_identity = recorded(snapshot, archive)
    here = identity(root)
    ref = snapshot.run_id or str(snapshot.path)
    if not source:
        if replace_with_snapshot_of:
            return None if replace_with_snapshot_of == name else _crossing(replace_with_snapshot_of, name, {}, here)
        raise ParameterError(f"snapshot {ref} has no record of the cluster it was taken from, so it may not be "
                             f"from {name!r}: restoring it replaces every object of {name!r}",
                             hint=f"restore an archived snapshot ('kubebook dr snapshot --list --name {name}'), or "
                                  f"name the cluster it came from with {OVERRIDE} NAME")
    same_ca = not recorded_identity.get("ca_sha256") or not here.get("ca_sha256") or \
        recorded_identity["ca_sha256"] == here["ca_sha256"]
    if source == name and same_ca:
        return None
    if replace_with_snapshot_of == source:
        return _crossing(source, name, recorded_identity, here)
    crossing = _crossing(source, name, recorded_identity, here)
    where = (f"taken from cluster {source!r}, not {name!r}" if source != name else
             f"taken from an earlier cluster named {name!r} (its CA differs: the cluster was re-created since)")
    raise ParameterError(f"snapshot {ref} was {where}; restoring it would lose {crossing['lost']}; nothing was "
                         "changed", hint=f"to do that anyway, add {OVERRIDE} {source}")


def _crossing(source: str, name: str, recorded_identity: dict[str, str], here: dict[str, str]) -> dict[str, Any]:
    """What a restore of ``source``'s snapshot into ``name`` loses, in words and as data."""
    theirs, ours = recorded_identity.get("secrets_key_sha256"), here.get("secrets_key_sha256")
    if theirs and ours and theirs == ours:
        secrets = "while Secrets stay readable (both clusters have the same Secrets key)"
    elif theirs and ours:
        secrets = (f"and the Secrets of {source!r} cannot be decrypted by the API server of {name!r} "
                   "(another Secrets key)")
    else:
        secrets = f"and the Secrets of {source!r} may not be decryptable by the API server of {name!r} (key unknown)"
    lost = f"every object of {name!r} (replaced by the objects of {source!r}) {secrets}"
    return {"from": source, "into": name, "lost": lost,
            "secrets_readable": bool(theirs and ours and theirs == ours)}
