"""Export the namespaced resources of chosen namespaces into a backup file (see :mod:`kubebook.dr.bundle`).

What is exported: every listable namespaced kind (label selector and kind
include/exclude applied), the Namespace objects themselves and the CRDs of any
custom resources found. What is left out, with the reason counted in the manifest:
objects a built-in controller recreates from an exported owner (ReplicaSets of a
Deployment, Pods of a ReplicaSet or Job, Jobs of a CronJob, EndpointSlices),
service-account token Secrets, the ``kube-root-ca.crt`` ConfigMap, Events and
Leases. Server-set fields are removed (status, uid, resourceVersion,
managedFields, creationTimestamp, a Service's clusterIPs, a Pod's nodeName, ...).
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from kubebook.changes import comparable, object_key
from kubebook.dr import bundle
from kubebook.dr.fingerprint import listable_kinds
from kubebook.errors import ApiError, ParameterError

# Owners whose built-in controller recreates the owned object from the owner's spec.
REBUILDING_OWNERS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"})
NEVER = frozenset({"Event", "Lease", "EndpointSlice", "Endpoints", "ControllerRevision", "PodMetrics"})
SERVER_ANNOTATION_PREFIXES = ("deployment.kubernetes.io/", "pv.kubernetes.io/", "volume.beta.kubernetes.io/",
                              "volume.kubernetes.io/", "control-plane.alpha.kubernetes.io/")
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a restore should send it: no status, no server-set metadata or spec fields."""
    out = copy.deepcopy(comparable(obj) or {})
    meta = out.setdefault("metadata", {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(SERVER_ANNOTATION_PREFIXES)}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "kubernetes.io/metadata.name"}
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    spec = out.get("spec")
    if isinstance(spec, dict):
        if out.get("kind") == "Service":
            for field in ("clusterIP", "clusterIPs"):
                spec.pop(field, None)
            for port in spec.get("ports") or []:
                if spec.get("type") not in ("NodePort", "LoadBalancer"):
                    port.pop("nodePort", None)
        elif out.get("kind") == "Pod":
            spec.pop("nodeName", None)
        elif out.get("kind") == "PersistentVolumeClaim":
            spec.pop("volumeName", None)
        elif out.get("kind") == "Namespace":
            spec.pop("finalizers", None)
            if not spec:
                out.pop("spec")
    return out


class Export(NamedTuple):
    """What a backup wrote and what it left out (reason -> count); ``partial`` names kinds it could not read."""

    path: Path
    objects: int
    per_kind: dict[str, int]
    sealed_secrets: int
    skipped: dict[str, int]
    seconds: float
    partial: bool = False
    unreadable: tuple[dict[str, str], ...] = ()


def _kind_filter(include: list[str] | None, exclude: list[str] | None) -> Any:
    inc = {k.lower() for k in include or []}
    exc = {k.lower() for k in exclude or []}

    def wanted(kind: str, plural: str) -> bool:
        names = {kind.lower(), plural.lower()}
        return (not inc or bool(names & inc)) and not names & exc

    return wanted


class Unreadable(NamedTuple):
    """A kind this account may not list in a namespace (the API server's answer kept)."""

    kind: str
    plural: str
    namespace: str
    reason: str


def collect(cluster: Any, namespaces: list[str], *, label_selector: str | None = None,
            include_kinds: list[str] | None = None, exclude_kinds: list[str] | None = None,
            partial: bool = False) -> tuple[list[dict[str, Any]], Counter[str], list[Unreadable]]:
    """The objects to back up (stripped, Secrets not yet sealed), the skip reasons counted, the unreadable kinds.

    Every kind is listed before anything is decided, so an account that may not list some kinds
    hears about all of them at once; without ``partial`` that is a ParameterError naming them and
    the two ways on (exclude them, or a backup that says it is partial).
    """
    if not namespaces:
        raise ParameterError("choose at least one namespace to back up", hint="e.g. --namespace shop")
    missing = [ns for ns in namespaces if cluster.get_object("v1", "Namespace", ns) is None]
    if missing:
        raise ParameterError(f"namespace(s) not found: {', '.join(missing)}")
    wanted = _kind_filter(include_kinds, exclude_kinds)
    cluster.forget_resources()  # CRDs come and go: back up what the server serves now
    resources = cluster.resources()
    kinds = [(v, k) for v, k in listable_kinds(cluster)
             if resources[(v, k)].namespaced and k not in NEVER and wanted(k, resources[(v, k)].plural)]
    unreadable: list[Unreadable] = []

    def listed(job: tuple[str, str, str]) -> list[dict[str, Any]]:
        namespace, api_version, kind = job
        try:
            return list(cluster.list_objects(api_version, kind, namespace, label_selector=label_selector))
        except ApiError as error:
            if error.status in (404, 405):  # a kind removed since discovery has nothing to back up
                return []
            if error.status in (401, 403):
                unreadable.append(Unreadable(kind, resources[(api_version, kind)].plural, namespace,
                                             f"{error.status} {error.reason or 'Forbidden'}"))
                return []
            raise

    raw: list[dict[str, Any]] = [cluster.get_object("v1", "Namespace", ns) for ns in namespaces]
    with ThreadPoolExecutor(max_workers=8) as pool:  # one list per kind: in parallel, it is latency-bound
        for batch in pool.map(listed, [(ns, v, k) for ns in namespaces for v, k in kinds]):
            raw.extend(batch)
    unreadable.sort()
    if unreadable and not partial:
        plurals = sorted({u.plural for u in unreadable})
        raise ParameterError(
            f"this account may not list {len(plurals)} kind(s) in {', '.join(namespaces)}: {', '.join(plurals)}",
            hint="leave them out with " + " ".join(f"--exclude-kind {p}" for p in plurals)
                 + ", or take an explicitly partial backup with --partial (its manifest names them); nothing was "
                   "written")
    uids = {(o.get("metadata") or {}).get("uid") for o in raw}
    skipped: Counter[str] = Counter()
    kept: list[dict[str, Any]] = []
    crds: dict[str, dict[str, Any]] = {}
    for obj in raw:
        reason = _skip_reason(obj, uids)
        if reason:
            skipped[reason] += 1
            continue
        kept.append(strip(obj))
        group = obj["apiVersion"].rpartition("/")[0]
        if "." in group and not group.endswith(".k8s.io") and obj["kind"] != "Namespace":
            plural = resources[(obj["apiVersion"], obj["kind"])].plural
            crd = cluster.get_object(*CRD, f"{plural}.{group}")
            if crd is not None:
                crds[crd["metadata"]["name"]] = strip(crd)
    return list(crds.values()) + kept, skipped, unreadable


