"""Where an audit reads from: a live cluster, a directory of manifests, or a control plane.

Every engine reads the same :class:`AuditInventory`, so each kind is listed once
per audit. Objects are plain dicts shaped like the API's JSON (the live path
keeps the raw JSON: ``_preload_content=False`` + ``json.loads`` is several times
faster than the client's model deserialization). Two things are dropped on
the way in: ``metadata.managedFields`` (large, never audited) and every Secret
value (``data``/``stringData`` keep their keys with ``None`` values, and the
last-applied annotation, which embeds the values, is removed), so no secret can
reach a finding or a report. Inputs that could not be read are kept in
``unreadable`` and surface as ERROR findings; they never look like a clean source.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubebook.audit import yamlload
from kubebook.errors import ApiError, AuditError, ParameterError

KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Namespace",
         "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "NetworkPolicy",
         "Secret", "Node", "ConfigMap")
WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
LIST_PAGE_SIZE = 500
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_DOC_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)


@dataclass
class AuditInventory:
    """Objects per kind plus where they came from; shared read-only by every engine.

    ``source`` is ``"cluster"``, ``"manifests"`` or ``"control-plane"``; ``cluster`` is
    the connected kubebook Cluster (None for manifests); ``control_plane`` names the
    local control plane for the control-plane source; ``origins`` maps
    ``(kind, namespace, name)`` to ``(file, line)`` for manifests; ``unreadable``
    maps a kind or file to why it could not be read.
    """

    source: str
    by_kind: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cluster: Any = None
    control_plane: str | None = None
    origins: dict[tuple[str, str | None, str], tuple[str, int]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    location: str = ""

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind`` (empty when none, or when the kind was unreadable: see ``unreadable``)."""
        return self.by_kind.get(kind, [])

    def readable(self, kind: str) -> bool:
        return kind not in self.unreadable

    def kinds(self) -> list[str]:
        return sorted(self.by_kind)

    def find(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object with this identity, or None (built lazily; used for waiver label selectors)."""
        index = getattr(self, "_index", None)
        if index is None:
            index = {(k, (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): o
                     for k, items in self.by_kind.items() for o in items}
            object.__setattr__(self, "_index", index)
        return index.get((kind, namespace, name))

    def counts(self) -> dict[str, int]:
        return {kind: len(items) for kind, items in sorted(self.by_kind.items())}

    @classmethod
    def from_objects(cls, objects: Iterable[dict[str, Any]], source: str = "manifests") -> AuditInventory:
        """An inventory from in-memory objects (tests, notebooks); List kinds are flattened."""
        inv = cls(source=source, location="(objects)")
        for obj in objects:
            _add(inv, obj, None)
        return inv

    @classmethod
    def from_cluster(cls, cluster: Any, kinds: Iterable[str] = KINDS, *, workers: int = 4) -> AuditInventory:
        """One paginated raw-JSON list per kind from a connected cluster, kinds listed concurrently."""
        inv = cls(source="cluster", cluster=cluster, location=cluster.server)
        kinds = list(kinds)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = list(pool.map(lambda kind: _list_kind_safely(cluster, kind), kinds))
        for kind, (items, problem) in zip(kinds, results, strict=True):
            if problem:
                inv.unreadable[kind] = problem
            inv.by_kind[kind] = items  # already cleaned page by page
        return inv

    @classmethod
    def from_manifests(cls, directory: str | Path) -> AuditInventory:
        """Every manifest under ``directory`` (or one file): multi-document YAML, JSON, Helm or kustomize output."""
        root = Path(directory).expanduser()
        if not root.exists():
            raise ParameterError(f"manifests path {root} does not exist",
                                 hint="pass a directory (or file) of Kubernetes YAML/JSON manifests")
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES)
        inv = cls(source="manifests", location=str(root))
        for documents in _parse_files(files):
            for origin, obj, problem in documents:
                if problem:
                    inv.unreadable[origin[0] if origin[1] == 0 else f"{origin[0]}:{origin[1]}"] = problem
                else:
                    _add(inv, obj, origin)
        return inv

    @classmethod
    def from_control_plane(cls, name: str | None = None, cluster: Any = None) -> AuditInventory:
        """An inventory for the control-plane engine: it names the local control plane to inspect."""
        from kubebook.localcluster.paths import DEFAULT_NAME, cluster_dir

        name = name or DEFAULT_NAME
        if not cluster_dir(name).is_dir():
            raise ParameterError(f"no local control plane named {name!r} ({cluster_dir(name)} does not exist)",
                                 hint="pass the name of a cluster created with 'kubebook cluster up'")
        return cls(source="control-plane", control_plane=name, cluster=cluster, location=str(cluster_dir(name)))


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_state: list[bool] = []  # whether the collector was enabled when the outermost pause began


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data (nestable, thread-safe).

    Parsing a big list or building a million findings allocates millions of objects
    that all survive; each automatic full collection would rescan all of them, which
    measured as a third to a half of the time at 50,000 pods. Nothing here makes cycles.
    """
    global _gc_depth
    with _gc_lock:
        if _gc_depth == 0:
            was_enabled = gc.isenabled()
            gc.disable()
            _gc_state.append(was_enabled)
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_state.pop():
                gc.enable()


# Collection paths of the audited kinds: the audit lists them without a discovery round trip.
KIND_PATHS = {
    "Pod": "/api/v1/pods", "Namespace": "/api/v1/namespaces", "ServiceAccount": "/api/v1/serviceaccounts",
    "Secret": "/api/v1/secrets", "Node": "/api/v1/nodes", "ConfigMap": "/api/v1/configmaps",
    "Deployment": "/apis/apps/v1/deployments", "StatefulSet": "/apis/apps/v1/statefulsets",
    "DaemonSet": "/apis/apps/v1/daemonsets", "ReplicaSet": "/apis/apps/v1/replicasets",
    "Job": "/apis/batch/v1/jobs", "CronJob": "/apis/batch/v1/cronjobs",
    "Role": "/apis/rbac.authorization.k8s.io/v1/roles",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/networkpolicies",
}


def list_kind_raw(cluster: Any, kind: str, page_size: int = LIST_PAGE_SIZE,
                  clean: bool = False) -> list[dict[str, Any]]:
    """Every object of ``kind`` in the cluster as raw JSON dicts, through ``Cluster.list_path``.

    ``clean`` applies ``_clean`` (drop managedFields and Secret values) page by page,
    inside the listing thread, so it overlaps with waiting for the next page.
    """
    path = KIND_PATHS.get(kind)
    if path is None:
        raise AuditError(f"the audit cannot list kind {kind!r}", hint=f"supported kinds: {', '.join(KINDS)}")
    items: list[dict[str, Any]] = []
    with gc_paused():
        for item in cluster.list_path(path, page_size=page_size):
            item.setdefault("kind", kind)
            items.append(_clean(kind, item) if clean else item)
    return items


def _list_kind_safely(cluster: Any, kind: str) -> tuple[list[dict[str, Any]], str | None]:
    """A kind's objects, or why the server refused to list them (an RBAC gap is a finding, not a crash)."""
    try:
        return list_kind_raw(cluster, kind, clean=True), None
    except ApiError as error:
        return [], f"listing {kind} failed: {error.status} {error.reason or error.message}"


def _clean(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Drop managedFields and every Secret value (keys kept) before anything else sees the object."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    if kind == "Secret":
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = dict.fromkeys(obj[key])
        if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
            meta["annotations"].pop(LAST_APPLIED, None)
    return obj


def _add(inv: AuditInventory, obj: Any, origin: tuple[str, int] | None) -> None:
    where = f"{origin[0]}:{origin[1]}" if origin else "(objects)"
    if obj is None:
        return
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        inv.unreadable[where] = "document is not a Kubernetes object (no string 'kind')"
        return
    kind = obj["kind"]
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            _add(inv, item, origin)
        return
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        inv.unreadable[where] = f"{kind} has no metadata.name"
        return
    if meta.get("namespace") is not None and not isinstance(meta["namespace"], str):
        inv.unreadable[where] = (f"{kind} {meta['name']}: metadata.namespace must be a string, "
                                 f"not {type(meta['namespace']).__name__} {str(meta['namespace'])[:40]}")
        return
    inv.by_kind.setdefault(kind, []).append(_clean(kind, obj))
    if origin:
        inv.origins.setdefault((kind, meta.get("namespace"), meta["name"]), origin)


Parsed = list[tuple[tuple[str, int], Any, str | None]]  # ((file, line or 0), object, problem)


def _parse_files(files: list[Path]) -> list[Parsed]:
    """Parse every file in this process.

    (Forking workers to split PyYAML's parsing over the cores was measured slower
    on a busy 2-core machine: pickling the objects back costs more than it saves.)
    """
    return [_parse_file(path) for path in files]


def _parse_file(path: Path) -> Parsed:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [((str(path), 0), None, f"cannot read file: {error}")]
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as error:
            return [((str(path), 0), None, f"invalid JSON: {error}")]
        except (RecursionError, ValueError) as error:  # nesting beyond the parser's depth, a 5,000-digit integer
            return [((str(path), 0), None, f"invalid JSON: {_unparseable(error)}")]
        if _LONE_SURROGATE.search(text) and not _encodable(obj):
            return [((str(path), 0), None, "invalid JSON: a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), "
                     "which is not Unicode text; the API server would refuse it")]
        return [((str(path), 1), obj, None)]
    parsed: Parsed = []
    for line, doc in _split_documents(text):
        try:
            parsed.append(((str(path), line), yamlload.load(doc), None))  # PyYAML's result, ryaml's speed
        except yamlload.YAMLError as error:
            parsed.append(((str(path), line), None, f"invalid YAML: {str(error).splitlines()[0]}"))
        except (RecursionError, ValueError) as error:  # a 5,000-digit integer, an impossible date
            parsed.append(((str(path), line), None, f"invalid YAML: {_unparseable(error)}"))
    return parsed


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _unparseable(error: BaseException) -> str:
    """What a parser's RecursionError or ValueError means, in one line."""
    if isinstance(error, RecursionError):
        return "nested too deeply to parse (thousands of levels; no Kubernetes object is)"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "integer string conversion" in text:
        return "an integer with more than 4,300 digits (no Kubernetes field holds one)"
    return text


def _encodable(obj: Any) -> bool:
    """True when every string in ``obj`` is valid Unicode (no lone surrogate), so every report can encode it."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):
        return False
    return True


def _split_documents(text: str) -> list[tuple[int, str]]:
    """Documents of a multi-document YAML stream with the 1-based line each starts on."""
    docs: list[tuple[int, str]] = []
    start, line = 0, 1
    for match in _DOC_SEPARATOR.finditer(text):
        docs.append((line, text[start:match.start()]))
        line += text.count("\n", start, match.end()) + 1
        start = match.end() + 1
    docs.append((line, text[start:]))
    return [(n, d) for n, d in docs if d.strip() and not _only_comments(d)]


def _only_comments(doc: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in doc.splitlines())
