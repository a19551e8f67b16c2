"""Images and general policy (CIS 5.6 in v1.12 numbering, 5.7 in v1.10): per workload, per container.

Image references are parsed the way the container runtime resolves them
(``nginx`` is ``docker.io/library/nginx:latest``): the first path component is a
registry only if it contains a ``.`` or ``:`` or is ``localhost``. The registry
allow-list is a parameter: ``inv.allowed_registries`` when the caller sets it (the
audit runbook does), else ``$KUBEBOOK_AUDIT_REGISTRIES`` (comma-separated), else the
cluster's own ConfigMap ``kube-system/kubebook-audit`` (key ``allowed-registries``).
With no allow-list the registry check reports INFO with the registries in use,
since without a list nothing can fail.

Checks of severity ``info`` (digest pinning, probes) still say FAIL when the
workload lacks the thing; their severity keeps them out of the score and --fail-on.

Also adopted from kube-score and Polaris where they add security value:
readOnlyRootFilesystem, resource requests and memory limits (a pod without
them can starve its node), and liveness/readiness probes (INFO, reliability).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

from kubebook.audit import catalog
from kubebook.audit.grouped import Grouped
from kubebook.audit.model import Finding, FindingBatch
from kubebook.audit.workloads import CLUSTER, WORKLOAD_KINDS, Workload, not_evaluated, top_level_workloads

DEFAULT_REGISTRY = "docker.io"
REGISTRY_ENV = "KUBEBOOK_AUDIT_REGISTRIES"
POLICY_CONFIGMAP = ("kube-system", "kubebook-audit")
SECCOMP_OK = ("RuntimeDefault", "Localhost")
DEFAULT_NAMESPACE_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
CHECK_IDS = ("images.latest-tag", "images.digest-pinned", "images.registry-allowlist", "images.resources",
             "images.memory-limit", "images.read-only-root-fs", "images.seccomp", "images.security-context",
             "images.default-namespace", "images.probes")


@functools.lru_cache(maxsize=8192)
def parse_image(image: str) -> tuple[str, str, str | None, str | None]:
    """(registry, repository, tag, digest) of an image reference, with Docker's defaults.

    Cached: a cluster runs few distinct images in many pods, and every image check asks.
    """
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DEFAULT_REGISTRY, rest
    name, colon, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "")
    if registry == DEFAULT_REGISTRY and "/" not in name:
        name = f"library/{name}"
    return registry, name, (tag if colon else None), (digest or None)


def _entries(values: Any) -> list[str]:
    items = values.split(",") if isinstance(values, str) else list(values)
    return [str(r).strip().rstrip("/") for r in items if str(r).strip()]


def parse_allow_list(text: str) -> list[str]:
    """A comma-separated allow-list as given on the command line; ParameterError naming each bad entry.

    An entry is a registry host (``ghcr.io``, ``localhost:5000``) or a host with a
    path prefix (``ghcr.io/acme``); a URL scheme, spaces or an empty list are refused.
    """
    from kubebook.errors import ParameterError

    entries = _entries(text)
    problems = [f"{entry!r}: drop the scheme (write {entry.split('://', 1)[1]!r})" for entry in entries
                if "://" in entry]
    problems += [f"{entry!r}: an entry has no spaces" for entry in entries if " " in entry]
    if not entries:
        problems.append("the list is empty")
    if problems:
        raise ParameterError("--registries is not a valid registry allow-list", problems=problems,
                             hint="give registry hosts or host/path prefixes, comma-separated: "
                                  "registry.k8s.io,ghcr.io/acme")
    return entries


def allowed_registries(inv: Any) -> list[str] | None:
    """The allow-list: the caller's ``inv.allowed_registries``, else the environment, else the cluster's own.

    The cluster (or a manifest set) can declare its list in ConfigMap
    ``kube-system/kubebook-audit``, key ``allowed-registries`` (comma-separated).
    """
    explicit = getattr(inv, "allowed_registries", None)
    if explicit is not None:
        return _entries(explicit)
    env = os.environ.get(REGISTRY_ENV, "").strip()
    if env:
        return _entries(env)
    for config in inv.objects("ConfigMap"):
        meta = config.get("metadata") or {}
        if (meta.get("namespace"), meta.get("name")) == POLICY_CONFIGMAP:
            value = (config.get("data") or {}).get("allowed-registries")
            if value:
                return _entries(value)
    return None


def registry_allowed(image: str, allowed: list[str]) -> bool:
    """An entry allows a registry (``ghcr.io``) or a registry path prefix (``ghcr.io/acme``)."""
    registry, repository, _, _ = parse_image(image)
    full = f"{registry}/{repository}"
    return any(full == entry or full.startswith(entry.rstrip("/") + "/") or registry == entry for entry in allowed)


def applies_to(inv: Any) -> bool:
    return inv.source in ("cluster", "manifests")


class _Verdicts:
    """The engine's verdicts by check id, grouped (see grouped.py)."""

    def __init__(self) -> None:
        self.checks = {check_id: catalog.get(check_id) for check_id in CHECK_IDS}
        self.grouped = Grouped()

    def add(self, check_id: str, workload: Workload, bad: list[str], good: str, bad_text: str) -> None:
        if bad:
            self.finding(check_id, workload, "FAIL", f"{bad_text}: {'; '.join(bad)}")
        else:
            self.finding(check_id, workload, "PASS", good)

    def finding(self, check_id: str, workload: Workload, result: str, message: str) -> None:
        self.grouped.add(self.checks[check_id], workload.resource, result, message)

    def findings(self) -> Iterator[Finding | FindingBatch]:
        return self.grouped.entries()


