"""`kubebook run NOTEBOOK`: validate parameters, execute headless, archive the report.

The exit code says how the run ended: 0 succeeded, 1 a cell failed, 2 invalid
parameters (no kernel started), 3 timeout, 4 the kernel died, 5 a secret leaked
(artifacts quarantined).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubebook.cli.flags import add_target

EPILOG = ("exit codes: 0 succeeded, 1 cell error, 2 invalid parameters, 3 timeout, 4 kernel died, "
          "5 secret leaked (quarantined). -p values are parsed as YAML for non-string parameters "
          "(like papermill -y): '-p replicas 3' is an integer, '-p dry_run false' a boolean.")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def register(groups: argparse._SubParsersAction, name: str, help_text: str) -> None:
    parser = groups.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
    parser.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the .ipynb to run")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a parameter (repeatable); overrides -f")
    parser.add_argument("--parameter-env", nargs=2, action="append", default=[], metavar=("NAME", "VAR"),
                        help="set parameter NAME to the value of environment variable VAR, as -p would "
                             "(repeatable): keeps a secret out of the command line and passes values that "
                             "start with '-'; rendered CronJobs use it")
    parser.add_argument("-f", "--parameters-file", type=Path, metavar="FILE", help="YAML file of parameters")
    add_target(parser, kubeconfig_help="kubeconfig for the notebook (given to the kernel as $KUBEBOOK_KUBECONFIG; "
                                       "--context as $KUBEBOOK_CONTEXT)")
    parser.add_argument("--timeout", type=_seconds, metavar="S", help="whole-run limit; the kernel is killed")
    parser.add_argument("--cell-timeout", type=_seconds, metavar="S", help="limit for any one cell")
    parser.add_argument("--archive", type=Path, metavar="DIR",
                        help="report archive (default: $KUBEBOOK_ARCHIVE, else reports/ under the repository "
                             "root; relative paths are taken from the repository root)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="validate and inject parameters, write the notebook, do not execute")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="where --prepare-only writes (default: NOTEBOOK-STEM.prepared.ipynb here)")
    parser.add_argument("--help-params", action="store_true", help="list the notebook's parameters and exit")
    parser.add_argument("--show-code", action="store_true", help="include code cells in the HTML report")
    parser.add_argument("--output-cap", metavar="SIZE",
                        help="keep at most SIZE of cell output (e.g. 32M, 512K; 0 = no cap); past it output is "
                             "dropped with a marker, the run goes on (default: $KUBEBOOK_OUTPUT_CAP or 32M)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run)


def _parameters(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """-f, then -p and --parameter-env (strings, coerced by the schema type during validation)."""
    from kubebook.errors import ParameterError
    from kubebook.runner.params import load_params_file

    environ = os.environ if environ is None else environ
    # Read once, then dropped from this process so the kernel does not inherit a secret in its environment.
    values: dict[str, Any] = load_params_file(args.parameters_file) if args.parameters_file else {}
    for name, value in args.parameter:
        values[name] = value
    for name, variable in args.parameter_env:
        if variable not in environ:
            raise ParameterError(f"--parameter-env {name} {variable}: environment variable {variable} is not set",
                                 hint=f"export {variable} (a CronJob sets it from its Secret reference)")
        values[name] = environ[variable]
    if environ is os.environ:
        for _, variable in args.parameter_env:
            os.environ.pop(variable, None)
    return values


def _run(args: argparse.Namespace) -> int:
    from kubebook import runner

    if args.help_params:
        print(runner.describe_parameters(args.notebook))
        return 0
    parameters = _parameters(args)
    if args.prepare_only:
        output = args.output or Path(f"{args.notebook.stem}.prepared.ipynb")
        path = runner.prepare_notebook(args.notebook, parameters, output)
        print(f"prepared {path} (not executed; secret parameters written as ***REDACTED***)")
        return 0
    from kubebook.cli.flags import export_context

    export_context(args)
    outcome = runner.run_notebook(args.notebook, parameters, archive=args.archive, kubeconfig=args.kubeconfig,
                                  timeout=args.timeout, cell_timeout=args.cell_timeout, trigger="cli",
                                  progress=not args.no_progress, show_code=args.show_code,
                                  output_cap=args.output_cap)
    seconds = (outcome.ended - outcome.started).total_seconds()
    stream = sys.stdout if outcome.exit_code == 0 else sys.stderr
    stream.write(f"run {outcome.run_id} {outcome.status} in {seconds:.1f} s (exit {outcome.exit_code})\n")
    if outcome.error:
        stream.write(f"  {outcome.error}\n")
    if outcome.run_dir is not None:
        from kubebook.archive.store import HTML

        label = "quarantined artifacts" if outcome.status == "leaked" else "report"
        target = outcome.run_dir if outcome.status == "leaked" else outcome.run_dir / HTML
        stream.write(f"  {label}: {target}\n")
        if outcome.status != "leaked":
            stream.write(f"  index: {outcome.run_dir.parents[3] / 'index.html'}\n")
    return outcome.exit_code
