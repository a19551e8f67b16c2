"""`kubebook lab`: list, start, check, hint, reset and follow the training labs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument("--cluster", metavar="KUBECONFIG", help="kubeconfig (default: the usual resolution)")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--trainee", metavar="NAME", help="whose progress ($KUBEBOOK_TRAINEE, else your login name)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    commands.required = True

    listing = commands.add_parser("list", help="the catalogue: id, title, notebooks, steps")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    start = commands.add_parser("start", parents=[cluster, who],
                                help="set a lab up (unless already in progress) and say where its notebook is")
    start.add_argument("lab", metavar="ID")
    start.set_defaults(handler=_start)

    check = commands.add_parser("check", parents=[cluster, who],
                                help="verify a lab's steps; exit 0 only when every step passes")
    check.add_argument("lab", metavar="ID")
    check.add_argument("--step", metavar="STEP", help="only this step")
    check.add_argument("--wait", type=float, default=0.0, metavar="S",
                       help="re-check failing steps for up to S seconds (policies reach caches a moment late)")
    check.add_argument("--json", action="store_true", help='print {"lab", "steps": [{"id", "passed", "reason"}]}')
    check.set_defaults(handler=_check)

    hint = commands.add_parser("hint", parents=[who], help="reveal the next hint of a step")
    hint.add_argument("lab", metavar="ID")
    hint.add_argument("step", metavar="STEP")
    hint.set_defaults(handler=_hint)

    reset = commands.add_parser("reset", parents=[cluster, who],
                                help="restore a lab's starting state (its own namespaces only)")
    reset.add_argument("lab", metavar="ID")
    reset.set_defaults(handler=_reset)

    status = commands.add_parser("status", parents=[who], help="steps passed, time taken, hints used")
    status.add_argument("lab", metavar="ID", nargs="?")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)


def _connect(args: argparse.Namespace) -> Any:
    from kubebook.cluster import connect

    return connect(args.cluster or None)


def _list(args: argparse.Namespace) -> int:
    from kubebook.labs.model import catalog

    rows = [{"id": lab.id, "title": lab.title, "notebook": lab.notebook, "solution": lab.solution,
             "steps": [s.id for s in lab.steps], "minutes": lab.minutes, "domain": lab.domain,
             "prerequisites": list(lab.prerequisites)} for lab in catalog().values()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(f"{row['id']:28} {row['minutes']:3} min  {len(row['steps'])} steps  {row['title']}")
    return 0


def _start(args: argparse.Namespace) -> int:
    from kubebook import labs

    lab = labs.model.get(args.lab)  # a bad id is an error before connecting
    labs.start(_connect(args), lab.id, who=args.trainee)
    print(f"lab {lab.id} is ready in namespace(s) {', '.join(lab.namespaces)}")
    print(f"notebook: {lab.notebook}")
    if lab.workspace_files or lab.needs_local_cluster:
        print(f"workspace: {labs.workspace(lab.id, args.trainee)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from kubebook import labs

    lab = labs.model.get(args.lab)
    if args.step:
        lab.step(args.step)
    if args.wait < 0:
        from kubebook.errors import ParameterError

        raise ParameterError("--wait must not be negative")
    result = labs.check(_connect(args), lab.id, args.step, who=args.trainee, wait=args.wait)
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
    else:
        for step in result.steps:
            print(f"{'PASS' if step.passed else 'FAIL'} {step.id}: {step.reason}")
    return 0 if result.passed else 1


def _hint(args: argparse.Namespace) -> int:
    from kubebook import labs

    for number, text in enumerate(labs.hint(args.lab, args.step, who=args.trainee), 1):
        print(f"{number}. {text}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    import time

    from kubebook import labs

    lab = labs.model.get(args.lab)
    began = time.monotonic()
    labs.reset(_connect(args), lab.id, who=args.trainee)
    print(f"lab {lab.id} reset to its starting state in {time.monotonic() - began:.1f} s "
          f"(namespaces {', '.join(lab.namespaces)})")
    return 0


def _status(args: argparse.Namespace) -> int:
    from kubebook import labs

    rows = labs.status(args.lab, who=args.trainee)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        took = "-" if row["seconds"] is None else f"{row['seconds'] // 60}m{row['seconds'] % 60:02d}s"
        state = "not started" if row["started"] is None else "finished" if row["finished"] else "in progress"
        sys.stdout.write(f"{row['lab']:28} {row['steps_passed']}/{row['steps']} steps  {row['hints_used']} hints  "
                         f"{took:>8}  {state}\n")
    return 0
