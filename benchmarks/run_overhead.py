"""What does ``kubebook run`` cost over bare papermill on the same trivial notebook?

Both commands run as fresh processes, the way a user or a scheduler runs them,
alternating so that machine noise hits both alike:

* baseline: ``papermill --no-progress-bar trivial.ipynb out.ipynb``
* kubebook: ``kubebook run trivial.ipynb --archive DIR --no-progress``
  (parameter validation, execution, redaction, secret scan, HTML report,
  results.json, sealed folder, ledger entry and index included)

It prints both medians and their ratio; the target is <= 1.25.
``--suite`` also runs the suite-throughput section (``run_overhead_suite.py``,
written by the scheduler's owner) when that file exists.

Usage: ``.venv/bin/python benchmarks/run_overhead.py [--runs 7] [--check] [--suite]``
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


def run_overhead(runs: int) -> tuple[float, float]:
    """Median seconds of (bare papermill, kubebook run) over ``runs`` alternating runs each."""
    work = Path(tempfile.mkdtemp(prefix="kubebook-bench-"))
    try:
        papermill = [str(BIN / "papermill"), "--no-progress-bar", str(NOTEBOOK), str(work / "out.ipynb")]
        kubebook = [str(BIN / "kubebook"), "run", str(NOTEBOOK), "--archive", str(work / "archive"),
                    "--no-progress"]
        _timed(papermill)  # warm the OS file cache for both; not counted
        _timed(kubebook)
        bare: list[float] = []
        ours: list[float] = []
        for i in range(runs):
            pair = [(bare, papermill), (ours, kubebook)]
            for sink, command in pair if i % 2 == 0 else reversed(pair):
                sink.append(_timed(command))
        count = len(list((work / "archive").glob("trivial/*/*/*")))
        if count != runs + 1:
            raise SystemExit(f"expected {runs + 1} archived runs, found {count}")
        return statistics.median(bare), statistics.median(ours)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # sealed folders are read-only, but root may delete


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
    args = parser.parse_args(argv)
    runs = max(args.runs, 5)
    bare, ours = run_overhead(runs)
    ratio = ours / bare
    print(f"single run, trivial notebook, median of {runs} runs each")
    print(f"  bare papermill: {bare:.3f} s")
    print(f"  kubebook run:   {ours:.3f} s  (archive, HTML, results.json, ledger, index included)")
    print(f"  ratio:          {ratio:.3f}  (target <= {TARGET})")
    code = 1 if args.check and ratio > TARGET else 0
    if args.suite:
        code = max(code, suite_throughput())
    return code


if __name__ == "__main__":
    raise SystemExit(main())
