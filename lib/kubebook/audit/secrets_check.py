"""Secrets checks (CIS 5.4): Secrets in environment variables, and encryption at rest *as stored*.

Encryption at rest is judged by evidence where kubebook can get it: on a local
control plane the stored bytes of every Secret are read back from etcd (etcdctl
with the API server's own etcd client certificate) and must start with the
``k8s:enc:<provider>:`` envelope; a Secret written before encryption was enabled
stays plaintext until rewritten, and only this read shows it. Elsewhere the
API server's ``--encryption-provider-config`` is inspected (the first provider for
secrets must not be identity), which says what new writes get, not what is stored.

Secret values never leave this module: only the first bytes of each stored value
are decoded, to read the envelope prefix, and findings name Secrets by namespace/name.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubebook.audit import catalog, controlplane
from kubebook.audit.cprules import Component, Unknown
from kubebook.audit.grouped import Grouped
from kubebook.audit.model import Finding, Resource
from kubebook.audit.workloads import CLUSTER, WORKLOAD_KINDS, not_evaluated, top_level_workloads
from kubebook.errors import AuditError

ENCRYPTED_PREFIX = b"k8s:enc:"
ETCDCTL_TIMEOUT = 30


def applies_to(inv: Any) -> bool:
    return inv.source in ("cluster", "manifests", "control-plane")


def evaluate(inv: Any) -> Iterator[Finding]:
    if inv.source in ("cluster", "manifests"):
        yield from _env_secrets(inv)
    if inv.source == "manifests" and not controlplane.applies_to(inv):
        return
    yield from _encryption_at_rest(inv)


def _env_secrets(inv: Any) -> Iterator[Finding]:
    check = catalog.get("secrets.env-var")
    errors = not_evaluated(inv, WORKLOAD_KINDS, (check.id,))
    if errors:
        yield from errors
        return
    grouped = Grouped()
    for workload in top_level_workloads(inv):
        uses = []
        for container in workload.containers():
            name = container.get("name", "?")
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    uses.append(f"{name}: env {env.get('name')} <- secret {ref.get('name')}/{ref.get('key')}")
            for source in container.get("envFrom") or []:
                if source.get("secretRef"):
                    uses.append(f"{name}: envFrom secret {source['secretRef'].get('name')}")
        if uses:
            grouped.add(check, workload.resource, "FAIL", "; ".join(uses))
        else:
            grouped.add(check, workload.resource, "PASS", "no Secret is passed through environment variables")
    yield from grouped.entries()  # no workload: nothing judged, left out of the score


def _local_collection_for(inv: Any) -> dict[str, Any] | None:
    """For a cluster source: the local control plane that serves it (same server URL), if any."""
    from kubebook.localcluster import name_serving

    name = name_serving(getattr(inv.cluster, "server", None))
    if name is None:
        return None
    from kubebook.audit import cpcollect

    try:
        return cpcollect.collect_local(name)
    except AuditError:
        return None


def _encryption_at_rest(inv: Any) -> Iterator[Finding]:
    check = catalog.get("secrets.encryption-at-rest")
    if inv.source == "cluster":
        collection = _local_collection_for(inv)
        found = [collection] if collection else []
    else:
        found = controlplane.collections(inv)[0]
    if not found:
        yield Finding(check, CLUSTER, "WARN", "encryption at rest cannot be seen through the API; audit the control "
                      "plane (kubebook audit --control-plane, or a cpcollect collection from the control-plane host)")
        return
    for collection in found:
        apiservers = [Component(e, collection) for e in collection.get("components") or []
                      if e.get("name") == "kube-apiserver"]
        where = Resource("ControlPlane", None, str(collection["metadata"]["name"]))
        if not apiservers:
            yield Finding(check, where, "WARN", f"no kube-apiserver in {collection.get('origin')}; not checked")
        elif collection.get("local_cluster") and any(a.entry.get("running") for a in apiservers):
            yield from _read_back(check, collection, next(a for a in apiservers if a.entry.get("running")), where)
        else:
            for apiserver in apiservers:
                yield _configured(check, apiserver)


def _configured(check: Any, apiserver: Component) -> Finding:
    """The config-only verdict: what the API server is told to use for new writes."""
    try:
        provider, how = apiserver.derived("@encryption-provider")
    except Unknown as error:  # the encryption config file could not be read
        return Finding(check, apiserver.resource, "ERROR", f"not evaluated: {error}")
    if provider is None or provider == "identity":
        return Finding(check, apiserver.resource, "FAIL", how)
    return Finding(check, apiserver.resource, "PASS", f"{how} (configuration only: stored values not read back)")


def etcdctl_command(collection: dict[str, Any], apiserver: Component) -> list[str]:
    """etcdctl with the API server's etcd endpoints and client certificate (no secret on the command line)."""
    etcd = [e for e in collection.get("components") or [] if e.get("name") == "etcd"]
    binary = Path(etcd[0]["argv"][0]).with_name("etcdctl") if etcd else None
    if binary is None or not binary.is_file():
        from kubebook.localcluster import build

        binary = build.binary("etcdctl")
    flags = apiserver.flags
    prefix = flags.get("--etcd-prefix", "/registry").rstrip("/")
    return [str(binary), f"--endpoints={flags.get('--etcd-servers', '')}", f"--cacert={flags.get('--etcd-cafile', '')}",
            f"--cert={flags.get('--etcd-certfile', '')}", f"--key={flags.get('--etcd-keyfile', '')}",
            "--command-timeout=20s", "get", f"{prefix}/secrets/", "--prefix", "-w", "json"]


