"""Collect what the worker-node checks need into one plain document (``kind: NodeCollection``).

Like :mod:`kubebook.audit.cpcollect`, kube-bench style: a collection can be written on a worker
(``python -m kubebook.audit.nodecollect --cni-dir /etc/cni/net.d > node.yaml``) and audited
anywhere (``kubebook audit --manifests node.yaml``). It holds the kubelet's argv, the fields of
its ``--config`` file (a KubeletConfiguration holds no secret), and file facts (mode, owner) of
its kubeconfig, config, client CA and every file of the CNI configuration folder.
Sources: the real node of a kubebook local cluster, or the kubelet process running on this host.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from kubebook.audit import yamlload
from kubebook.audit.cpcollect import file_facts, parse_flags
from kubebook.errors import AuditError

KIND = "NodeCollection"


def _kubelet_config(flags: dict[str, str]) -> dict[str, Any] | None:
    path = flags.get("--config")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yamlload.load(handle.read())
    except (OSError, yamlload.YAMLError) as error:
        return {"error": f"cannot read {path}: {error.__class__.__name__}: {error}"}
    return dict(loaded) if isinstance(loaded, dict) else {"error": f"{path} is not a KubeletConfiguration"}


def build(name: str, origin: str, argv: list[str], cni_dir: str | None) -> dict[str, Any]:
    """A NodeCollection from a kubelet argv (and the CNI folder), with file facts read on this host."""
    flags = parse_flags(argv)
    config = _kubelet_config(flags)
    ca = flags.get("--client-ca-file")
    if not ca and config and "error" not in config:
        ca = ((config.get("authentication") or {}).get("x509") or {}).get("clientCAFile")
    files = {"kubeconfig": flags.get("--kubeconfig"), "config": flags.get("--config"), "client-ca": ca}
    cni_files: list[str] = []
    if cni_dir and os.path.isdir(cni_dir):
        cni_files = sorted(str(p) for p in Path(cni_dir).iterdir() if p.is_file())
    facts = {path: file_facts(path) for path in [*files.values(), *cni_files] if path}
    return {"apiVersion": "kubebook.io/v1", "kind": KIND, "metadata": {"name": name}, "origin": origin,
            "kubelet": {"argv": list(argv), "config": config}, "file_sets": {**files, "cni": cni_files},
            "cni_dir": cni_dir, "files": facts}


def collect_local(cluster: str) -> dict[str, Any] | None:
    """The real node of local cluster ``cluster``, or None when it has none."""
    from kubebook.localcluster import processes
    from kubebook.localcluster.manager import LocalCluster

    lc = LocalCluster(name=cluster)
    node = lc.load_state().get("real_node")
    if not node:
        return None
    record = (node.get("components") or {}).get("kubelet")
    if not record:
        return None
    argv = list(record.get("argv") or [])
    live = processes.cmdline(int(record["pid"])) if processes.is_alive(processes.ProcessRecord(**record)) else None
    origin = f"real node {node['name']} of local cluster {cluster}"
    return build(str(node["name"]), origin, live or argv, str(lc.root / "node-0" / "cni" / "net.d"))


def collect_host(cni_dir: str = "/etc/cni/net.d") -> dict[str, Any]:
    """The kubelet running on this host (found in /proc by its binary name)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [part.decode() for part in (entry / "cmdline").read_bytes().split(b"\0") if part]
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == "kubelet":
            return build(os.uname().nodename, f"/proc/{entry.name}/cmdline", argv, cni_dir)
    raise AuditError("no kubelet process runs on this host", hint="run the collector on a worker node")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Collect the kubelet's flags, config and file facts as YAML.")
    parser.add_argument("--cni-dir", default="/etc/cni/net.d", help="the CNI configuration folder")
    parser.add_argument("--local", help="name of a kubebook local cluster with a real node")
    args = parser.parse_args(argv)
    collection = collect_local(args.local) if args.local else collect_host(args.cni_dir)
    if collection is None:
        raise AuditError(f"local cluster {args.local!r} runs no real node")
    import yaml

    yaml.safe_dump(collection, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
