"""`kubebook schedule` commands: list, validate, run, tick, daemon, run-all, render-cronjobs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubebook.cli.flags import add_target, export_context
from kubebook.errors import KubebookError, ParameterError

EPILOG = """\
schedules.yaml is validated completely before anything runs; every mistake is listed.
tick is safe to call from cron every minute: a schedule never runs twice at once
(concurrency_policy Forbid) and at most one missed due time is caught up.
"""


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text, epilog=EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True

    def add(command: str, handler: Any, help_text: str, *, runs: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(command, help=help_text, description=help_text)
        sub.add_argument("--file", type=Path, default=None,
                         help="schedule file (default: $KUBEBOOK_SCHEDULES or scheduled/schedules.yaml)")
        if runs:
            sub.add_argument("--archive", type=Path, default=None,
                             help="report archive (default: $KUBEBOOK_ARCHIVE, else reports/ under the "
                                  "repository root); the schedule "
                                  "state lives in $KUBEBOOK_STATE_DIR or <archive>/.schedule")
            add_target(sub, kubeconfig_help="kubeconfig the notebooks use (as in 'kubebook run')")
        sub.set_defaults(handler=handler)
        return sub

    add("list", _list, "list schedules with their next due time and last run")
    add("validate", _validate, "validate schedules.yaml and list every mistake", runs=False)
    run = add("run", _run, "run one schedule now (with its retries and notification)")
    run.add_argument("name", help="schedule name")
    tick = add("tick", _tick, "run the schedules that are due now; safe to call from cron every minute")
    tick.add_argument("--parallel", type=int, default=None, help="parallel runs (default: CPU cores)")
    tick.add_argument("--now", default=None, help="evaluate due times at this ISO time instead of now")
    daemon = add("daemon", _daemon, "tick every minute until SIGTERM/SIGINT (finishes runs in progress)")
    daemon.add_argument("--parallel", type=int, default=None, help="parallel runs (default: CPU cores)")
    run_all = add("run-all", _run_all, "run every enabled schedule once now, in parallel; print a summary")
    run_all.add_argument("--parallel", type=int, default=None, help="parallel runs (default: CPU cores)")
    render = add("render-cronjobs", _render, "write Kubernetes CronJob manifests for the schedules", runs=False)
    render.add_argument("--out", type=Path, default=Path("manifests/runner"), help="output folder")
    render.add_argument("--image", default=None, help="container image holding kubebook and this repository")
    render.add_argument("--namespace", default=None, help="namespace of the runner (default kubebook-runner)")
    render.add_argument("--storage", default="5Gi", help="size of the archive PVC")
    render.add_argument("--storage-class", default=None, help="storage class of the archive PVC (ReadWriteMany)")
    render.add_argument("--root", type=Path, default=Path("."),
                        help="repository root: notebook paths are taken relative to it (the image holds it "
                             "at /opt/kubebook)")
    render.add_argument("--real-node", action="store_true",
                        help="run the pods on the local cluster's real node ('kubebook cluster up --real-nodes 1'):"
                             " its toleration kubebook.io/real-node:NoSchedule and nodeSelector "
                             "kubebook.io/node-type=real")
    render.add_argument("--archive-host-path", metavar="PATH", default=None,
                        help="bind the archive PVC to a static hostPath PersistentVolume at this absolute folder "
                             "on the node (for clusters without a volume provisioner; create it owned by UID "
                             "10001 first: install -d -o 10001 -g 10001 PATH)")
    render.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the folder differs from a fresh rendering")


def _schedules(args: argparse.Namespace) -> list[Any]:
    from kubebook.schedule.model import default_schedules_file, load_schedules

    return load_schedules(args.file or default_schedules_file())


def _scheduler(args: argparse.Namespace, schedules: list[Any] | None = None) -> Any:
    from kubebook.archive import Archive
    from kubebook.schedule import Scheduler

    parallel = getattr(args, "parallel", None)
    if parallel is not None and parallel < 1:
        raise ParameterError(f"--parallel {parallel} must be at least 1", hint="e.g. --parallel 2")
    archive = Archive(args.archive).root.resolve()
    # Kernels inherit this, so a notebook that reads the archive (the report browser) reads this one.
    os.environ["KUBEBOOK_ARCHIVE"] = str(archive)
    export_context(args)
    return Scheduler(schedules if schedules is not None else _schedules(args), archive=archive,
                     kubeconfig=args.kubeconfig, parallel=parallel)


def _logging(level: int) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)


def _validate(args: argparse.Namespace) -> int:
    schedules = _schedules(args)
    print(f"{len(schedules)} schedule(s) valid")
    return 0


def _list(args: argparse.Namespace) -> int:
    from kubebook.schedule.due import next_due

    scheduler = _scheduler(args)
    now = datetime.now(UTC)
    rows = [("NAME", "CRON", "NOTEBOOK", "POLICY", "RETRIES", "NEXT DUE (UTC)", "LAST RUN (UTC)")]
    for schedule in scheduler.schedules:
        try:
            last = scheduler.store.read(schedule.name).last_run or {}
        except KubebookError:  # one broken state file: say so in its row, list the others
            last = {"status": "state unreadable (see 'schedule tick')"}
        when = last.get("ended") or last.get("started")
        last_text = f"{last.get('status')} {_short(when)}".strip() if last else "-"
        upcoming_at = next_due(schedule.cron_expression, now) if schedule.enabled else None
        upcoming = "disabled" if not schedule.enabled else (
            upcoming_at.strftime("%Y-%m-%d %H:%M") if upcoming_at else "never")
        rows.append((schedule.name, schedule.cron, schedule.notebook.name, schedule.concurrency_policy,
                     str(schedule.retries), upcoming, last_text))
    _print_table(rows)
    print(f"state: {scheduler.store.root}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from kubebook.schedule import find_schedule

    _logging(logging.WARNING)
    scheduler = _scheduler(args)
    result = scheduler.run_now(find_schedule(scheduler.schedules, args.name))
    _print_run(result)
    return result.last.exit_code if result.last else 1


def _tick(args: argparse.Namespace) -> int:
    _logging(logging.WARNING)
    now = _parse_now(args.now) if args.now else None
    report = _scheduler(args).tick(now)
    for run in report.runs:
        _print_run(run)
    if not report.runs:
        print("nothing due")
    if any(run.failed and run.error is None for run in report.runs):
        return 1  # a run failed
    return 2 if any(run.error is not None for run in report.runs) else 0  # a schedule's input (its state) is bad


def _daemon(args: argparse.Namespace) -> int:
    from kubebook.schedule.daemon import Daemon

    _logging(logging.INFO)

    def on_report(report: Any) -> None:
        for run in report.runs:
            _print_run(run)
        sys.stdout.flush()

    daemon = Daemon(lambda: _scheduler(args), on_report=on_report)
    daemon.install_signal_handlers()
    return daemon.run()


def _run_all(args: argparse.Namespace) -> int:
    from kubebook.archive import Archive

    _logging(logging.WARNING)
    scheduler = _scheduler(args)
    print(f"running {len(scheduler.schedules)} schedule(s), {scheduler.parallel} in parallel", flush=True)
    results = scheduler.run_all()
    rows = [("SCHEDULE", "STATUS", "ATTEMPTS", "SECONDS", "RUN ID / REASON")]
    for run in results:
        last = run.last
        seconds = f"{_seconds(run):.1f}" if last else "-"
        reason = run.error or run.skipped or (last.error if last else "") or ""
        rows.append((run.schedule, run.status, str(len(run.attempts)), seconds,
                     last.run_id if last and last.run_id else reason))
    _print_table(rows)
    failed = [run.schedule for run in results if run.failed]
    succeeded = sum(run.status == "succeeded" for run in results)
    print(f"{succeeded} succeeded, {len(results) - succeeded - len(failed)} skipped, {len(failed)} failed"
          + (f": {', '.join(failed)}" if failed else ""))
    print(f"report index: {Archive(scheduler.archive).write_index()}")
    return 1 if failed else 0


def _render(args: argparse.Namespace) -> int:
    from kubebook.schedule import cronjobs
    from kubebook.schedule.model import default_schedules_file

    file = args.file or default_schedules_file()
    schedules = _schedules(args)
    texts = cronjobs.render(schedules, root=args.root,
                            namespace=args.namespace or cronjobs.DEFAULT_NAMESPACE,
                            image=args.image or cronjobs.DEFAULT_IMAGE, storage=args.storage,
                            storage_class=args.storage_class, real_node=args.real_node,
                            archive_host_path=args.archive_host_path)
    if args.check:
        problems = cronjobs.differences(args.out, texts)
        for problem in problems:
            print(problem)
        if problems:
            print("run 'kubebook schedule render-cronjobs' to update them")
            return 1
        print(f"{args.out} matches {file}")
        return 0
    for path in cronjobs.write(args.out, texts):
        print(f"wrote {path}")
    namespace = args.namespace or cronjobs.DEFAULT_NAMESPACE
    for name, secrets in cronjobs.secret_parameters(schedules).items():
        secret = cronjobs.parameters_secret_name(name)
        literals = " ".join(f"--from-literal={key}=..." for key in secrets)
        print(f"schedule '{name}' reads secret parameter(s) {', '.join(secrets)} from Secret {namespace}/{secret} "
              f"(not written here); create it: kubectl -n {namespace} create secret generic {secret} {literals}")
    return 0


def _short(moment: str | None) -> str:
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""


def _parse_now(text: str) -> datetime:
    from kubebook.schedule.due import moment_problem

    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ParameterError(f"--now {text[:40]!r} is not an ISO date-time", hint="e.g. --now 2026-01-31T03:00Z") \
            from error
    problem = moment_problem(moment)
    if problem:
        raise ParameterError(f"--now {text!r} {problem}", hint="e.g. --now 2026-01-31T03:00Z")
    return moment


def _seconds(run: Any) -> float:
    start = datetime.fromisoformat(run.attempts[0].started)
    return (datetime.fromisoformat(run.attempts[-1].ended) - start).total_seconds()


def _print_run(run: Any) -> None:
    due = f" (due {run.due})" if run.due else ""
    if run.error is not None:
        print(f"{run.schedule}: error: {run.error}")
        return
    if run.skipped is not None:
        print(f"{run.schedule}{due}: {run.skipped}")
        return
    last = run.last
    attempts = f" after {len(run.attempts)} attempts" if len(run.attempts) > 1 else ""
    where = f" -> {last.run_dir}" if last.run_dir else ""
    error = f": {last.error}" if last.error and run.failed else ""
    print(f"{run.schedule}{due}: {run.status}{attempts}, run {last.run_id or '-'}{where}{error}")
    if run.notification is not None and not run.notification.delivered:
        print(f"{run.schedule}: notification not delivered ({run.notification.error}); the run is unaffected")


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
