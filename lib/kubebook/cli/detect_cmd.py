"""`kubebook detect rules|scan`: a thin shell over kubebook.detect.

``scan --format json`` prints ``{"scanned", "corrupt", "findings"}``; the exit code is 1 when a finding is at
or above ``--fail-on``, 2 for bad input (one line on stderr, before any file is scanned), 0 otherwise.
Corrupt lines are counted in the output and their first examples go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

SEVERITY_CHOICES = "low, medium, high, critical"


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    rules = commands.add_parser("rules", help="list the detection rules; with --audit-policy, which cannot fire")
    rules.add_argument("--json", action="store_true", help="print the rules (or the coverage) as JSON")
    rules.add_argument("--audit-policy", metavar="FILE", default="",
                       help="a kube-apiserver --audit-policy-file: say which rules cannot fire under it")
    rules.set_defaults(handler=run_rules)

    scan = commands.add_parser("scan", help="scan audit log files (JSON lines, .gz too) for the rules' techniques")
    scan.add_argument("--audit-log", metavar="FILE", nargs="+", action="extend", required=True,
                      help="audit log file(s), e.g. ~/.local/share/kubebook/clusters/<name>/logs/audit-0.log")
    scan.add_argument("--since", metavar="T", default="",
                      help="only events at or after T: RFC 3339 or a duration back from now (30m, 2h, 7d)")
    scan.add_argument("--format", choices=("table", "json", "sarif"), default="table", help="output (default table)")
    scan.add_argument("--fail-on", metavar="SEV", default="",
                      help=f"exit 1 when a finding is at or above SEV ({SEVERITY_CHOICES})")
    scan.set_defaults(handler=run_scan)


def run_rules(args: argparse.Namespace) -> int:
    from kubebook.detect import usecase

    if args.audit_policy:
        rows = usecase.policy_coverage(args.audit_policy)
        if args.json:
            print(json.dumps({"policy": args.audit_policy, "rules": rows}, indent=2))
            return 0
        blind = [r for r in rows if r["status"] != "fires"]
        print(f"{len(rows) - len(blind)} of {len(rows)} rules can fire under {args.audit_policy}")
        for row in blind:
            print(f"  {row['status']:<12} {row['rule']:<36} needs {row['needs']}: {row['would_need']}")
        return 0
    rules = usecase.list_rules()
    if args.json:
        print(json.dumps(rules, indent=2))
        return 0
    print(f"{'RULE':<38} {'SEVERITY':<9} {'LEVEL':<16} TECHNIQUES")
    for rule in rules:
        print(f"{rule['id']:<38} {rule['severity']:<9} {rule['level']:<16} {','.join(rule['techniques'])}")
    return 0


def _table(result: Any) -> None:
    print(f"scanned {result.scanned} events, {result.corrupt} corrupt lines, {len(result.findings)} findings")
    for f in result.findings:
        print(f"{f.time or '-':<28} {f.severity:<8} {f.rule:<34} {f.message}")


def run_scan(args: argparse.Namespace) -> int:
    from kubebook.detect import sarif, scan, usecase

    fail_on = usecase.check_severity(args.fail_on) if args.fail_on else None
    if args.since:
        scan.parse_since(args.since)  # bad input refused before any file is read
    scan.check_logs(args.audit_log)
    result = usecase.scan_logs(args.audit_log, since=args.since or None)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    elif args.format == "sarif":
        print(json.dumps(sarif.to_sarif(result), indent=2))
    else:
        _table(result)
    for example in result.corrupt_examples:
        sys.stderr.write(f"corrupt: {example}\n")
    if result.corrupt > len(result.corrupt_examples):
        sys.stderr.write(f"corrupt: ... {result.corrupt - len(result.corrupt_examples)} more\n")
    return 1 if fail_on and result.at_or_above(fail_on) else 0
