"""What does ``kubebook run`` cost over bare papermill on the same trivial notebook?

Both commands run as fresh processes, the way a user or a scheduler runs them,
alternating so that machine noise hits both alike:

* baseline: ``papermill --no-progress-bar trivial.ipynb out.ipynb``
* kubebook: ``kubebook run trivial.ipynb --archive DIR --no-progress``
  (parameter validation, execution, redaction, secret scan, HTML report,
  results.json, sealed folder, ledger entry and index included)

It prints both medians and their ratio; the target is <= 1.25.
``--bytes`` also measures the archive bytes per run: the trivial notebook and a
charted one (a plotly figure, the way views draw headless), each run twice into
one archive, reporting each run folder and the shared ``assets/`` folder
(plotly.js and the report CSS, stored once per archive).
``--suite`` also runs the suite-throughput section (``run_overhead_suite.py``,
written by the scheduler's owner) when that file exists.

Usage: ``.venv/bin/python benchmarks/run_overhead.py [--runs 7] [--check] [--bytes] [--suite]``
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "trivial.ipynb"
BIN = Path(sys.executable).parent
TARGET = 1.25


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


# Diagnostic: the same `kubebook run` handler behind a parser that loads only the `run` group, to tell
# the runner's own cost from the start-up cost of the other command groups' module imports.
RUN_GROUP_ONLY = """
import sys
from kubebook.cli import HintingParser, run_cmd
parser = HintingParser(prog="kubebook")
run_cmd.register(parser.add_subparsers(parser_class=HintingParser), "run", "run")
args = parser.parse_args(sys.argv[1:])
raise SystemExit(args.handler(args))
"""


def run_overhead(runs: int) -> dict[str, float]:
    """Median seconds of bare papermill, ``kubebook run`` and the run-group-only diagnostic."""
    work = Path(tempfile.mkdtemp(prefix="kubebook-bench-"))
    try:
        args = ["run", str(NOTEBOOK), "--archive", str(work / "archive"), "--no-progress"]
        commands = {
            "papermill": [str(BIN / "papermill"), "--no-progress-bar", str(NOTEBOOK), str(work / "out.ipynb")],
            "kubebook": [str(BIN / "kubebook"), *args],
            "run_group_only": [sys.executable, "-c", RUN_GROUP_ONLY, *args],
        }
        for command in commands.values():
            _timed(command)  # warm the OS file cache and the template cache; not counted
        times: dict[str, list[float]] = {name: [] for name in commands}
        order = list(commands)
        for i in range(runs):
            for name in order[i % len(order):] + order[:i % len(order)]:  # rotate who goes first
                times[name].append(_timed(commands[name]))
        count = len(list((work / "archive").glob("trivial/*/*/*")))
        if count != 2 * (runs + 1):
            raise SystemExit(f"expected {2 * (runs + 1)} archived runs, found {count}")
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)  # sealed folders are read-only, but root may delete


CHART_CELLS = ["from kubebook.views import configure_plotly\nconfigure_plotly()",
               "import plotly.express as px\npx.line(x=list(range(points)), y=[i * i for i in range(points)])"]


def _chart_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("points = 50  # how many points")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Chart"), params,
                *(nbformat.v4.new_code_cell(source) for source in CHART_CELLS)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kubebook"] = {"title": "Chart", "description": "benchmark", "category": "test",
                               "risk": "readonly", "rbac": [], "parameters": {
                                   "type": "object", "properties": {"points": {"type": "integer", "default": 50}}}}
    path = folder / "chart.ipynb"
    nbformat.write(nb, path)
    return path


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def archive_bytes() -> None:
    """Bytes per run folder and in the shared assets, for the trivial and a charted notebook (2 runs each)."""
    work = Path(tempfile.mkdtemp(prefix="kubebook-bench-bytes-"))
    try:
        archive = work / "archive"
        for notebook in (NOTEBOOK, _chart_notebook(work)):
            for _ in range(2):
                subprocess.run([str(BIN / "kubebook"), "run", str(notebook), "--archive", str(archive),
                                "--no-progress"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            folders = sorted(archive.glob(f"{notebook.stem}/*/*/*"))
            sizes = ", ".join(f"{_bytes(f):,}" for f in folders)
            print(f"  {notebook.stem}: bytes per run folder {sizes}")
        print(f"  shared assets (stored once per archive): {_bytes(archive / 'assets'):,} bytes in "
              f"{len(list((archive / 'assets').iterdir()))} file(s)")
        print(f"  whole archive after 4 runs: {_bytes(archive):,} bytes")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def suite_throughput() -> int:
    """Slot for the suite-throughput benchmark: ``benchmarks/run_overhead_suite.py``'s ``main()``."""
    path = Path(__file__).with_name("run_overhead_suite.py")
    if not path.exists():
        print("suite throughput: benchmarks/run_overhead_suite.py is not there yet; skipped")
        return 0
    spec = importlib.util.spec_from_file_location("run_overhead_suite", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main() or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (at least 5)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the ratio exceeds {TARGET}")
    parser.add_argument("--suite", action="store_true", help="also run the suite-throughput section")
    parser.add_argument("--bytes", action="store_true", help="also measure archive bytes per run")
    args = parser.parse_args(argv)
    runs = max(args.runs, 5)
    medians = run_overhead(runs)
    bare, ours, lean = medians["papermill"], medians["kubebook"], medians["run_group_only"]
    ratio = ours / bare
    print(f"single run, trivial notebook, median of {runs} runs each")
    print(f"  bare papermill: {bare:.3f} s")
    print(f"  kubebook run:   {ours:.3f} s  (archive, HTML, results.json, ledger, index included)")
    print(f"  ratio:          {ratio:.3f}  (target <= {TARGET})")
    print(f"  diagnostic, kubebook run with only the run group imported: {lean:.3f} s "
          f"(ratio {lean / bare:.3f}); the difference is other command groups' import time")
    code = 1 if args.check and ratio > TARGET else 0
    if args.bytes:
        print("archive bytes per run")
        archive_bytes()
    if args.suite:
        code = max(code, suite_throughput())
    return code


if __name__ == "__main__":
    raise SystemExit(main())
