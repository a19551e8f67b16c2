"""Collect what the control-plane checks need into one plain document, wherever it comes from.

A *collection* is a dict shaped like a Kubernetes object (``kind: ControlPlaneCollection``)
so it can also be written to YAML on a control-plane node and audited elsewhere
(``python -m kubebook.audit.cpcollect --static-pods /etc/kubernetes/manifests > cp.yaml``,
then ``kubebook audit --manifests cp.yaml``), kube-bench style. It holds:

* ``components``: one entry per process: component name, instance, argv, etcd env, origin;
* ``files``: ``stat`` facts (mode, owner, group, PEM kind) of every absolute path the
  argv names, the static pod manifests and the admin kubeconfigs;
* ``configs``: the few fields of config files that stand in for flags (scheduler
  ``enableProfiling``, the encryption providers for secrets, authorizer types), never
  a key or any other secret value.

Sources: the local control plane (argv from ``/proc/<pid>/cmdline`` while the recorded
pid still runs that binary, else from state.json), a directory of static pod
manifests, or control-plane Pods (mirror pods in kube-system, which carry no file facts).
"""

from __future__ import annotations

import argparse
import grp
import hashlib
import os
import pwd
import stat
import sys
from pathlib import Path
from typing import Any

from kubebook.audit import yamlload
from kubebook.errors import AuditError

COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
KIND = "ControlPlaneCollection"
HOST_ADMIN_KUBECONFIGS = ("/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf")
PEM_MARKERS = (("PRIVATE KEY", "private-key"), ("PUBLIC KEY", "public-key"), ("CERTIFICATE", "certificate"))


def component_of(argv: list[str]) -> str | None:
    """Which control-plane component an argv runs (by the binary's base name)."""
    if not argv:
        return None
    name = os.path.basename(argv[0])
    return name if name in COMPONENTS else None


def parse_flags(argv: list[str]) -> dict[str, str]:
    """``--flag=value``, ``--flag value`` and bare boolean ``--flag`` (true); a repeated flag keeps the last."""
    flags: dict[str, str] = {}
    index = 1
    while index < len(argv):
        item = argv[index]
        if item.startswith("--"):
            name, eq, value = item.partition("=")
            if eq:
                flags[name] = value
            elif index + 1 < len(argv) and not argv[index + 1].startswith("-"):
                flags[name] = argv[index + 1]
                index += 1
            else:
                flags[name] = "true"
        index += 1
    return flags


