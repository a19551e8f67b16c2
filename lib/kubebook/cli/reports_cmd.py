"""`kubebook reports`: list, show, verify and prune the archived run reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kubebook.errors import ArchiveError


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--archive", type=Path, metavar="DIR",
                        help="report archive (default: $KUBEBOOK_ARCHIVE, else reports/ under the "
                             "repository root; relative paths are taken from the repository root)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True

    listing = commands.add_parser("list", parents=[common], help="list archived runs, newest first")
    listing.add_argument("--runbook", metavar="R", help="only this runbook (its name or notebook path)")
    listing.add_argument("--status", metavar="S",
                         choices=["succeeded", "failed", "timeout", "kernel_died", "interrupted"],
                         help="only this status")
    listing.add_argument("--since", metavar="D", help="only runs started since D (7d, 12h, 2026-01-31 ...)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", parents=[common], help="show one run's results")
    show.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    show.add_argument("--json", action="store_true", help="print results.json as is")
    show.set_defaults(handler=_show)

    verify = commands.add_parser("verify", parents=[common],
                                 help="check every artifact and ledger entry; exit 1 naming what changed")
    verify.set_defaults(handler=_verify)

    prune = commands.add_parser("prune", parents=[common],
                                help="delete old runs (keep-last-N and grandfather-father-son); never the "
                                     "last successful run of a runbook")
    for flag, what in (("--keep-last", "the N newest runs"), ("--keep-daily", "the newest run of N days"),
                       ("--keep-weekly", "the newest run of N weeks"),
                       ("--keep-monthly", "the newest run of N months")):
        prune.add_argument(flag, type=int, default=0, metavar="N", help=f"keep {what} (per runbook)")
    prune.add_argument("--runbook", metavar="R", help="only prune this runbook (its name or notebook path)")
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    prune.set_defaults(handler=_prune)

    index = commands.add_parser("index", parents=[common], help="regenerate index.html and index.json")
    index.set_defaults(handler=_index)


def _archive(args: argparse.Namespace) -> Any:
    from kubebook.archive import Archive

    return Archive(args.archive)


def _list(args: argparse.Namespace) -> int:
    runs = _archive(args).list_runs(runbook=args.runbook, status=args.status, since=args.since)
    if args.json:
        print(json.dumps([r.to_dict(absolute=True) for r in runs], indent=1))
        return 0
    if not runs:
        print("no runs archived" + (" match" if args.runbook or args.status or args.since else ""))
        return 0
    print(f"{'RUN':<24} {'RUNBOOK':<24} {'STATUS':<12} {'STARTED (UTC)':<20} {'DURATION':>9}  TRIGGER")
    for r in runs:
        duration = "" if r.duration is None else f"{r.duration:.1f} s"
        print(f"{r.run_id:<24} {r.runbook:<24} {r.status:<12} {r.started:%Y-%m-%d %H:%M:%S}  "
              f"{duration:>9}  {r.trigger}")
    return 0


def _show(args: argparse.Namespace) -> int:
    archive = _archive(args)
    record = archive.find(args.run)
    results = archive.results(record.run_id)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    lines = [f"run        {results.get('run_id')}  ({results.get('runbook')})",
             f"status     {results.get('status')} (exit {results.get('exit_code')})"]
    if results.get("error"):
        lines.append(f"error      {results['error']}")
    lines += [f"started    {results.get('started')}", f"duration   {results.get('duration_seconds')} s",
              f"ran by     {results.get('ran_by')} via {results.get('trigger')}",
              f"notebook   {results.get('notebook')} (git {results.get('git_commit') or 'n/a'})",
              f"cluster    {_cluster(results)}",
              f"parameters {json.dumps(results.get('parameters', {}))}", "records"]
    lines += [f"  {k} = {json.dumps(v)}" for k, v in (results.get("records") or {}).items()] or ["  (none)"]
    lines.append(f"report     {record.run_dir / 'report.html'}")
    print("\n".join(lines))
    return 0


def _cluster(results: dict) -> str:
    cluster = results.get("cluster") if isinstance(results.get("cluster"), dict) else {}
    named = " ".join(str(cluster[k]) for k in ("name", "server") if cluster.get(k))
    fingerprint = results.get("cluster_fingerprint")
    return " ".join(p for p in (named, f"(fingerprint {fingerprint})" if fingerprint else "") if p) or "none configured"


def _verify(args: argparse.Namespace) -> int:
    archive = _archive(args)
    problems = archive.verify()
    count, head = archive.head()
    for problem in problems:
        print(problem)
    if problems:
        raise ArchiveError(f"{len(problems)} problem(s) in {archive.root}",
                           hint="the files named above do not match the ledger")
    runs = len(archive.list_runs())
    print(f"archive {archive.root} OK: {runs} run(s), ledger {count} entries, head sha256 {head}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    archive = _archive(args)
    plan = archive.prune(keep_last=args.keep_last, keep_daily=args.keep_daily, keep_weekly=args.keep_weekly,
                         keep_monthly=args.keep_monthly, runbook=args.runbook, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for run in plan.remove:
        print(f"{verb} {run.run_id} ({run.runbook}, {run.status})")
    print(f"{verb} {len(plan.remove)} run(s), kept {len(plan.keep)}")
    return 0


def _index(args: argparse.Namespace) -> int:
    print(_archive(args).write_index())
    return 0
