"""What a namespace restore may create: only namespaced objects, only in the namespaces the backup declares.

A backup's checksums prove only that the file is the one its writer made, and anyone
can be its writer. So before a restore (or its dry run, or its trial) changes anything,
every object is held against these rules, and a backup that breaks one is refused whole
(one line naming the objects, exit 2):

* a namespaced kind, in a namespace the manifest declares (its target after ``--map``);
  a Namespace object only for a declared namespace. Anything cluster-scoped
  (ClusterRoleBinding, webhook configurations, PersistentVolumes ...) is refused;
* no target in a system namespace (``kube-system``, ``kube-public``, ``kube-node-lease``,
  any ``kube-*``) unless named with ``--allow-system-namespace NS``;
* a CustomResourceDefinition only with ``--with-crds`` (otherwise it is left out and
  said so), only Namespaced, only for a kind the backup's own objects use, never in a
  built-in API group (a CRD ``networkpolicies.networking.k8s.io`` would shadow the real
  NetworkPolicy API), and only created, never updated: a CRD is shared by the whole cluster.

The API server's own ``kubernetes`` Service in ``default`` is left out too: kube-apiserver
maintains it, and a copy elsewhere is only confusing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from kubebook.changes import object_key
from kubebook.errors import ApiError, ClusterError, ParameterError

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
CRD_API = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
# Upstream's built-in groups, whether or not this server enables them now (a CRD may never claim one).
BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "extensions", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "apiregistration.k8s.io", "apiserverinternal.k8s.io", "authentication.k8s.io",
    "authorization.k8s.io", "certificates.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io",
    "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
    "storagemigration.k8s.io", "metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"})
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
SHOWN = 5  # offending objects named in the one-line refusal; the rest are counted


class Scope(NamedTuple):
    """The objects a restore will send, and those it leaves out on purpose (key, reason)."""

    objects: list[dict[str, Any]]
    left_out: list[tuple[str, str]]


def is_system(namespace: str) -> bool:
    return namespace in SYSTEM_NAMESPACES or namespace.startswith("kube-")


def check_mapping(declared: list[str], mapping: dict[str, str], allow_system: Iterable[str] = ()) -> dict[str, str]:
    """Every declared namespace's target; refuses unknown sources, merged targets and unflagged system targets."""
    from kubebook.dr.validate import NAMESPACE_NAME

    problems = [f"--map source {src!r} is not a namespace of this backup (it declares {', '.join(declared)})"
                for src in mapping if src not in declared]
    problems += [f"--map target {dst!r} is not a namespace name" for dst in mapping.values()
                 if not NAMESPACE_NAME.match(dst)]
    targets = {ns: mapping.get(ns, ns) for ns in declared}
    seen: dict[str, str] = {}
    for src, dst in targets.items():
        if dst in seen:
            problems.append(f"{seen[dst]} and {src} would both be restored into {dst}")
        seen[dst] = src
    allowed = set(allow_system)
    system = [dst for dst in targets.values() if is_system(dst) and dst not in allowed]
    if system:
        problems.append(f"target namespace(s) {', '.join(sorted(system))} are system namespaces")
    if problems:
        hint = (f"name a system namespace explicitly with --allow-system-namespace {sorted(system)[0]}"
                if system and len(problems) == 1 else "e.g. --map shop=shop-restored; nothing was changed")
        raise ParameterError("refusing the namespace mapping: " + "; ".join(problems), hint=hint)
    return targets


def confine(cluster: Any, objects: list[dict[str, Any]], declared: list[str], *, include_crds: bool,
            name: str) -> Scope:
    """The objects a restore may create, or one ParameterError naming every object that breaks the rules."""
    served = cluster.resources()
    crds = [o for o in objects if (o.get("apiVersion"), o.get("kind")) == CRD_API]
    crd_ids = {id(c) for c in crds}
    defined = {(_crd_group(c), str(((c.get("spec") or {}).get("names") or {}).get("kind"))): c for c in crds}
    used = {(o["apiVersion"].rpartition("/")[0], o["kind"]) for o in objects if id(o) not in crd_ids}
    bad: list[str] = []
    left_out: list[tuple[str, str]] = []
    builtin = _builtin_groups(cluster, served) if crds else frozenset()
    kept = []
    for obj in objects:
        key = object_key(obj)
        if id(obj) in crd_ids:
            problem = _crd_problem(obj, builtin, used)
            if problem:
                bad.append(f"{key} ({problem})")
            elif include_crds:
                kept.append(obj)
            else:
                left_out.append((key, "CRD not restored (pass --with-crds to create it where it is missing)"))
            continue
        problem = _object_problem(obj, served, defined, declared, include_crds)
        if problem:
            bad.append(f"{key} ({problem})")
        elif _is_apiserver_service(obj):
            left_out.append((key, "the API server's own Service (kube-apiserver maintains it)"))
        else:
            kept.append(obj)
    if bad:
        shown = "; ".join(bad[:SHOWN]) + (f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else "")
        raise ParameterError(f"backup {name} holds {len(bad)} object(s) a namespace restore never creates: {shown}",
                             hint="a namespace restore creates only namespaced objects in the namespaces the backup "
                                  "declares; nothing was changed")
    return Scope(kept, left_out)