def file_facts(path: str) -> dict[str, Any]:
    """Mode, owner, group, type and PEM kind of ``path``; ``exists: false`` when it is missing."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {"exists": False}
    except OSError as error:
        return {"exists": True, "error": f"cannot stat: {error.strerror}"}
    facts: dict[str, Any] = {"exists": True, "mode": f"{stat.S_IMODE(info.st_mode):03o}",
                             "owner": _name(pwd.getpwuid, info.st_uid), "group": _name(grp.getgrgid, info.st_gid),
                             "type": "dir" if stat.S_ISDIR(info.st_mode) else "file"}
    if facts["type"] == "file":
        facts["pem"] = _pem_kind(path)
        if facts["pem"] in ("certificate", "public-key"):  # public material: lets checks compare CAs by content
            facts["sha256"] = _sha256(path)
    return facts


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _name(lookup: Any, ident: int) -> str:
    try:
        return str(lookup(ident)[0])
    except KeyError:
        return str(ident)


def _pem_kind(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    for marker, kind in PEM_MARKERS:
        if b"-----BEGIN" in head and marker.encode() in head:
            return kind
    return None


def _dotted(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _load_yaml(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yamlload.load(handle.read())


def _secrets_providers(config: Any) -> list[str]:
    """Provider names, in order, of the EncryptionConfiguration entry that covers secrets."""
    for entry in (config or {}).get("resources") or []:
        names = entry.get("resources") or []
        if any(n in ("secrets", "*.", "*.*") for n in names):
            return [next(iter(p)) for p in entry.get("providers") or [] if isinstance(p, dict) and p]
    return []


def config_fields(component: str, flags: dict[str, str], readable: bool = True) -> dict[str, Any]:
    """The non-secret fields of the config files a component's flags name.

    ``readable`` is False when the argv came from another host (a Pod seen through
    the API): a local file at the same path would be a different file, so it is not read.
    """
    out: dict[str, Any] = {}
    wanted: list[tuple[str, Any]] = []
    if component == "kube-scheduler" and "--config" in flags:
        fields = ("enableProfiling", "clientConnection.kubeconfig")
        wanted.append(("--config", lambda c: {f: _dotted(c, f) for f in fields}))
    if component == "kube-apiserver":
        if "--encryption-provider-config" in flags:
            wanted.append(("--encryption-provider-config", lambda c: {"secrets_providers": _secrets_providers(c)}))
        if "--authorization-config" in flags:
            wanted.append(("--authorization-config", lambda c: {
                "authorizers": [a.get("type") for a in (c or {}).get("authorizers") or [] if isinstance(a, dict)]}))
    for flag, extract in wanted:
        if not readable:
            out[flag] = {"error": f"{flags[flag]} is on the control-plane host; it cannot be read from here"}
            continue
        try:
            out[flag] = extract(_load_yaml(flags[flag]))
        except (OSError, yamlload.YAMLError, AttributeError, TypeError) as error:
            out[flag] = {"error": f"cannot read {flags[flag]}: {error.__class__.__name__}: {error}"}
    return out


def _component(argv: list[str], instance: str, origin: str, *, env: dict[str, str] | None = None,
               manifest: str | None = None, running: bool | None = None,
               local: bool = True) -> dict[str, Any] | None:
    name = component_of(argv)
    if name is None:
        return None
    entry = {"name": name, "instance": instance, "argv": list(argv), "env": dict(env or {}), "origin": origin,
             "manifest": manifest, "running": running}
    entry["configs"] = config_fields(name, parse_flags(argv), readable=local)
    return entry


def _finish(name: str, origin: str, components: list[dict[str, Any]], admin_kubeconfigs: list[str],
            with_files: bool = True) -> dict[str, Any]:
    """Add file facts for every path the components name (when the files are on this host)."""
    collection: dict[str, Any] = {"apiVersion": "kubebook.io/v1", "kind": KIND, "metadata": {"name": name},
                                  "origin": origin, "components": components,
                                  "admin_kubeconfigs": admin_kubeconfigs, "files": {} if with_files else None}
    if not with_files:
        return collection
    paths: set[str] = set(admin_kubeconfigs)
    for comp in components:
        if comp.get("manifest"):
            paths.add(comp["manifest"])
        for value in parse_flags(comp["argv"]).values():
            if value.startswith("/"):
                paths.add(value)
                paths.add(os.path.dirname(value))
        for fields in comp["configs"].values():
            kubeconfig = fields.get("clientConnection.kubeconfig") if isinstance(fields, dict) else None
            if kubeconfig:
                paths.add(kubeconfig)
    collection["files"] = {path: file_facts(path) for path in sorted(paths)}
    return collection


def collect_local(name: str) -> dict[str, Any]:
    """The local control plane ``name``: live argv per component, its files, its admin kubeconfigs."""
    from kubebook.localcluster import processes
    from kubebook.localcluster.manager import LocalCluster

    cluster = LocalCluster(name=name)
    state = cluster.load_state()
    if not state.get("components"):
        raise AuditError(f"local control plane {name!r} has no recorded components ({cluster.state_path})",
                         hint=f"start it with 'kubebook cluster up --name {name}'")
    components = []
    for instance, record in sorted(state["components"].items()):
        argv = list(record.get("argv") or [])
        pid = int(record.get("pid") or 0)
        running = bool(argv and pid) and processes.is_alive(processes.ProcessRecord(instance, pid, argv, ""))
        live = processes.cmdline(pid) if running else None
        origin = f"/proc/{pid}/cmdline" if live else f"{cluster.state_path} (pid {pid} not running)"
        entry = _component(live or argv, instance, origin, running=bool(live))
        if entry:
            components.append(entry)
    admin = [str(cluster.kubeconfig), str(cluster.root / "config" / "super-admin.kubeconfig")]
    collection = _finish(name, f"local control plane {name} ({cluster.root})", components, admin)
    collection["local_cluster"] = name  # etcd can be read back (secrets_check) only for a local cluster
    return collection


def _pod_components(pod: dict[str, Any], manifest: str | None, local: bool = True) -> list[dict[str, Any]]:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    found = []
    for container in spec.get("containers") or []:
        argv = list(container.get("command") or []) + list(container.get("args") or [])
        env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or []
               if isinstance(e, dict) and str(e.get("name", "")).startswith("ETCD_") and "value" in e}
        origin = manifest or f"Pod {meta.get('namespace')}/{meta.get('name')}"
        entry = _component(argv, str(meta.get("name", "")), origin, env=env, manifest=manifest, local=local)
        if entry:
            found.append(entry)
    return found


def collect_static_pods(directory: str | Path) -> dict[str, Any]:
    """Static pod manifests (kubeadm's /etc/kubernetes/manifests) on this host, with file facts."""
    root = Path(directory)
    if not root.is_dir():
        raise AuditError(f"static pod manifest directory {root} does not exist",
                         hint="pass the kubelet's --pod-manifest-path, usually /etc/kubernetes/manifests")
    pods: list[tuple[dict[str, Any], str | None]] = []
    for path in sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml", ".manifest", ".json")):
        try:
            pod = _load_yaml(str(path))
        except (OSError, yamlload.YAMLError) as error:
            raise AuditError(f"cannot read static pod manifest {path}: {error}") from error
        if isinstance(pod, dict) and pod.get("kind") == "Pod":
            pods.append((pod, str(path)))
    collection = from_pods(pods, f"static pods in {root}", local=True)
    if collection is None:
        raise AuditError(f"no control-plane static pod (kube-apiserver, etcd ...) in {root}")
    collection["metadata"]["name"] = os.uname().nodename
    return collection


def from_pods(pods: list[tuple[dict[str, Any], str | None]], origin: str, local: bool) -> dict[str, Any] | None:
    """Control-plane Pods given as (pod, manifest file or None).

    ``local`` is True for manifest files on this host (their files can be checked
    here) and False for Pods seen through the API (no file facts: the files are on
    the control-plane host).
    """
    components = [c for pod, manifest in pods for c in _pod_components(pod, manifest, local)]
    if not components:
        return None
    return _finish("pods", origin, components, list(HOST_ADMIN_KUBECONFIGS) if local else [], with_files=local)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Collect control-plane flags and file facts as YAML.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--static-pods", help="directory of static pod manifests (e.g. /etc/kubernetes/manifests)")
    group.add_argument("--local", help="name of a kubebook local control plane")
    args = parser.parse_args(argv)
    collection = collect_static_pods(args.static_pods) if args.static_pods else collect_local(args.local)
    import yaml

    yaml.safe_dump(collection, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