def evaluate(inv: Any) -> Iterator[Finding | FindingBatch]:
    errors = not_evaluated(inv, WORKLOAD_KINDS, CHECK_IDS)
    if errors:
        yield from errors
        return
    allowed = allowed_registries(inv)
    registries: set[str] = set()
    verdicts = _Verdicts()
    seen = False
    for workload in top_level_workloads(inv):
        seen = True
        _images(verdicts, workload, allowed, registries)
        _resources(verdicts, workload)
        _hardening(verdicts, workload)
        _default_namespace(verdicts, workload)
    yield from verdicts.findings()
    if allowed is None and seen:
        yield Finding(catalog.get("images.registry-allowlist"), CLUSTER, "INFO",
                      f"no allow-list configured (set {REGISTRY_ENV} or the runbook's allowed_registries); "
                      f"registries in use: {', '.join(sorted(registries))}")
    # no workload: nothing judged, nothing yielded (the checks are left out of the score, never a PASS)


def _images(verdicts: _Verdicts, workload: Workload, allowed: list[str] | None, registries: set[str]) -> None:
    latest, floating, outside = [], [], []
    for container in workload.containers():
        image = str(container.get("image") or "")
        name = container.get("name", "?")
        registry, _, tag, digest = parse_image(image)
        registries.add(registry)
        if not digest and tag in (None, "latest"):
            latest.append(f"{name}={image} ({'no tag' if tag is None else 'latest'})")
        if not digest:
            floating.append(f"{name}={image}")
        if allowed is not None and not registry_allowed(image, allowed):
            outside.append(f"{name}={image} (registry {registry})")
    verdicts.add("images.latest-tag", workload, latest, "every image has a fixed tag or digest",
                 "image runs whatever 'latest' is at pull time")
    verdicts.add("images.digest-pinned", workload, floating, "every image is pinned by digest",
                 "image not pinned by digest")
    if allowed is not None:
        verdicts.add("images.registry-allowlist", workload, outside,
                     f"every image comes from an allowed registry ({', '.join(allowed)})",
                     "image from a registry outside the allow-list")


def _resources(verdicts: _Verdicts, workload: Workload) -> None:
    no_requests, no_memory_limit = [], []
    for container in workload.containers():
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        absent = [r for r in ("cpu", "memory") if r not in requests and r not in limits]
        if absent:
            no_requests.append(f"{container.get('name', '?')} lacks {'/'.join(absent)} requests")
        if "memory" not in limits:
            no_memory_limit.append(str(container.get("name", "?")))
    verdicts.add("images.resources", workload, no_requests, "every container requests CPU and memory",
                 "the scheduler cannot reserve capacity")
    verdicts.add("images.memory-limit", workload, no_memory_limit, "every container has a memory limit",
                 "containers without a memory limit")


def _hardening(verdicts: _Verdicts, workload: Workload) -> None:
    pod_sc = workload.spec.get("securityContext") or {}
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    writable, no_seccomp, no_context, no_probes = [], [], [], []
    for container in workload.containers():
        name = str(container.get("name", "?"))
        sc = container.get("securityContext")
        if not (sc or {}).get("readOnlyRootFilesystem"):
            writable.append(name)
        seccomp = ((sc or {}).get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in SECCOMP_OK:
            no_seccomp.append(f"{name} ({seccomp or 'unset: Unconfined under most runtimes'})")
        if not sc and not pod_sc:
            no_context.append(name)
    for container in workload.containers(include_init=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if not container.get(p)]
        if missing and workload.kind not in ("Job", "CronJob"):
            no_probes.append(f"{container.get('name', '?')} lacks {', '.join(missing)}")
    verdicts.add("images.read-only-root-fs", workload, writable, "every container has a read-only root filesystem",
                 "writable root filesystem")
    verdicts.add("images.seccomp", workload, no_seccomp, "every container runs with a RuntimeDefault or "
                 "Localhost seccomp profile", "no seccomp profile (scored under seccompProfile_restricted)")
    verdicts.add("images.security-context", workload, no_context, "a securityContext is set",
                 "no securityContext on pod or container")
    if workload.kind not in ("Job", "CronJob"):
        verdicts.add("images.probes", workload, no_probes, "every container has liveness and readiness probes",
                     "missing probes")


def _default_namespace(verdicts: _Verdicts, workload: Workload) -> None:
    if not (workload.obj.get("metadata") or {}).get("namespace"):
        verdicts.finding("images.default-namespace", workload, "WARN", "sets no namespace: it lands in the "
                         "applying context's namespace, often default")
    elif workload.namespace == "default":
        verdicts.finding("images.default-namespace", workload, "FAIL", "runs in the default namespace")
    else:
        verdicts.finding("images.default-namespace", workload, "PASS", f"runs in namespace {workload.namespace}")
