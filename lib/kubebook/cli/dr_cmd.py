"""`kubebook dr`: etcd snapshots, restore, drills and namespace backup/restore (a thin shell over kubebook.dr)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kubebook.cli.flags import add_name, add_target
from kubebook.localcluster.paths import DEFAULT_NAME


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _emit(data: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(data, indent=1, default=str))
    else:
        print("\n".join(lines))


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True

    p = commands.add_parser("snapshot", help="save, check and archive an etcd snapshot; optional defrag and retention")
    _name(p)
    _archive(p)
    p.add_argument("--no-trial", action="store_true", help="skip the trial restore into a scratch dir")
    p.add_argument("--defrag", action="store_true", help="defragment every member first (sizes before/after)")
    for flag in ("keep-last", "keep-daily", "keep-weekly", "keep-monthly"):
        p.add_argument(f"--{flag}", type=int, default=0, help="retention after the snapshot (0: not used)")
    p.add_argument("--list", action="store_true", help="only list archived snapshots")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_snapshot)

    p = commands.add_parser("verify", help="re-check a snapshot: SHA-256s, etcdutl status, trial restore")
    p.add_argument("snapshot", nargs="?", default="latest", help="run id (prefix), 'latest' or a file path")
    _archive(p)
    p.add_argument("--no-trial", action="store_true", help="skip the trial restore")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_verify)

    p = commands.add_parser("restore", help="restore a local cluster's etcd from a snapshot (destructive)")
    _name(p)
    _archive(p)
    p.add_argument("--snapshot", default="latest", help="run id (prefix), 'latest' verified, or a file path")
    p.add_argument("--confirm", default="", help="the cluster's name again: a restore replaces all of its data")
    p.add_argument("--replace-with-snapshot-of", metavar="CLUSTER", default=None,
                   help="restore a snapshot taken from CLUSTER (another cluster): every object of --name is "
                        "replaced by CLUSTER's, whose Secrets --name's API server cannot decrypt unless it has "
                        "the same key")
    p.add_argument("--resume", action="store_true", help="finish an interrupted restore (the snapshot it journaled)")
    p.add_argument("--rollback", action="store_true",
                   help="undo an interrupted restore: put the etcd data from before it back")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_restore)

    p = commands.add_parser("drill", help="full-cluster drill (snapshot, disaster, restore, compare) or --member-loss")
    _name(p)
    _archive(p)
    p.add_argument("--probe-objects", type=int, default=0,
                   help="ConfigMaps to write after the snapshot (the RPO list must name them)")
    p.add_argument("--member-loss", action="store_true", help="the HA member-loss drill instead (ha clusters)")
    p.add_argument("--writes", type=int, default=20, help="writes per phase of the member-loss drill")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(handler=_drill)

    p = commands.add_parser("backup", help="back up namespaces into a checksummed file, Secrets encrypted")
    _target(p)
    p.add_argument("--namespace", "-n", action="append", default=[], help="namespace to back up (repeatable)")
    p.add_argument("--selector", "-l", default=None, help="label selector, e.g. app=shop")
    p.add_argument("--include-kind", action="append", default=[], help="only these kinds (repeatable)")
    p.add_argument("--exclude-kind", action="append", default=[], help="never these kinds (repeatable)")
    p.add_argument("--out", "-o", default="", help="backup file (default: <first namespace>-<time>.tar.gz)")
    p.add_argument("--key-file", default=None, help="AES-256 key (base64) for Secrets; or $KUBEBOOK_DR_KEY")
    p.add_argument("--new-key", metavar="FILE", default=None, help="write a new key to FILE (0600) and exit")
    p.add_argument("--partial", action="store_true",
                   help="back up what this account may read; kinds it may not list are named in the manifest")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_backup)

    p = commands.add_parser("restore-namespace", help="restore a namespace backup (ordered, mapped, resumable)")
    _target(p)
    p.add_argument("backup", help="the backup file (its .sha256 must be beside it)")
    p.add_argument("--map", action="append", default=[], metavar="SRC=DST", help="namespace mapping (repeatable)")
    p.add_argument("--policy", choices=["skip", "update"], default="skip", help="for objects that already exist")
    p.add_argument("--key-file", default=None, help="the backup's key (or $KUBEBOOK_DR_KEY)")
    p.add_argument("--trial", action="store_true",
                   help="restore into scratch namespaces, diff against the backup, delete them")
    p.add_argument("--dry-run", action="store_true", help="only show what would be created or changed")
    p.add_argument("--confirm-cluster", default=None, help="needed when the target is not a kubebook local cluster")
    p.add_argument("--workers", type=int, default=8,
                   help="parallel requests per restore step (at most the client's connection pool)")
    p.add_argument("--with-crds", action="store_true",
                   help="also create the backup's CRDs where missing (never in a built-in group, never updated)")
    p.add_argument("--allow-system-namespace", action="append", default=[], metavar="NS",
                   help="restore into this system namespace (kube-system, kube-*) too (repeatable)")
    from kubebook.dr.bundle import MAX_OBJECTS_BYTES

    p.add_argument("--max-size", type=int, default=MAX_OBJECTS_BYTES // 2**20, metavar="MIB",
                   help=f"refuse a backup whose objects unpack to more than MIB (default {MAX_OBJECTS_BYTES // 2**20})")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_restore_namespace)


def _name(parser: argparse.ArgumentParser) -> None:
    add_name(parser, default=DEFAULT_NAME, help_text=f"local cluster name (default {DEFAULT_NAME!r})")


def _archive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default=None, help="report archive holding snapshots ($KUBEBOOK_ARCHIVE)")


def _target(parser: argparse.ArgumentParser) -> None:
    add_target(parser)


def _snapshot(args: argparse.Namespace) -> int:
    from kubebook.archive import Archive
    from kubebook.dr import etcd, snapshots

    archive = Archive(args.archive)
    if args.list:
        found = [s.as_dict() for s in snapshots.list_snapshots(archive, args.name)]
        _emit({"snapshots": found}, args.json, [f"{s['run_id']}  {s['taken'][:19]}  rev {s['revision']:>10,}  "
                                                f"{s['size']:>12,} B  {'verified' if s['verified'] else 'FAILED'}"
                                                for s in found] or ["no snapshots"])
        return 0
    target = etcd.EtcdTarget.local(args.name)
    out: dict[str, Any] = {}
    if args.defrag:
        result = etcd.defrag(target)
        out["defrag"] = {**result._asdict(), "reclaimed": result.reclaimed}
    snap = snapshots.take(target, cluster=args.name, archive=archive, trial=not args.no_trial)
    out["snapshot"] = snap.as_dict()
    if any((args.keep_last, args.keep_daily, args.keep_weekly, args.keep_monthly)):
        out["retention"] = snapshots.prune(keep_last=args.keep_last, keep_daily=args.keep_daily,
                                           keep_weekly=args.keep_weekly, keep_monthly=args.keep_monthly,
                                           archive=archive)
    lines = [f"snapshot {snap.run_id}: revision {snap.revision:,}, {snap.total_keys:,} keys, {snap.size:,} bytes, "
             f"{'verified' if snap.verified else 'FAILED its checks'}", f"  {snap.path}"]
    if "defrag" in out:
        lines.insert(0, f"defrag: {sum(out['defrag']['before'].values()):,} -> "
                        f"{sum(out['defrag']['after'].values()):,} bytes")
    if "retention" in out:
        lines.append(f"retention: removed {len(out['retention']['remove'])} snapshot(s)")
    _emit(out, args.json, lines)
    return 0 if snap.verified else 1


def _verify(args: argparse.Namespace) -> int:
    from kubebook.archive import Archive
    from kubebook.dr import snapshots

    archive = Archive(args.archive)
    snap = snapshots.find(args.snapshot, archive)
    checks = snapshots.verify(snap, archive=archive, trial=not args.no_trial)
    status = checks["status"]
    _emit({"snapshot": snap.run_id or str(snap.path), "ok": True, "checks": checks}, args.json,
          [f"snapshot {snap.run_id or snap.path}: ok (SHA-256 matches, etcd hash "
           f"{'ok' if checks['embedded_hash'] else 'absent'}, revision {status['revision']:,}"
           f"{', trial restore ok' if 'trial_restore' in checks else ''})"])
    return 0


def _restore(args: argparse.Namespace) -> int:
    from kubebook.archive import Archive
    from kubebook.dr import etcdrestore
    from kubebook.errors import ParameterError

    progress = None if args.json else _progress
    if args.resume and args.rollback:
        raise ParameterError("--resume and --rollback exclude each other", hint="give one of them")
    if args.resume:
        result = etcdrestore.resume(args.name, progress=progress)
    elif args.rollback:
        result = etcdrestore.rollback(args.name, progress=progress)
    else:
        result = etcdrestore.restore(args.name, snapshot=args.snapshot, archive=Archive(args.archive),
                                     confirm=args.confirm, replace_with_snapshot_of=args.replace_with_snapshot_of,
                                     progress=progress)
    lines = [f"{result.action} {args.name!r} ({result.snapshot}) in {result.seconds:.1f}s"]
    if result.cross_cluster:
        lines.append(f"  from cluster {result.cross_cluster['from']!r}: lost {result.cross_cluster['lost']}")
    _emit(result.as_json(), args.json, lines)
    return 0


def _drill(args: argparse.Namespace) -> int:
    from kubebook.archive import Archive
    from kubebook.dr import drill, hadrill

    progress = None if args.json else _progress
    if args.member_loss:
        ha = hadrill.run_member_loss(args.name, writes=args.writes, progress=progress)
        _emit(ha.as_json(), args.json, [f"member-loss drill {ha.status}: recovery {ha.recovery_seconds:.1f}s",
                                        f"quorum error: {ha.quorum_error}", *ha.problems])
        return 0 if ha.status == "passed" else 1
    result = drill.run_drill(args.name, archive=Archive(args.archive), probe_objects=args.probe_objects,
                             progress=progress)
    data = result.as_json()
    lines = [f"drill {data['status']}: {data['restored']} of {data['expected']} objects restored, "
             f"RTO {data['rto_seconds']:.1f}s, {data['rpo_objects']} object(s) created after the snapshot"]
    lines += [f"  lost {x['kind']}/{x['namespace']}/{x['name']} ({x['reason']})" for x in data["lost"]]
    _emit(data, args.json, lines)
    return 0 if not data["lost"] else 1


def _backup(args: argparse.Namespace) -> int:
    from kubebook.dr import bundle

    if args.new_key:
        from kubebook.fsutil import atomic_write_bytes

        path = Path(args.new_key)
        if path.exists():
            from kubebook.errors import ParameterError

            raise ParameterError(f"{path} exists; a key file is never overwritten")
        atomic_write_bytes(path, (bundle.new_key() + "\n").encode(), 0o600)
        print(path)
        return 0
    from datetime import UTC, datetime

    from kubebook import cluster
    from kubebook.dr import backup

    key = bundle.load_key(args.key_file)
    kube = cluster.connect(args.kubeconfig, args.context)
    first = (args.namespace or ["backup"])[0]
    out = Path(args.out or f"{first}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar.gz")
    result = backup.backup(kube, args.namespace, out, key=key, label_selector=args.selector,
                           include_kinds=args.include_kind, exclude_kinds=args.exclude_kind, partial=args.partial)
    _emit(result._asdict(), args.json, [f"backed up {result.objects} object(s) ({result.sealed_secrets} Secret(s) "
                                        f"sealed) to {result.path} in {result.seconds:.1f}s",
                                        *(f"  skipped {n}: {why}" for why, n in result.skipped.items()),
                                        *([f"  PARTIAL backup: {len(result.unreadable)} kind(s) could not be read: "
                                           + ", ".join(f"{u['plural']} in {u['namespace']}"
                                                       for u in result.unreadable)] if result.partial else [])])
    return 0


def _restore_namespace(args: argparse.Namespace) -> int:
    from kubebook import cluster
    from kubebook.dr import bundle, restore, safety
    from kubebook.errors import ParameterError

    if args.max_size < 1:
        raise ParameterError(f"--max-size {args.max_size} is not a size in MiB", hint="e.g. --max-size 1024")
    cap = args.max_size * 2**20
    key = bundle.load_key(args.key_file)
    bundle.read(args.backup, max_bytes=cap).opened(key)  # checksums, bounds and key before connecting anywhere
    kube = cluster.connect(args.kubeconfig, args.context)
    scope = {"include_crds": args.with_crds, "allow_system": args.allow_system_namespace, "max_bytes": cap}
    if args.dry_run:
        changes = restore.plan(kube, args.backup, key=key, mapping=args.map, policy=args.policy, **scope)
        _emit({"changes": [c._asdict() for c in changes]}, args.json,
              [f"{c.action:9} {c.key}" for c in changes])
        return 0
    target = safety.require_local_or_confirmed(kube, args.confirm_cluster, "restore")
    if args.trial:
        result, diffs = restore.trial(kube, args.backup, key=key, max_bytes=cap)
        different = [d for d in diffs if d.action != "unchanged"]
        _emit({"target": target, "counts": result.counts, "differences": [d._asdict() for d in different]},
              args.json, [f"trial restore on {target}: {result.counts}; {len(different)} difference(s)",
                          *(d.diff or f"{d.action} {d.key}" for d in different)])
        return 0 if not different and not result.failed else 1
    result = restore.restore(kube, args.backup, key=key, mapping=args.map, policy=args.policy,
                             workers=args.workers, **scope)
    _emit({"target": target, "counts": result.counts, "seconds": result.seconds,
           "objects_per_second": result.objects_per_second, "journal": result.journal_note,
           "failed": [o._asdict() for o in result.failed]}, args.json,
          [f"restored into {target}: {result.counts} in {result.seconds:.1f}s "
           f"({result.objects_per_second}/s)", *([f"  {result.journal_note}"] if result.journal_note else []),
           *(f"  failed {o.key}: {o.reason}" for o in result.failed)])
    return 0 if not result.failed else 1
