"""`kubebook lab`: list, start, check, hint, reset and follow the training labs; start JupyterLab for them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from kubebook.cli.flags import add_name, add_target


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text)
    cluster = argparse.ArgumentParser(add_help=False)
    add_target(cluster)
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

    jupyter = commands.add_parser(
        "jupyter", help="start JupyterLab on 127.0.0.1 whose kernels and terminals use the local cluster "
                        "(KUBECONFIG) and kubebook's kubectl (first on PATH)")
    add_name(jupyter, default="default", help_text="local cluster (default: default)")
    jupyter.add_argument("--port", type=int, default=8888, metavar="N", help="port on 127.0.0.1 (default 8888)")
    jupyter.add_argument("--root", default=".", metavar="DIR", help="folder JupyterLab serves (default: here)")
    jupyter.add_argument("--no-browser", action="store_true", help="do not open a browser (print the URL only)")
    jupyter.add_argument("--dry-run", action="store_true",
                         help="print the command and the variables it sets as JSON; start nothing")
    jupyter.set_defaults(handler=_jupyter)


def _connect(args: argparse.Namespace) -> Any:
    from kubebook.cli.flags import connect

    return connect(args)


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
        spent = row["seconds"] if row["finished"] else row.get("elapsed_seconds")
        took = "-" if spent is None else f"{spent // 60}m{spent % 60:02d}s"
        state = "not started" if row["started"] is None else "finished" if row["finished"] else "in progress"
        sys.stdout.write(f"{row['lab']:28} {row['steps_passed']}/{row['steps']} steps  {row['hints_used']} hints  "
                         f"{took:>8}  {state}\n")
    return 0


def jupyter_command(name: str, port: int, root: str, browser: bool = True) -> tuple[list[str], dict[str, str]]:
    """The JupyterLab command line and its environment: KUBECONFIG (and KUBEBOOK_KUBECONFIG) = the local
    cluster's admin kubeconfig, kubebook's kubectl folder first on PATH, the venv's bin (``kubebook``) next.
    Kernels and terminals inherit the server's environment. Bad input is a ParameterError (exit 2)."""
    from kubebook.errors import LocalClusterError, ParameterError
    from kubebook.labs.toolchain import built_kubectl, environment
    from kubebook.localcluster.paths import NAME_PATTERN, kubeconfig_path

    if not NAME_PATTERN.match(name):
        raise ParameterError(f"cluster name {name!r} is invalid", hint="lowercase letters, digits and '-'")
    if not 1 <= port <= 65535:
        raise ParameterError(f"--port {port} is not a TCP port", hint="1-65535, for example 8888")
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise ParameterError(f"--root {root} is not a folder", hint="the folder with labs/ (this repository)")
    kubeconfig = kubeconfig_path(name)
    if not kubeconfig.is_file():
        raise LocalClusterError(f"local cluster {name!r} has no kubeconfig ({kubeconfig})",
                                hint=f"start it with 'kubebook cluster up --name {name}'")
    kubectl = built_kubectl()
    if kubectl is None:
        from kubebook.errors import BuildError

        raise BuildError("kubebook's kubectl is not built", hint="run 'kubebook cluster build'")
    env = environment(kubeconfig, kubectl)
    venv_bin = str(Path(sys.executable).parent)
    parts = env["PATH"].split(os.pathsep)
    env["PATH"] = os.pathsep.join([parts[0], venv_bin] + [p for p in parts[1:] if p != venv_bin])
    # terminals run $SHELL as is: jupyter-server-terminals makes it a login shell when its stdout is not a tty,
    # and a login shell's /etc/profile resets PATH (kubebook's kubectl would be gone again)
    shell = json.dumps([env.get("SHELL") or "/bin/sh"])
    argv = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.terminado_settings=shell_command={shell}",
            f"--ServerApp.root_dir={folder.resolve()}", *([] if browser else ["--no-browser"]),
            *(["--allow-root"] if os.geteuid() == 0 else [])]
    return argv, env


def _jupyter(args: argparse.Namespace) -> int:
    argv, env = jupyter_command(args.name, args.port, args.root, browser=not args.no_browser)
    if args.dry_run:
        print(json.dumps({"argv": argv, "env": {k: env[k] for k in ("KUBECONFIG", "KUBEBOOK_KUBECONFIG", "PATH")}},
                         indent=1))
        return 0
    print(f"JupyterLab on http://127.0.0.1:{args.port}/ - terminals and kernels use KUBECONFIG={env['KUBECONFIG']} "
          f"and {env['PATH'].split(os.pathsep)[0]}/kubectl", flush=True)
    os.execvpe(argv[0], argv, env)
    return 0  # pragma: no cover - exec does not return
