"""Probes and actions that need the local control plane's own files: audit log, etcd, static pods.

Why separate: these labs read what only the machine running the control plane can see (the
API server's audit log, etcd's stored bytes, snapshot files), so they work against the local
control plane of this repository and say so plainly elsewhere. The control plane is found
from the kubeconfig's folder (``state.json`` beside it records each component's argv), so a
cluster under any ``$KUBEBOOK_DATA_DIR`` is found.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from kubebook.audit.cpcollect import parse_flags
from kubebook.errors import ParameterError
from kubebook.labs.probes import Context

TOOL_TIMEOUT = 60
NOT_LOCAL = "this cluster is not a kubebook local control plane, so {what} cannot be read from here"


def instances(ctx: Context) -> list[tuple[str, list[str]]]:
    """(component name, argv) of every process of the local control plane behind ``ctx.cluster``."""
    if ctx.cluster.kubeconfig is None:
        return []
    state = Path(ctx.cluster.kubeconfig).parent / "state.json"
    try:
        doc = json.loads(state.read_text())
    except (OSError, ValueError):
        return []
    found = []
    for instance, record in sorted((doc.get("components") or {}).items()):
        argv = list(record.get("argv") or [])
        if argv:
            found.append((Path(argv[0]).name or instance, argv))
    return found


def components(ctx: Context) -> dict[str, list[str]] | None:
    """Component name -> argv of its first instance (HA runs three API servers and etcd members), or None."""
    found: dict[str, list[str]] = {}
    for name, argv in instances(ctx):
        found.setdefault(name, argv)
    return found or None


def _apiserver_flags(ctx: Context) -> dict[str, str] | None:
    argvs = components(ctx)
    argv = (argvs or {}).get("kube-apiserver")
    return parse_flags(argv) if argv else None


def etcd_tool(ctx: Context, tool: str, *args: str, client: bool = True) -> str:
    """Run ``etcdctl`` (with the API server's etcd endpoints and client certificate) or ``etcdutl``."""
    argvs = components(ctx)
    flags = _apiserver_flags(ctx)
    if not argvs or not flags or "etcd" not in argvs:
        raise ParameterError(NOT_LOCAL.format(what="etcd"), hint="use the local cluster ('kubebook cluster up')")
    binary = Path(argvs["etcd"][0]).with_name(tool)
    command = [str(binary)]
    if client:
        endpoint = flags["--etcd-servers"].split(",")[0]  # snapshot save asks exactly one member
        command += [f"--endpoints={endpoint}", f"--cacert={flags['--etcd-cafile']}",
                    f"--cert={flags['--etcd-certfile']}", f"--key={flags['--etcd-keyfile']}"]
    result = subprocess.run(command + list(args), capture_output=True, timeout=TOOL_TIMEOUT, check=False,
                            env={**os.environ, "ETCDCTL_API": "3"})
    if result.returncode != 0:
        first = (result.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ParameterError(f"{tool} {' '.join(args[:2])} failed: {first}")
    return result.stdout.decode(errors="replace")  # stored values are bytes (encrypted ones are not UTF-8)


# --- actions a solution calls -------------------------------------------------------------------------

def etcd_snapshot_save(ctx: Context, *, file: str) -> str:
    """``etcdctl snapshot save`` into the trainee's workspace; returns the snapshot's path."""
    target = ctx.workspace / file
    target.parent.mkdir(parents=True, exist_ok=True)
    etcd_tool(ctx, "etcdctl", "snapshot", "save", str(target))
    return str(target)


def etcd_snapshot_restore(ctx: Context, *, snapshot: str, dir: str) -> str:
    """``etcdutl snapshot restore`` into a fresh data folder of the workspace (never the live one)."""
    target = ctx.workspace / dir
    if target.exists():
        import shutil

        shutil.rmtree(target)
    etcd_tool(ctx, "etcdutl", "snapshot", "restore", str(ctx.workspace / snapshot), "--data-dir", str(target),
              client=False)
    return str(target)


def set_flags(ctx: Context, *, file: str, set: dict[str, str] | None = None, remove: list[str] | None = None) -> str:
    """Edit the command line of a static pod manifest in the workspace, as one would with an editor."""
    from kubebook import yamlload

    path = ctx.workspace / file
    pod = yamlload.load(path.read_text())
    container = pod["spec"]["containers"][0]
    wanted = dict(set or {})
    command = []
    for arg in container.get("command") or []:
        name = arg.split("=", 1)[0]
        if name in (remove or []) or name in wanted:
            continue
        command.append(arg)
    command += [f"{k}={v}" for k, v in wanted.items()]
    container["command"] = command
    import yaml

    path.write_text(yaml.safe_dump(pod, sort_keys=False))
    return str(path)


ACTIONS = {"etcd_snapshot_save": etcd_snapshot_save, "etcd_snapshot_restore": etcd_snapshot_restore}


# --- probes -----------------------------------------------------------------------------------------------

def audit_events(ctx: Context, needle: str) -> list[dict[str, Any]] | None:
    """Audit events whose line mentions ``needle``, from every API server's log (HA runs three) and its
    rotated backups; None when there is no log to read."""
    logs = [parse_flags(argv).get("--audit-log-path") for name, argv in instances(ctx) if name == "kube-apiserver"]
    if not any(logs):
        return None
    files = []
    for log in sorted({p for p in logs if p}):
        path = Path(log)
        files += [*sorted(path.parent.glob(f"{path.stem}-*{path.suffix}")), path]
    events = []
    for file in files:
        try:
            with open(file, encoding="utf-8", errors="replace") as handle:
                events += [json.loads(line) for line in handle if needle in line]
        except OSError:
            continue
    return events


def audit_reader(ctx: Context, *, secret: dict[str, str], answer: dict[str, str], legitimate: list[str],
                 **_: Any) -> tuple[bool, str]:
    """The identity named in the trainee's answer is one the audit log shows reading the secret."""
    events = audit_events(ctx, secret["name"])
    if events is None:
        return False, NOT_LOCAL.format(what="the audit log")
    readers = set()
    for event in events:
        ref = event.get("objectRef") or {}
        if (ref.get("resource"), ref.get("namespace"), ref.get("name"), event.get("verb")) != \
                ("secrets", secret["namespace"], secret["name"], "get"):
            continue
        if (event.get("responseStatus") or {}).get("code") != 200:
            continue
        user = (event.get("impersonatedUser") or event.get("user") or {}).get("username")
        if user and user not in legitimate and not user.startswith("system:node"):
            readers.add(user)
    cm = ctx.cluster.get_object("v1", "ConfigMap", answer["configmap"], secret["namespace"]) or {}
    named = ((cm.get("data") or {}).get(answer["key"]) or "").strip()
    if not named:
        return False, f"no answer yet: ConfigMap {answer['configmap']} has no key {answer['key']}"
    if named in readers:
        return True, f"the audit log shows {named} reading Secret {secret['name']}"
    return False, f"the audit log shows no unexpected read of Secret {secret['name']} by {named}"


def etcd_encrypted(ctx: Context, *, secret: dict[str, str], **_: Any) -> tuple[bool, str]:
    """The bytes etcd stores for the Secret start with an encryption envelope (read back with etcdctl)."""
    if ctx.cluster.get_object("v1", "Secret", secret["name"], secret["namespace"]) is None:
        return False, f"Secret {secret['namespace']}/{secret['name']} does not exist"
    try:
        out = etcd_tool(ctx, "etcdctl", "get", f"/registry/secrets/{secret['namespace']}/{secret['name']}",
                        "--print-value-only", "--command-timeout=10s")
    except ParameterError as error:
        return False, str(error)
    head = out[:40]
    if head.startswith("k8s:enc:"):
        return True, "etcd stores it encrypted (" + ":".join(head.split(":")[:3]) + ")"
    return False, "etcd stores it in plain text"


def _key_in(path: Path, key: str) -> bool:
    with open(path, "rb") as handle:
        return key.encode() in handle.read()


def etcd_snapshot(ctx: Context, *, file: str, contains: str, **_: Any) -> tuple[bool, str]:
    """A snapshot file exists, etcdutl finds it sound, and it holds the key that must be recoverable."""
    path = ctx.workspace / file
    if not path.is_file():
        return False, f"no snapshot at {path}"
    try:
        status = json.loads(etcd_tool(ctx, "etcdutl", "snapshot", "status", str(path), "-w", "json", client=False))
    except (ParameterError, ValueError) as error:
        return False, f"etcdutl cannot read {path}: {error}"
    if not _key_in(path, contains):
        return False, f"the snapshot at {path} does not hold {contains} (take it after the ConfigMap exists)"
    return True, f"snapshot {path}: revision {status.get('revision')}, {status.get('totalKey')} keys, holds {contains}"


def etcd_restore(ctx: Context, *, dir: str, contains: str, snapshot: str | None = None, **_: Any) -> tuple[bool, str]:
    """A restored etcd data folder exists, etcdutl reads its database (same revision and key count as the
    snapshot, when there is one), and it holds the key."""
    db = ctx.workspace / dir / "member" / "snap" / "db"
    if not db.is_file():
        return False, f"no restored data folder at {ctx.workspace / dir} (member/snap/db is missing)"

    def status(path: Path) -> dict[str, Any]:
        return dict(json.loads(etcd_tool(ctx, "etcdutl", "snapshot", "status", str(path), "-w", "json",
                                         client=False)))
    try:
        restored = status(db)
        source = status(ctx.workspace / snapshot) if snapshot and (ctx.workspace / snapshot).is_file() else None
    except (ParameterError, ValueError) as error:
        return False, f"the restored database is not sound: {error}"
    if source and (source.get("revision"), source.get("totalKey")) != (restored.get("revision"),
                                                                         restored.get("totalKey")):
        return False, (f"the restored database (revision {restored.get('revision')}, {restored.get('totalKey')} keys) "
                       f"is not the snapshot (revision {source.get('revision')}, {source.get('totalKey')} keys)")
    if not _key_in(db, contains):
        return False, f"the restored database does not hold {contains}"
    folder = db.parent.parent.parent
    return True, f"restored data folder {folder}: revision {restored.get('revision')}, holds {contains}"


def cis(ctx: Context, *, folder: str, checks: list[str], **_: Any) -> tuple[bool, str]:
    """The audit's control-plane checks pass on the workspace's static pod manifests (``kubebook audit``)."""
    from kubebook.audit.engine import run_audit
    from kubebook.audit.sources import AuditInventory

    path = ctx.workspace / folder
    if not path.is_dir():
        return False, f"no manifests at {path} (reset the lab)"
    result = run_audit(AuditInventory.from_manifests(path))
    verdicts: dict[str, list[str]] = {c: [] for c in checks}
    for check, _resource, outcome, message, _waiver in result.rows.rows():
        if check.id in verdicts and outcome != "PASS":
            verdicts[check.id].append(message)
    failing = [f"{cid}: {'; '.join(msgs)}" for cid, msgs in verdicts.items() if msgs]
    seen = {check.id for check, *_ in result.rows.rows()}
    missing = [c for c in checks if c not in seen]
    if failing or missing:
        return False, "; ".join(failing + [f"{c}: not evaluated" for c in missing])
    return True, "kubebook audit passes " + ", ".join(checks)


PROBES = {"audit_reader": audit_reader, "etcd_encrypted": etcd_encrypted, "etcd_snapshot": etcd_snapshot,
          "etcd_restore": etcd_restore, "cis": cis}
