"""`kubebook node`: drain (cordon, dry-run evictions, evictions honouring PDBs, a timeout) and uncordon
(a thin shell over kubebook.lifecycle)."""

from __future__ import annotations

import argparse
import json
import sys

from kubebook.cli.flags import add_target


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", metavar="NAME", default=None, help="a kubebook local cluster (instead of --kubeconfig)")
    add_target(p)


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True
    p = commands.add_parser(
        "drain", help="cordon, dry-run every eviction, evict honouring PDBs (retry on 429) until --timeout",
        description="Cordon NODE, ask a server-side dry-run eviction of every pod (naming the pods and PDBs that "
                    "block), then evict with retries until --timeout. DaemonSet and mirror pods are skipped. "
                    "A Lease kube-system/kubebook-node-maintenance keeps two drains from running at once. "
                    "Exit 0 all evicted, 1 timed out or blocked (named), 2 bad input.")
    p.add_argument("node", help="the node to drain")
    _target(p)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before giving up (default 120)")
    p.add_argument("--dry-run", action="store_true", help="server-side dry runs only: nothing changes")
    p.add_argument("--confirm", default=None, help="the node's name again (needed unless --dry-run)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_drain)
    p = commands.add_parser("uncordon", help="make a node schedulable again")
    p.add_argument("node", help="the node to uncordon")
    _target(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_uncordon)


def _drain(args: argparse.Namespace) -> int:
    from kubebook.lifecycle import drain
    from kubebook.lifecycle.maintenance import check_confirm
    from kubebook.lifecycle.usecase import connect_target

    check_confirm(args.node, args.confirm, args.dry_run)  # before connecting: nothing is asked of the API
    cluster = connect_target(args.name, args.kubeconfig or None, args.context)
    report = drain(cluster, args.node, confirm=args.confirm, timeout=args.timeout, dry_run=args.dry_run,
                   progress=_progress)
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
        return report.exit_code
    for v in report.skipped:
        print(f"skipped  {v.pod}: {v.reason}")
    for v in report.preflight:
        if v.outcome == "blocked":
            print(f"dry run  {v.pod} blocked by {', '.join(v.pdbs) or v.reason}")
    for pod in report.evicted:
        print(f"evicted  {pod}")
    for v in report.blocked:
        print(f"blocked  {v.pod}: {', '.join(v.pdbs) or v.reason}")
    verb = "dry run of the drain" if report.dry_run else "drain"
    if report.exit_code == 0:
        print(f"drain of {report.node}: {len(report.evicted)} evicted, {len(report.skipped)} skipped "
              f"in {report.seconds:.1f}s" if not report.dry_run else
              f"dry run of the drain of {report.node}: all {len(report.preflight)} pods may be evicted, "
              f"{len(report.skipped)} skipped; nothing changed")
    else:
        why = "timed out" if report.timed_out else "blocked"
        print(f"{verb} of {report.node} {why} after {report.seconds:.1f}s: {len(report.blocked)} pods remain "
              f"(blocking PDBs: {', '.join(report.as_dict()['blocking_pdbs']) or 'none'}); the node stays cordoned")
    return report.exit_code


def _uncordon(args: argparse.Namespace) -> int:
    from kubebook.lifecycle import uncordon
    from kubebook.lifecycle.usecase import connect_target

    result = uncordon(connect_target(args.name, args.kubeconfig or None, args.context), args.node)
    print(json.dumps(result) if args.json else f"{result['node']} is schedulable again")
    return 0