def stored_prefixes(command: list[str]) -> dict[str, str]:
    """etcd key -> envelope of its stored value (``k8s:enc:<provider>:<version>:<key>`` or ``plaintext``)."""
    import subprocess  # only a live local control plane needs it; kept off the manifest audit's start-up

    result = subprocess.run(command, capture_output=True, timeout=ETCDCTL_TIMEOUT, check=False,
                            env={**os.environ, "ETCDCTL_API": "3"})
    if result.returncode != 0:
        first = (result.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[0]
        raise RuntimeError(f"etcdctl exited {result.returncode}: {first}")
    stored: dict[str, str] = {}
    for kv in json.loads(result.stdout or b"{}").get("kvs") or []:
        key = base64.b64decode(kv["key"]).decode(errors="replace")
        head = base64.b64decode(kv.get("value", "")[:64])  # 48 bytes: enough for the envelope, never the data
        if head.startswith(ENCRYPTED_PREFIX):
            stored[key] = ":".join(head.decode(errors="replace").split(":")[:5])
        else:
            stored[key] = "plaintext"
    return stored


def _read_back(check: Any, collection: dict[str, Any], apiserver: Component, where: Resource) -> Iterator[Finding]:
    import subprocess

    try:
        stored = stored_prefixes(etcdctl_command(collection, apiserver))
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as error:
        yield Finding(check, where, "ERROR", f"could not read Secrets back from etcd: {error}")
        return
    if not stored:
        # nothing is stored, so nothing is stored in plaintext: what new writes get decides the verdict
        configured = _configured(check, apiserver)
        yield Finding(check, where, configured.result, f"etcd holds no Secret yet; {configured.message}")
        return
    plaintext = sorted(k for k, v in stored.items() if v == "plaintext")
    for key in plaintext:
        namespace, _, name = key.split("/secrets/", 1)[1].partition("/")
        yield Finding(check, Resource("Secret", namespace, name), "FAIL",
                      f"stored in etcd as plaintext ({key}); rewrite it so the API server encrypts it")
    if not plaintext:
        envelopes = sorted(set(stored.values()))
        yield Finding(check, where, "PASS", f"all {len(stored)} Secrets in etcd are encrypted ({', '.join(envelopes)})")