def _object_problem(obj: dict[str, Any], served: dict[tuple[str, str], Any],
                    defined: dict[tuple[str, str], dict[str, Any]], declared: list[str], include_crds: bool) -> str:
    meta = obj["metadata"]
    if (obj["apiVersion"], obj["kind"]) == ("v1", "Namespace"):
        return "" if meta["name"] in declared else "a namespace the backup does not declare"
    resource = served.get((obj["apiVersion"], obj["kind"]))
    group = obj["apiVersion"].rpartition("/")[0]
    if resource is not None:
        namespaced = bool(resource.namespaced)
    elif (group, obj["kind"]) in defined:
        if not include_crds:
            return "its kind is not served here and its CRD is in the backup: pass --with-crds"
        namespaced = True  # a CRD in the backup is accepted only when Namespaced
    else:
        return f"kind {obj['kind']} is not served in {obj['apiVersion']} and no CRD in the backup defines it"
    if not namespaced:
        return "cluster-scoped"
    namespace = meta.get("namespace") or ""
    if not namespace:
        return "no namespace"
    if namespace not in declared:
        return f"namespace {namespace} is not declared by the backup"
    return ""


def _crd_group(crd: dict[str, Any]) -> str:
    return str((crd.get("spec") or {}).get("group") or "")


def _crd_problem(crd: dict[str, Any], builtin: frozenset[str], used: set[tuple[str, str]]) -> str:
    spec = crd.get("spec") or {}
    group = _crd_group(crd)
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    if group in builtin or not group:
        return f"its group {group or '(core)'} is a built-in API group; a CRD there would shadow the real API"
    if crd["metadata"]["name"] != f"{names.get('plural')}.{group}":
        return "its name is not <plural>.<group>"
    if spec.get("scope") != "Namespaced":
        return f"scope {spec.get('scope')!r}: a namespace restore creates only Namespaced kinds"
    if (group, names.get("kind")) not in used:
        return "no object in the backup is of its kind"
    return ""


def _builtin_groups(cluster: Any, served: dict[tuple[str, str], Any]) -> frozenset[str]:
    """Upstream's groups plus every group this server serves itself or through an aggregated API server.

    The APIServices say it exactly: kube-apiserver labels its own ``automanaged: onstart`` (a CRD's
    are ``"true"``) and an aggregated one names a Service. An account that may not list them gets the
    groups discovery serves that no CRD defines (fresh discovery: a CRD deleted a moment ago may linger).
    """
    try:
        services = list(cluster.list_objects("apiregistration.k8s.io/v1", "APIService"))
    except (ClusterError, ParameterError):
        services = None
    if services is not None:
        own = {str((s.get("spec") or {}).get("group") or "") for s in services
               if ((s.get("metadata") or {}).get("labels") or {}).get(AUTOMANAGED) == "onstart"
               or (s.get("spec") or {}).get("service")}
        return frozenset(BUILTIN_GROUPS | own)
    try:
        crd_groups = {_crd_group(c) for c in cluster.list_objects(*CRD_API)}
    except ApiError as error:
        raise ParameterError(f"cannot list CustomResourceDefinitions to check the backup's CRDs: {error.message}",
                             hint="restore without --with-crds, or with an account that may list CRDs") from error
    served_groups = {api_version.rpartition("/")[0] for api_version, _ in served}
    return frozenset(BUILTIN_GROUPS | (served_groups - crd_groups))


def _is_apiserver_service(obj: dict[str, Any]) -> bool:
    meta = obj["metadata"]
    return (obj["kind"] == "Service" and meta.get("name") == "kubernetes" and meta.get("namespace") == "default"
            and (meta.get("labels") or {}).get("provider") == "kubernetes")
