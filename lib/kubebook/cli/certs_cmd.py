"""`kubebook certs`: certificate expiry of a local cluster's PKI and of any cluster (a thin shell over
kubebook.lifecycle)."""

from __future__ import annotations

import argparse
import json

from kubebook.cli.flags import add_target


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True
    p = commands.add_parser(
        "check", help="every certificate with subject, issuer, SANs, expiry and days left, soonest first",
        description="List every certificate soonest first: a local cluster's PKI (--name), kubernetes.io/tls "
                    "Secrets, webhook/APIService/CRD caBundles and the kubeconfig's client certificate. "
                    "Exit 1 when any is expired, due within --warn-days or unreadable; 0 otherwise; 2 bad input.")
    p.add_argument("--name", metavar="NAME", default=None, help="a kubebook local cluster: also its PKI files")
    add_target(p)
    p.add_argument("--warn-days", type=int, default=30, help="due when this few days are left (default 30)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from kubebook.lifecycle.usecase import certs_check

    report = certs_check(name=args.name, kubeconfig=args.kubeconfig or None, context=args.context,
                         warn_days=args.warn_days)
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
        return report.exit_code
    rows = [("STATUS", "DAYS", "NOT AFTER", "SOURCE", "NAME", "SUBJECT")]
    for c in report.certificates:
        days = "-" if c.days_left is None else f"{c.days_left:.1f}"
        detail = c.subject or ""
        if c.status == "unreadable":
            detail = c.error or "unreadable"
        elif c.age_days is not None:
            detail = f"{c.subject}, {c.age_days:.1f} days old"
        rows.append((c.status, days, c.not_after or "-", c.source, c.name, detail))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5])
    counts = report.counts
    soonest = report.soonest
    print(f"{len(report.certificates)} listed: {counts['expired']} expired, {counts['warning']} due within "
          f"{report.warn_days} days, {counts['unreadable']} unreadable"
          + (f"; soonest: {soonest.source} {soonest.name} in {soonest.days_left:.1f} days" if soonest else ""))
    return report.exit_code
