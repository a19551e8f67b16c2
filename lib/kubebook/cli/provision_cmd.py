"""`kubebook provision`: build, diff, apply, verify (and remove) the security baseline overlays.

A thin shell over :mod:`kubebook.provision`. ``apply`` prints one line per object as
it is applied, so even an interrupted apply leaves a record of what reached the
server; re-running it finishes the job. ``--audit WAIVERS`` audits the cluster (and
its local control plane) before and after, and prints both scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kubebook.cli.flags import add_name, add_target
from kubebook.errors import ParameterError


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True
    specs = [
        ("build", "print the overlay's objects as kustomize builds them", _build),
        ("diff", "show what apply would change (the API server's server-side dry run)", _diff),
        ("apply", "server-side apply the overlay in dependency order (field manager kubebook-provision)", _apply),
        ("verify", "prove each control against the API server; exit 1 when any fails", _verify),
        ("remove", "undo an apply: delete only what kubebook created (a namespace holding others' objects is "
                   "kept), release its fields elsewhere", _remove),
    ]
    for command, text, handler in specs:
        p = commands.add_parser(command, help=text, description=text)
        p.add_argument("--overlay", required=True, metavar="NAME",
                       help="overlay under manifests/overlays (dev, staging, prod)")
        p.add_argument("--manifests", metavar="DIR",
                       help="manifests folder (default: $KUBEBOOK_MANIFESTS, else the repository's)")
        if command != "build":
            add_target(p)
        if command in ("diff", "verify"):
            p.add_argument("--json", action="store_true", help="machine-readable output")
        if command == "verify":
            p.add_argument("--settle", type=float, default=15.0, metavar="SECONDS",
                           help="re-ask an admitted violation for up to this long: a policy applied moments ago "
                                "takes a few seconds to load (default 15; spent only when a control fails)")
        if command == "apply":
            p.add_argument("--dry-run", action="store_true", help="show the diff and change nothing")
            p.add_argument("--quiet", action="store_true", help="print only the summary, not a line per object")
            p.add_argument("--force-conflicts", action="store_true",
                           help="take over fields another manager owns with another value (shown as conflicts "
                                "without this flag, and left as they are)")
            p.add_argument("--audit", metavar="WAIVERS",
                           help="audit before and after with this waivers file; print both scores")
            add_name(p, default=None, alias="--control-plane",
                     help_text="local cluster whose control plane --audit includes (default: the one serving "
                               "the cluster, if any)")
        p.set_defaults(handler=handler)


def _built(args: argparse.Namespace) -> Any:
    from kubebook.provision import build

    return build(args.overlay, args.manifests)


def _cluster(args: argparse.Namespace) -> Any:
    from kubebook.cli.flags import connect

    return connect(args)


def _build(args: argparse.Namespace) -> int:
    sys.stdout.write(_built(args).text)
    return 0


def _print_changes(changes: list[Any], as_json: bool) -> None:
    from kubebook.changes import summary

    if as_json:
        print(json.dumps({"summary": summary(changes), "changes": [c._asdict() for c in changes]}, indent=2))
        return
    for change in changes:
        reason = f"  ({change.reason})" if change.reason else ""
        print(f"{change.action:9} {change.key}{reason}")
        if change.diff and change.action == "change":
            print("".join(f"    {line}\n" for line in change.diff.splitlines()), end="")
    print(", ".join(f"{n} {a}" for a, n in summary(changes).items() if n) or "no objects")


def _pending(cluster: Any) -> None:
    """Read-only commands say when an interrupted remove is pending (their answer reflects a half-removed state)."""
    from kubebook.provision.session import pending_note

    note = pending_note(cluster)
    if note:
        print(f"note: {note}", file=sys.stderr)


def _diff(args: argparse.Namespace) -> int:
    from kubebook.provision import plan

    built = _built(args)
    cluster = _cluster(args)
    _pending(cluster)
    changes = plan(cluster, built.objects)
    _print_changes(changes, args.json)
    return 1 if any(c.action == "refused" for c in changes) else 0


def _line(entry: Any) -> None:
    print(f"{entry.action:10} {entry.key}{'  ' + entry.message if entry.message else ''}", flush=True)


def _score(cluster: Any, waivers: str, control_plane: str | None) -> float | None:
    """The audit score of the cluster plus its local control plane, with waivers: the one composition
    (``kubebook.audit.posture.posture``) that `kubebook audit` and the harden-audit runbook use too."""
    from kubebook.audit.posture import posture

    return (posture(cluster, control_plane=control_plane or "auto", waivers=waivers).score or {}).get("overall")


def _say(text: str) -> None:
    print(f"note: {text}", flush=True)


def _apply(args: argparse.Namespace) -> int:
    from kubebook.provision import plan
    from kubebook.provision.session import apply_overlay

    built = _built(args)
    if args.audit:
        from kubebook.audit import catalog
        from kubebook.audit.waivers import load_waivers

        load_waivers(args.audit, set(catalog.load_catalog()))  # a bad waivers file is refused before any change
    cluster = _cluster(args)
    if args.dry_run:
        _print_changes(plan(cluster, built.objects), False)
        return 0
    before = _score(cluster, args.audit, args.name) if args.audit else None
    report = apply_overlay(cluster, built, progress=None if args.quiet else _line, say=_say,
                           force=args.force_conflicts)
    if args.quiet:
        for entry in report.conflicts + report.failed:
            _line(entry)
    counts = ", ".join(f"{n} {a}" for a, n in report.counts().items() if n)
    reached = len(report.entries) == report.planned and not report.failed
    print(f"overlay {built.overlay}: {counts}" + ("" if reached else
          f"; INCOMPLETE ({len(report.entries)} of {report.planned} objects reached): re-run to finish") +
          (f"; {len(report.conflicts)} conflict(s): another owner's value kept (--force-conflicts takes those "
           "fields over)" if report.conflicts else ""))
    if args.audit and report.complete:
        after = _score(cluster, args.audit, args.name)
        print(f"audit score before provisioning: {_pct(before)}, after: {_pct(after)} (waivers: {args.audit})")
    return 0 if report.complete else 1


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _verify(args: argparse.Namespace) -> int:
    from kubebook.provision import summary, verify

    built = _built(args)
    cluster = _cluster(args)
    _pending(cluster)
    controls = verify(cluster, built, settle=args.settle)
    result = summary(controls)
    if args.json:
        print(json.dumps({"summary": result, "controls": [c._asdict() for c in controls]}, indent=2))
    else:
        for c in controls:
            print(f"{'PASS' if c.passed else 'FAIL'}  {c.control:12} {c.target:24} {c.check}: "
                  f"expected {c.expected}; {c.observed}")
        print(f"{result['total'] - result['failed']} of {result['total']} controls passed")
    if not controls:
        raise ParameterError(f"overlay {args.overlay!r} defines nothing to verify")
    return 0 if result["passed"] else 1


def _remove(args: argparse.Namespace) -> int:
    from kubebook.provision.session import remove_overlay

    built = _built(args)
    report = remove_overlay(_cluster(args), built, progress=_line, say=_say)
    counts = ", ".join(f"{n} {a}" for a, n in report.counts().items() if n)
    print(f"overlay {built.overlay} removed: {counts}" + (
        f"; {len(report.failed)} failed: re-run to finish" if report.failed else ""))
    return 1 if report.failed else 0
