"""`kubebook cluster`: build, start, stop and inspect the local control plane."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from kubebook.cli.flags import add_name
from kubebook.localcluster import build
from kubebook.localcluster.manager import TOPOLOGIES, LocalCluster
from kubebook.localcluster.paths import DEFAULT_NAME


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True

    p = commands.add_parser("build", help="build and cache the upstream binaries (only what is missing)")
    p.add_argument("--force", action="store_true", help="rebuild even when cached")
    p.add_argument("--only", action="append", choices=sorted(build.RECIPES), help="build only this component")
    p.add_argument("--real-node", action="store_true",
                   help="also build the real worker node's parts (kubelet's runtime, CNI, policy agent, registry) "
                        "when this host can run a real node; otherwise say why and build the rest")
    p.set_defaults(handler=_build)

    p = commands.add_parser("up", help="start (or repair) a local cluster")
    _name(p)
    p.add_argument("--topology", choices=sorted(TOPOLOGIES), default=None,
                   help="single: one of each; ha: 3 etcd, 3 apiservers behind HAProxy "
                        "(default: the existing cluster's, else single)")
    p.add_argument("--nodes", type=int, default=3, help="KWOK worker nodes (default 3)")
    p.add_argument("--real-nodes", type=int, default=None, metavar="N",
                   help="real worker nodes (kubelet + containerd + runc + CNI + kube-router): 0 or 1 "
                        "(default: what the cluster was set up with, else 1 when this host can run one "
                        "and no other cluster's real node runs, else 0; the reason is printed)")
    p.add_argument("--with-metrics", action="store_true", default=None,
                   help="also run metrics-server (metrics.k8s.io) and Prometheus on loopback, fed by KWOK's "
                        "usage emulation (two more Go builds; stays on for this cluster)")
    p.set_defaults(handler=_up)

    p = commands.add_parser("images", help="images in the real node's local store")
    _name(p)
    p.add_argument("--json", action="store_true", help="machine-readable output: [{name, ref, digest, size}]")
    p.add_argument("--add-runner", action="store_true",
                   help="first build the in-cluster runner image kubebook:0.1.0 (this checkout and .venv) into it")
    p.set_defaults(handler=_images)

    p = commands.add_parser("down", help="stop every process of a local cluster")
    _name(p)
    p.add_argument("--purge", action="store_true", help="also delete its state (PKI, etcd data, logs)")
    p.set_defaults(handler=_down)

    p = commands.add_parser("status", help="components, health and Ready nodes")
    _name(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_status)

    p = commands.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    _name(p)
    p.set_defaults(handler=_kubeconfig)

    p = commands.add_parser("logs", help="show a component's log (e.g. kube-apiserver-0, etcd-0, kwok)")
    _name(p)
    p.add_argument("component")
    p.add_argument("-n", "--lines", type=int, default=50, help="how many trailing lines (default 50)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.set_defaults(handler=_logs)


def _name(parser: argparse.ArgumentParser) -> None:
    add_name(parser, default=DEFAULT_NAME, help_text=f"cluster name (default {DEFAULT_NAME!r})")


def _build(args: argparse.Namespace) -> int:
    real_node = False
    if args.real_node:
        from kubebook.localcluster.node.hostcheck import check_host

        support = check_host()
        real_node = support.supported
        if not real_node:
            _progress(f"real node parts not built: {support.summary()}")
    build.build_all(_progress, force=args.force, only=args.only, real_node=real_node)
    return 0


def _up(args: argparse.Namespace) -> int:
    cluster = LocalCluster(name=args.name, topology=args.topology, nodes=args.nodes,
                           real_nodes="auto" if args.real_nodes is None else args.real_nodes,
                           with_metrics=args.with_metrics)
    choice = cluster.planned_real_nodes()
    _progress(f"real nodes: {choice.count} ({choice.reason})")
    wants_real = choice.count
    wants_metrics = bool(args.with_metrics or cluster.load_state().get("metrics"))
    build.build_all(_progress, real_node=bool(wants_real), metrics=wants_metrics)
    status = cluster.up(progress=_progress)
    print(status["kubeconfig"])
    return 0 if status.get("healthy") else 1


def _images(args: argparse.Namespace) -> int:
    from kubebook.localcluster.node.runtime import RealNode

    cluster = LocalCluster(name=args.name)
    node, state = RealNode(cluster.root, "", 0), cluster.load_state()
    if args.add_runner:
        from pathlib import Path

        root = Path(__file__).resolve().parents[3]
        node.add_runner(state, lambda: cluster._save_state(state), root, root / ".venv", _progress)
    rows = node.images(state)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']:12} {row['ref']:48} {row['digest'][:19]} {row['size']:>12}")
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = LocalCluster(name=args.name).down(purge=args.purge, progress=_progress)
    if not stopped:
        _progress(f"cluster {args.name!r}: nothing was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = LocalCluster(name=args.name).status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    elif not status["exists"]:
        print(f"cluster {args.name!r} does not exist (start it with 'kubebook cluster up --name {args.name}')")
    else:
        print(f"cluster {status['name']!r} ({status['topology']}, {status['version']}) at {status['endpoint']}")
        for component, info in sorted(status["components"].items()):
            state = "healthy" if info["healthy"] else "running, unhealthy" if info["alive"] else "stopped"
            print(f"  {component:28} {state:20} pid {info['pid']}")
        print(f"  KWOK nodes Ready: {status['nodes_ready']}")
        real = status.get("real_node") or {}
        if real:
            running = ", ".join(f"{n} {'running' if c['alive'] else 'stopped'}" for n, c in real["components"].items())
            print(f"  real node {real['name']} ({real['node_ip']}, pods {real['subnet']}): {running or 'stopped'}")
        if status.get("prometheus_url"):
            print(f"  Prometheus: {status['prometheus_url']}  metrics.k8s.io: metrics-server")
        print(f"  kubeconfig: {status['kubeconfig']}")
    return 0 if status.get("healthy") else 1


def _kubeconfig(args: argparse.Namespace) -> int:
    cluster = LocalCluster(name=args.name)
    if not cluster.kubeconfig.is_file():
        from kubebook.errors import LocalClusterError

        raise LocalClusterError(f"cluster {args.name!r} has no kubeconfig yet",
                                hint=f"start it with 'kubebook cluster up --name {args.name}'")
    print(cluster.kubeconfig)
    return 0


def _logs(args: argparse.Namespace) -> int:
    path = LocalCluster(name=args.name).log_path(args.component)
    if args.follow:
        return subprocess.call(["tail", "-n", str(args.lines), "-F", str(path)])
    lines = path.read_text(errors="replace").splitlines()[-args.lines:]
    print("\n".join(lines))
    return 0
