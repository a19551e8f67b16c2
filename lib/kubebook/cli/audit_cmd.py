"""`kubebook audit`: read one source, run every engine, print or write one report.

Exit codes: 0 no unwaived FAIL/ERROR at or above --fail-on; 1 there are some;
2 bad input (flags, waivers file, manifests path), a source that could not be
read at all (unreachable cluster) or one that held nothing to judge (no_data).
The CLI only parses and routes; the work is in kubebook.audit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubebook.audit.model import SEVERITIES
from kubebook.cli.flags import add_name, add_target
from kubebook.errors import KubebookError, ParameterError

FORMATS = ("table", "json", "sarif", "junit", "html")


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(
        name, help=help_text, description=help_text,
        epilog="exit codes: 0 no unwaived failing finding at or above --fail-on, 1 failing findings, "
               "2 bad input, unreadable source, or nothing to audit (no_data)")
    source = parser.add_mutually_exclusive_group()
    add_target(parser, group=source, optional_value=True,
               kubeconfig_help="audit the live cluster of this kubeconfig (a live cluster is the default source; "
                               "kubeconfig resolved as usual)")
    source.add_argument("--manifests", metavar="DIR", help="audit a directory (or file) of YAML/JSON manifests")
    add_name(parser, default=None, alias="--control-plane", alias_const="",
             help_text="also audit this local cluster's control-plane component configuration; alone: only that; "
                       "with --kubeconfig/--context, both in one report and one score; 'auto': the cluster's own "
                       "local control plane, if any (what the harden-audit runbook and 'provision apply --audit' do)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="report format (default: table)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--waivers", metavar="FILE", help="YAML file of accepted risks (see README, ## Audit)")
    parser.add_argument("--fail-on", choices=SEVERITIES, default="high",
                        help="lowest severity of an unwaived FAIL/ERROR that makes the exit code 1 (default: high)")
    parser.add_argument("--registries", metavar="LIST",
                        help="registry allow-list, comma-separated hosts or host/path prefixes "
                             "(default: $KUBEBOOK_AUDIT_REGISTRIES, else ConfigMap kube-system/kubebook-audit)")
    parser.add_argument("--show-passed", action="store_true", help="include PASS findings in the report")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = _audit(args)
    except KubebookError as error:
        sys.stderr.write(f"kubebook: {error}\n")
        return 2
    if result.no_data is not None:  # judged nothing: no report that could read as a clean one
        sys.stderr.write(f"kubebook: nothing to audit: {result.no_data}\n")
        return 2
    from kubebook.audit.exporters import render

    text = render(result, args.format, include_passed=args.show_passed)
    data = text.encode("utf-8", "backslashreplace")  # a stray surrogate is shown escaped, never a crash
    if args.output:
        Path(args.output).expanduser().write_bytes(data)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data) if hasattr(sys.stdout, "buffer") else sys.stdout.write(text)
        sys.stdout.flush()
    for waiver in result.expired_waivers:
        sys.stderr.write(f"kubebook: waiver expired and not applied: {waiver.describe()}\n")
    failing = result.failing_count(args.fail_on)
    if failing:
        sys.stderr.write(f"kubebook: {failing} unwaived failing finding(s) at or above {args.fail_on}\n")
        return 1
    return 0


def _audit(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from kubebook.audit import AuditInventory, catalog, run_audit
    from kubebook.audit.waivers import load_waivers

    waivers = load_waivers(args.waivers, set(catalog.load_catalog())) if args.waivers else []
    registries = None
    if args.registries is not None:
        from kubebook.audit.images import parse_allow_list

        registries = parse_allow_list(args.registries)  # bad input is refused before anything is read
    if args.manifests is not None and (args.name is not None or args.context is not None):
        flag = "--name" if args.name is not None else "--context"
        raise ParameterError(f"--manifests cannot be combined with {flag}",
                             hint="audit manifests alone, or a cluster (--kubeconfig/--context) with its --name")
    live = args.kubeconfig is not None or args.context is not None
    if args.manifests is not None:
        inventory = AuditInventory.from_manifests(args.manifests)
    elif args.name is not None and not live and args.name != "auto":
        inventory = AuditInventory.from_control_plane(args.name or None)
    else:  # a cluster: the same composition as the harden-audit runbook and `provision apply --audit`
        from kubebook.audit.posture import posture
        from kubebook.cli.flags import connect

        plane = None if args.name is None else (args.name or "default")
        if plane not in (None, "auto"):
            AuditInventory.from_control_plane(plane)  # an unknown name is refused before the cluster is read
        return posture(connect(args), control_plane=plane, waivers=args.waivers, registries=registries)
    if registries is not None:
        inventory.allowed_registries = registries  # type: ignore[attr-defined]
    return run_audit(inventory, waivers)