def _skip_reason(obj: dict[str, Any], exported_uids: set[Any]) -> str:
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") in REBUILDING_OWNERS and ref.get("uid") in exported_uids:
            return f"{obj['kind']} recreated by its {ref['kind']}"
    if obj.get("kind") == "Secret" and obj.get("type") == "kubernetes.io/service-account-token":
        return "service-account token Secret (issued again by the token controller)"
    if obj.get("kind") == "ConfigMap" and meta.get("name") == "kube-root-ca.crt":
        return "kube-root-ca.crt (published in every namespace by the controller-manager)"
    if (obj.get("kind") == "Service" and meta.get("name") == "kubernetes" and meta.get("namespace") == "default"
            and (meta.get("labels") or {}).get("provider") == "kubernetes"):
        return "the API server's own kubernetes Service (kube-apiserver maintains it)"
    return ""


def backup(cluster: Any, namespaces: list[str], out: Path | str, *, key: bytes | None = None,
           label_selector: str | None = None, include_kinds: list[str] | None = None,
           exclude_kinds: list[str] | None = None, partial: bool = False) -> Export:
    """Write a backup of ``namespaces`` to ``out`` (plus ``out.sha256``); Secrets need ``key``.

    ``partial``: back up what this account may read; the kinds it may not list are recorded in
    the manifest (``partial``, ``unreadable``) and in the result, so nobody takes it for complete.
    """
    started = time.monotonic()
    out = Path(out)
    if not out.parent.is_dir():
        raise ParameterError(f"folder {out.parent} does not exist")
    objects, skipped, unreadable = collect(cluster, namespaces, label_selector=label_selector,
                                           include_kinds=include_kinds, exclude_kinds=exclude_kinds,
                                           partial=partial)
    missing = [u._asdict() for u in unreadable]
    secrets = [o for o in objects if o.get("kind") == "Secret"]
    if secrets and key is None:
        raise ParameterError(f"{len(secrets)} Secret(s) selected and no key to seal them with",
                             hint=f"pass --key-file, set ${bundle.KEY_ENV}, or --exclude-kind Secret")
    sealed = [bundle.seal_secret(o, key) if o.get("kind") == "Secret" and key is not None else o for o in objects]
    per_kind = dict(sorted(Counter(o["kind"] for o in sealed).items()))
    manifest = {"created": datetime.now(UTC).isoformat(), "server": cluster.server,
                "cluster_fingerprint": cluster.fingerprint(), "namespaces": namespaces,
                "label_selector": label_selector, "include_kinds": include_kinds or [],
                "exclude_kinds": exclude_kinds or [], "per_kind": per_kind, "skipped": dict(skipped),
                "key_id": bundle.key_id(key) if key is not None else None, "sealed_secrets": len(secrets),
                "keys": [object_key(o) for o in sealed], "partial": bool(missing), "unreadable": missing}
    bundle.write(out, manifest, sealed)
    return Export(out, len(sealed), per_kind, len(secrets), dict(skipped), round(time.monotonic() - started, 3),
                  bool(missing), tuple(missing))


def default_folder() -> Path:
    """Where backups are kept when no folder is named: ``<data dir>/dr/namespace-backups`` (0700), never a temp dir.

    A run archived with a path to its backup must point at a file that still exists.
    """
    from kubebook.localcluster.paths import data_dir

    folder = data_dir() / "dr" / "namespace-backups"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def output_path(folder: str | Path, namespaces: list[str]) -> Path:
    """``<folder>/<first namespace>-<UTC time>.tar.gz``; an empty folder means :func:`default_folder`."""
    base = Path(folder) if folder else default_folder()
    if not base.is_dir():
        raise ParameterError(f"backup folder {base} does not exist")
    return base / f"{(namespaces or ['backup'])[0]}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def split(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (comma-separated runbook parameters)."""
    return [part.strip() for part in text.split(",") if part.strip()]
